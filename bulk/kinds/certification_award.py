"""Certification award: award certifications to users, from a file or from the Award Users dialog.

Columns Certification ID, User ID, Issue date, Expiration date, Always valid, Association type and
External activity. Validation is per row: an unknown user or certification, a date that does not
parse, an expiration before the issue date or an unknown association type is that row's Error; a
user who already holds the certification is Skipped. An administrator whose grant is restricted to
org units or groups may award only to users inside them.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from access.permissions import AWARD_CERTIFICATIONS
from access.policy import scope_of
from base.cells import parse_date, yes_no_blank
from base.keys import Matches, match_keys
from base.sql import fetch, in_values, tuple_set
from base.sql import table as db_table
from credentials.awarding import AwardTerms, association_type_named, create_awards, holders_among
from credentials.models import Award, Certification
from credentials.picks import PickedOutcome, Picks, award_picked
from credentials.services import withdraw_awards
from people.models import Group, User

from ..intake import Column, Row, Table
from ..kind import Change, JobKind, Leftover, Plan, StagedRow, UploadPage, Validation
from ..models import JobRow
from ..services import submit_rows
from ..staging import count_keys, mark_repeats, mark_seqs, mark_succeeded

if TYPE_CHECKING:
    from ..models import Job

CERTIFICATION_ID = "Certification ID"
USER_ID = "User ID"
ISSUE_DATE = "Issue date"
EXPIRATION_DATE = "Expiration date"
ALWAYS_VALID = "Always valid"
ASSOCIATION_TYPE = "Association type"
EXTERNAL_ACTIVITY = "External activity"
STATUS = "Status"
REPEATS = "Same user and certification as row {first}; only row {first} is used."


@functools.lru_cache(maxsize=64)
def parse_association(text: str) -> str:
    found = association_type_named(text)
    if found is None:
        raise ValueError(
            f"'{text}' is not an association type: use Manually awarded, Course/learning plan completion or "
            "External training activity."
        )
    return found


def _stored(terms: AwardTerms) -> list[Any]:
    """Terms as a staged row keeps them (JSON)."""
    return [
        terms.issue_date.isoformat(),
        terms.expiration_date.isoformat() if terms.expiration_date else None,
        terms.always_valid,
        terms.association_type,
        terms.external_activity,
    ]


class CertificationAward(JobKind):
    slug = "certification-award"
    label = "Certification award"
    tool_name = "Award Users"
    permission = AWARD_CERTIFICATIONS
    permission_name = "Award and edit certifications"
    trail = (("Certifications", "web:certifications"), ("Jobs", "web:jobs"))
    # The generic upload page, at the Certifications page's own address.
    upload = UploadPage(
        heading="Award certifications from a file",
        url_name="web:award-file",
        validated_message="The file was validated: nothing was awarded. The rows below say what would happen.",
        queued_message="The awards are queued. You will receive an email with the results file.",
    )
    columns = [
        Column(CERTIFICATION_ID, max_length=100, help="The certification to award."),
        Column(USER_ID, max_length=100, help="The User ID of the user to award it to."),
        Column(
            ISSUE_DATE, required=False, blank_ok=True, parse=parse_date, help="YYYY-MM-DD; today when empty."
        ),
        Column(
            EXPIRATION_DATE,
            required=False,
            blank_ok=True,
            parse=parse_date,
            help="YYYY-MM-DD; from the certification's validity when empty.",
        ),
        Column(
            ALWAYS_VALID,
            required=False,
            blank_ok=True,
            max_length=20,
            parse=yes_no_blank(ALWAYS_VALID),
            help="Yes for an award that never expires.",
        ),
        Column(
            ASSOCIATION_TYPE,
            required=False,
            blank_ok=True,
            parse=parse_association,
            help="Manually awarded (when empty), Course/learning plan completion or External training activity.",
        ),
        Column(
            EXTERNAL_ACTIVITY,
            required=False,
            blank_ok=True,
            help="The external training activity's name, for that type.",
        ),
    ]
    # Upload size and rows: CERTDESK_AWARD_MAX_BYTES and CERTDESK_AWARD_MAX_ROWS.
    extensions = (".csv", ".txt", ".xml", ".xlsx")
    strict = False
    key_column = USER_ID
    result_labels = {
        "pending": "Not processed",
        "succeeded": "Awarded",
        "skipped": "Skipped",
        "error": "Error",
    }
    preview_labels = {"pending": "Would award", "skipped": "Skipped", "error": "Error"}
    outcome_messages = {"succeeded": "Awarded."}
    restorable = True
    restore_labels = {
        "pending": "Not processed",
        "succeeded": "Removed",
        "skipped": "Skipped",
        "error": "Error",
    }
    restore_messages = {"succeeded": "The award made by job {restore_of} is removed."}

    target_label = "Certification"
    change_fields = (STATUS, ISSUE_DATE, EXPIRATION_DATE, ASSOCIATION_TYPE, EXTERNAL_ACTIVITY)

    def target_names(self, ids: Sequence[int]) -> dict[int, str]:
        return {pk: str(c) for pk, c in Certification.objects.in_bulk(list(ids)).items()}

    def changes(self, job: Job, rows: Sequence[StagedRow]) -> dict[int, Change]:
        if job.params.get("restore_of"):
            return {row.seq: Change("Would remove", {STATUS: "Active"}, {STATUS: "Removed"}) for row in rows}
        changes = {}
        for row in rows:
            issue, expiration, always, association, external = row.data
            changes[row.seq] = Change(
                "Would award",
                {STATUS: "Not held"},
                {
                    STATUS: "Active",
                    ISSUE_DATE: issue,
                    EXPIRATION_DATE: "Always valid" if always else expiration or "",
                    ASSOCIATION_TYPE: str(Award.AssociationType(association).label),
                    EXTERNAL_ACTIVITY: external,
                },
            )
        return changes

    def validation(self, actor: User) -> AwardValidation:
        return AwardValidation(actor, self)

    def _terms(self, values: dict[str, Any], certification: Certification, today: dt.date) -> AwardTerms:
        issue = values[ISSUE_DATE] or today
        always = values[ALWAYS_VALID]
        expiration = values[EXPIRATION_DATE]
        if expiration is None and always is None:
            expiration = certification.default_expiration(issue)
            always = expiration is None
        return AwardTerms(
            issue_date=issue,
            expiration_date=expiration,
            always_valid=bool(always),
            association_type=values[ASSOCIATION_TYPE] or Award.AssociationType.MANUAL,
            external_activity=values[EXTERNAL_ACTIVITY] or "",
        )

    def _certifications(self, table: Table, known: dict[int, Certification]) -> Matches[Certification]:
        """Certification ID -> certification, matched as base.keys says; ``known`` keeps the
        certifications already read, so that a file's few are read once, not once a batch."""
        codes = {row.values[CERTIFICATION_ID] for row in table.rows if row.values[CERTIFICATION_ID]}
        matches = match_keys(codes, f"SELECT {{column}}, id FROM {db_table(Certification)}", "code")
        unread = {pk for (pk,) in matches.found.values()} - known.keys()
        if unread:
            known.update(Certification.objects.in_bulk(sorted(unread)))
        return Matches(
            {code: known[pk] for code, (pk,) in matches.found.items() if pk in known},
            matches.taken_as,
            matches.ambiguous,
        )

    def _users(self, table: Table) -> Matches[tuple[Any, ...]]:
        """User ID -> (user pk, username), matched as base.keys says."""
        keys = {row.values[USER_ID] for row in table.rows if row.values[USER_ID]}
        return match_keys(keys, f"SELECT {{column}}, id, username FROM {db_table(User)}", "user_id")

    def _outside_scope(self, actor: User, user_ids: list[int]) -> set[int]:
        """The users of the file the actor may not award to (constrained grants only): two queries."""
        scope = scope_of(actor, self.permission)
        if scope.everywhere or not user_ids:
            return set()
        inside: set[int] = set()
        named, param = in_values("user_id", user_ids)
        if scope.units:
            units, units_param = in_values("orgunit_id", sorted(scope.units))
            membership = db_table(User.org_units.through)
            inside |= {
                pk
                for (pk,) in fetch(
                    f"SELECT DISTINCT user_id FROM {membership} WHERE {named} AND {units}",
                    [param, units_param],
                )
            }
        if scope.groups:
            groups, groups_param = in_values("group_id", sorted(scope.groups))
            members = db_table(Group.members.through)
            inside |= {
                pk
                for (pk,) in fetch(
                    f"SELECT DISTINCT user_id FROM {members} WHERE {named} AND {groups}",
                    [param, groups_param],
                )
            }
        return set(user_ids) - inside

    def apply_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        pending = self.pending_rows(job, lo, hi)
        awards = []
        # Most rows of a job share their terms: each distinct one becomes one AwardTerms, which the
        # rows then share.
        built: dict[tuple[Any, ...], AwardTerms] = {}
        for _, user_id, certification_id, data in pending:
            said = tuple(data)
            terms = built.get(said)
            if terms is None:
                issue, expiration, always, association, external = data
                terms = built[said] = AwardTerms(
                    dt.date.fromisoformat(issue),
                    dt.date.fromisoformat(expiration) if expiration else None,
                    bool(always),
                    association,
                    external,
                )
            awards.append((user_id, certification_id, terms))
        done = set(create_awards(awards, actor_id=job.created_by_id, job_id=job.pk, now=now))
        mark_succeeded(job, lo, hi, [seq for seq, u, c, _ in pending if (u, c) in done], len(pending))
        # Still pending: the user was awarded the certification since the file was checked.
        return [
            Leftover(
                JobRow.Outcome.SKIPPED,
                "The user holds the certification already (awarded since the file was checked); left as it is.",
            )
        ]

    restore_object_type = "credentials.award"

    def restore_objects(self, job: Job, rows: Sequence[tuple[int, int, int, Any]]) -> dict[int, list[int]]:
        pairs, param = tuple_set(
            sorted({(user, certification) for _, user, certification, _ in rows}), ("bigint", "bigint")
        )
        awards: dict[tuple[int, int], list[int]] = {}
        for pk, user, certification in fetch(
            f"SELECT a.id, a.user_id, a.certification_id FROM ({pairs}) p JOIN {db_table(Award)} a "
            "ON a.user_id = p.c0 AND a.certification_id = p.c1",
            [param],
        ):
            awards.setdefault((user, certification), []).append(pk)
        return {seq: awards.get((user, certification), []) for seq, user, certification, _ in rows}

    def apply_restore_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        pending = self.pending_rows(job, lo, hi)
        changed = self.changed_since_job(job, pending)
        left_alone = {seq for leftover in changed for seq in leftover.seqs or ()}
        pending = [row for row in pending if row[0] not in left_alone]
        done = set(
            withdraw_awards(
                [(u, c) for _, u, c, _ in pending],
                awarded_by_job_id=job.params["restore_of"],
                actor_id=job.created_by_id,
                job_id=job.pk,
                now=now,
            )
        )
        mark_seqs(job, [seq for seq, u, c, _ in pending if (u, c) in done], JobRow.Outcome.SUCCEEDED)
        return [
            *changed,
            Leftover(
                JobRow.Outcome.SKIPPED,
                f"Not removed: the award made by job {job.params['restore_of']} has been changed or removed since.",
            ),
        ]

    def example_rows(self) -> list[list[str]]:
        return [
            ["CERT-001", "U000123", "2026-03-12", "", "", "Manually awarded", ""],
            ["CERT-001", "U000456", "2026-03-12", "2027-03-12", "", "", ""],
            [
                "CERT-009",
                "U000789",
                "2026-02-01",
                "",
                "Yes",
                "External training activity",
                "Regional training day",
            ],
        ]


class AwardValidation(Validation):
    """Each row's user, certification and terms, a batch at a time; across batches it keeps the terms
    already checked. A row repeating an earlier (user, certification) pair is found once the rows are
    staged."""

    def __init__(self, actor: User, kind: CertificationAward) -> None:
        super().__init__(actor)
        self.kind = kind
        self.today = timezone.localdate()
        self.checked: dict[tuple[Any, ...], tuple[AwardTerms, list[str], list[Any]]] = {}
        self.counts = {"would_award": 0, "skipped": 0, "errors": 0}
        self.certifications: set[int] = set()
        self.read: dict[int, Certification] = {}

    def check(self, rows: list[Row]) -> list[StagedRow]:
        kind = self.kind
        batch = Table(header=[], rows=rows, warnings=[])
        certification_matches = kind._certifications(batch, self.read)
        user_matches = kind._users(batch)
        certifications, users = certification_matches.found, user_matches.found
        # Keys typed in another case get a note on each of their rows; there are seldom any.
        taken = bool(certification_matches.taken_as or user_matches.taken_as)
        outside = kind._outside_scope(self.actor, [pk for pk, _ in users.values()])
        today = self.today

        wanted: list[tuple[StagedRow, int, int]] = []
        checked = self.checked
        if len(checked) > 10_000:
            checked.clear()  # each distinct set of terms is checked once; a file of all different ones
        counts = self.counts
        staged_rows: list[StagedRow] = []
        for row in rows:
            values = row.values
            code, user_key = values[CERTIFICATION_ID], values[USER_ID]
            staged = StagedRow(seq=row.seq, row_number=row.row_number, cells=row.cells, key=user_key or "")
            staged_rows.append(staged)
            errors = [p.message for p in row.problems]
            certification = certifications.get(code or "")
            user = users.get(user_key or "")
            if code and certification is None:
                errors.append(
                    f"Certification ID not recognised: '{code}' could be any of "
                    f"{certification_matches.candidates(code)}, which differ only in case; write it exactly."
                    if code in certification_matches.ambiguous
                    else f"Certification ID not recognised: no certification has the ID '{code}'."
                )
            if user_key and user is None:
                errors.append(
                    f"User ID not recognised: '{user_key}' could be any of {user_matches.candidates(user_key)}, "
                    "which differ only in case; write it exactly."
                    if user_key in user_matches.ambiguous
                    else f"User ID not recognised: no user has the User ID '{user_key}'."
                )
            elif user is not None and user[0] in outside:
                errors.append(
                    f"'{user_key}' is outside the organisation units and groups you may award certifications in."
                )
            terms = None
            if certification is not None and not any(
                p.column not in (CERTIFICATION_ID, USER_ID) for p in row.problems
            ):
                # Most files repeat a few terms: each distinct one is built and checked once.
                said = (
                    certification.pk,
                    values[ISSUE_DATE],
                    values[EXPIRATION_DATE],
                    values[ALWAYS_VALID],
                    values[ASSOCIATION_TYPE],
                    values[EXTERNAL_ACTIVITY],
                )
                if said not in checked:
                    built = kind._terms(values, certification, today)
                    checked[said] = (built, [p.message for p in built.problems()], _stored(built))
                terms, problems, stored = checked[said]
                errors += problems
            if errors:
                staged.outcome, staged.message = JobRow.Outcome.ERROR, " ".join(dict.fromkeys(errors))
                counts["errors"] += 1
                continue
            assert certification is not None and user is not None and terms is not None
            pair = (user[0], certification.pk)
            staged.user_id, staged.target_id = pair
            staged.data = stored
            if taken:
                notes = (
                    user_matches.note(user_key, "User ID"),
                    certification_matches.note(code, "Certification ID"),
                )
                staged.message = " ".join(n for n in notes if n)
            wanted.append((staged, *pair))

        self._held_skipped(wanted, {c.pk: c.code for c in certifications.values()})
        return staged_rows

    def _held_skipped(self, wanted: list[tuple[StagedRow, int, int]], codes: dict[int, str]) -> None:
        """Skip the rows whose user holds their certification already, and count every outcome."""
        held = holders_among((user_id, certification_id) for _, user_id, certification_id in wanted)
        self.certifications.update(certification_id for _, _, certification_id in wanted)
        counts = self.counts
        for staged, user_id, certification_id in wanted:
            if (user_id, certification_id) in held:
                staged.outcome = JobRow.Outcome.SKIPPED
                staged.message = (
                    f"'{staged.key}' already holds {codes[certification_id]}; the award is left as it is."
                )
                staged.data = None
                counts["skipped"] += 1
            else:
                counts["would_award"] += 1

    def staged(self, job: Job) -> bool:
        pair = ["user_id", "target_id"]
        if not count_keys(job, pair).repeats:
            return False
        mark_repeats(job, pair, JobRow.Outcome.SKIPPED, REPEATS)
        outcomes = job.outcome_counts()
        self.counts = {
            "would_award": outcomes[JobRow.Outcome.PENDING],
            "skipped": outcomes[JobRow.Outcome.SKIPPED],
            "errors": outcomes[JobRow.Outcome.ERROR],
        }
        return True

    def finish(self) -> Plan:
        self.summary = {**self.counts, "certifications": len(self.certifications)}
        return super().finish()


class PickedValidation(AwardValidation):
    """The rows of Award Users: one certification and its checked terms for users the picks resolved
    inside the actor's scope, each row's User ID known to be one of them. What a file's rows are
    checked for is true of these by construction; whether each user holds the certification by now is
    checked as for a file."""

    def __init__(
        self,
        actor: User,
        kind: CertificationAward,
        certification: Certification,
        terms: AwardTerms,
        users: dict[str, int],
    ) -> None:
        super().__init__(actor, kind)
        self.certification = certification
        self.stored = _stored(terms)
        self.users = users

    def check(self, rows: list[Row]) -> list[StagedRow]:
        certification_id, stored, users = self.certification.pk, self.stored, self.users
        staged_rows = []
        wanted = []
        for row in rows:
            key = row.cells[1]
            user_id = users[key]
            staged = StagedRow(
                seq=row.seq,
                row_number=row.row_number,
                cells=row.cells,
                key=key,
                user_id=user_id,
                target_id=certification_id,
                data=stored,
            )
            staged_rows.append(staged)
            wanted.append((staged, user_id, certification_id))
        self._held_skipped(wanted, {certification_id: self.certification.code})
        return staged_rows


def award_users(
    certification: Certification, picks: Picks, terms: AwardTerms, *, actor: Any
) -> PickedOutcome:
    """Award Users, as the dialog and the API do it: up to IMMEDIATE_LIMIT users at once, more as a
    certification-award job of the rows the picks stand for (no file is written for it)."""
    outcome = award_picked(certification, picks, terms, actor=actor)
    if not outcome.deferred:
        return outcome
    named, param = in_values("id", outcome.deferred)
    users = dict(fetch(f"SELECT user_id, id FROM {db_table(User)} WHERE {named}", [param]))
    keys = sorted(users)
    terms = terms.checked()
    fixed = [
        terms.issue_date.isoformat(),
        terms.expiration_date.isoformat() if terms.expiration_date else "",
        "Yes" if terms.always_valid else "No",
        Award.AssociationType(terms.association_type).label,
        terms.external_activity,
    ]
    outcome.job = submit_rows(
        CertificationAward.slug,
        ([certification.code, key, *fixed] for key in keys),
        actor=actor,
        title=f"Award {certification.code} to {len(outcome.deferred):,} users",
        comment="Started from Award Users.",
        start=True,
        checked=PickedValidation(actor, CertificationAward(), certification, terms, users),
    ).job
    return outcome
