"""Awarding certifications — by hand, from a file, or automatically on a completion — and editing,
unassigning and reinstating awards. Every path, page, API or job, goes through these functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from audit.services import record, record_bulk
from bulk.lookups import fetch, table, tuple_set, value_set
from bulk.problems import InputProblems, Problem

from .models import Award, Certification
from .services import remove_awards

ASSOCIATION_NAMES = {
    # What a file or a form may say, folded, -> the association type.
    "manual": Award.AssociationType.MANUAL,
    "manually awarded": Award.AssociationType.MANUAL,
    "activity completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "activity_completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "course completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "learning plan completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "course/learning plan completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "external training": Award.AssociationType.EXTERNAL_TRAINING,
    "external_training": Award.AssociationType.EXTERNAL_TRAINING,
    "external training activity": Award.AssociationType.EXTERNAL_TRAINING,
}


# Looked up once: the choices list is rebuilt on every access to ``.values``.
ASSOCIATION_TYPES = frozenset(Award.AssociationType.values)


class AwardInputError(InputProblems):
    """Terms of an award that cannot stand."""


@dataclass(frozen=True)
class AwardTerms:
    """What an award says besides who and which certification."""

    issue_date: dt.date
    expiration_date: dt.date | None
    always_valid: bool = False
    association_type: str = Award.AssociationType.MANUAL
    external_activity: str = ""

    def problems(self) -> list[Problem]:
        """Everything wrong with these terms, each naming its field."""
        found = []
        if self.always_valid and self.expiration_date is not None:
            found.append(
                Problem(
                    "expiration_with_always_valid",
                    "An award that is always valid has no expiration date: clear one or the other.",
                    column="Expiration date",
                    value=self.expiration_date.isoformat(),
                )
            )
        if self.expiration_date is not None and self.expiration_date < self.issue_date:
            found.append(
                Problem(
                    "expiration_before_issue",
                    f"The expiration date {self.expiration_date.isoformat()} is before the issue date "
                    f"{self.issue_date.isoformat()}.",
                    column="Expiration date",
                    value=self.expiration_date.isoformat(),
                )
            )
        if not self.always_valid and self.expiration_date is None:
            found.append(
                Problem(
                    "expiration_required",
                    "Give an expiration date, or flag the award as always valid.",
                    column="Expiration date",
                )
            )
        if self.association_type not in ASSOCIATION_TYPES:
            found.append(
                Problem(
                    "unknown_association_type",
                    f"'{self.association_type}' is not an association type.",
                    column="Association type",
                    value=self.association_type,
                )
            )
        if (
            self.association_type == Award.AssociationType.EXTERNAL_TRAINING
            and not self.external_activity.strip()
        ):
            found.append(
                Problem(
                    "external_activity_required",
                    "Name the external training activity that was completed.",
                    column="External activity",
                )
            )
        if len(self.external_activity) > 200:
            found.append(
                Problem(
                    "external_activity_too_long",
                    "The external activity's name can be up to 200 characters.",
                    column="External activity",
                    value=self.external_activity[:50] + "…",
                )
            )
        return found

    def checked(self) -> AwardTerms:
        """These terms, tidied (no activity name unless external), or AwardInputError."""
        problems = self.problems()
        if problems:
            raise AwardInputError(problems)
        external = (
            self.external_activity.strip()
            if self.association_type == Award.AssociationType.EXTERNAL_TRAINING
            else ""
        )
        return AwardTerms(
            self.issue_date, self.expiration_date, self.always_valid, self.association_type, external
        )


def default_terms(
    certification: Certification,
    issue_date: dt.date,
    association_type: str = Award.AssociationType.MANUAL,
    external_activity: str = "",
) -> AwardTerms:
    """Terms from the certification's validity: expires after it, or always valid."""
    expiration = certification.default_expiration(issue_date)
    return AwardTerms(issue_date, expiration, expiration is None, association_type, external_activity)


def association_type_named(text: str) -> str | None:
    """The association type a file or form names, in any of its usual spellings."""
    return ASSOCIATION_NAMES.get(" ".join(text.replace("-", " ").split()).casefold())


def create_awards(
    awards: Sequence[tuple[int, int, AwardTerms]],
    *,
    actor_id: int | None,
    job_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[tuple[int, int]]:
    """Award (user, certification, terms); returns the (user, certification) pairs awarded.

    Set-based: one INSERT … SELECT … RETURNING and one audit INSERT whatever the number. A user who
    already holds the certification is left alone — the partial unique index on active awards makes
    that true even for two requests at the same moment.
    """
    if not awards:
        return []
    now = now or timezone.now()
    groups: dict[tuple[int, AwardTerms], list[int]] = {}
    for user_id, certification_id, terms in awards:
        groups.setdefault((certification_id, terms), []).append(user_id)
    awards_table = table(Award)
    at = connection.ops.adapt_datetimefield_value(now)
    insert = (
        f"INSERT INTO {awards_table} (user_id, certification_id, issue_date, expiration_date, always_valid, "
        "association_type, external_activity, status, awarded_by_id, awarded_by_job_id, created_at, updated_at) "
    )
    guard = (
        f"WHERE NOT EXISTS (SELECT 1 FROM {awards_table} held WHERE held.user_id = w.c0 "
        "AND held.certification_id = w.c1 AND held.status = 'active') "
        "ON CONFLICT DO NOTHING RETURNING id, user_id, certification_id"
    )
    created: list[tuple[Any, ...]] = []
    if len(groups) <= GROUPED_STATEMENTS:
        # The usual case (Award Users, a file of one date): the users travel as one list, the terms
        # as parameters — far less to unpack per row than every row's terms.
        for (certification_id, terms), user_ids in groups.items():
            users, users_param = value_set(user_ids)
            created += fetch(
                f"{insert} SELECT w.value, %s, %s, %s, %s, %s, %s, 'active', %s, %s, %s, %s "
                f"FROM ({users}) w " + guard.replace("w.c0", "w.value").replace("w.c1", "%s"),
                [
                    certification_id,
                    connection.ops.adapt_datefield_value(terms.issue_date),
                    connection.ops.adapt_datefield_value(terms.expiration_date),
                    terms.always_valid,
                    terms.association_type,
                    terms.external_activity,
                    actor_id,
                    job_id,
                    at,
                    at,
                    users_param,
                    certification_id,
                ],
            )
    else:
        rows = [
            (
                user_id,
                certification_id,
                terms.issue_date.isoformat(),
                terms.expiration_date.isoformat() if terms.expiration_date else None,
                terms.always_valid,
                terms.association_type,
                terms.external_activity,
            )
            for user_id, certification_id, terms in awards
        ]
        wanted, wanted_param = tuple_set(
            rows, ("bigint", "bigint", "date", "date", "boolean", "text", "text")
        )
        created = fetch(
            f"{insert} SELECT w.c0, w.c1, w.c2, w.c3, w.c4, w.c5, w.c6, 'active', %s, %s, %s, %s FROM ({wanted}) w "
            + guard,
            [actor_id, job_id, at, at, wanted_param],
        )
    if created:
        record_bulk(
            "award.awarded",
            Award,
            [pk for pk, _, _ in created],
            actor_id=actor_id,
            job_id=job_id,
            before=None,
            after={"status": "active"},
            now=now,
        )
    return [(user_id, certification_id) for _, user_id, certification_id in created]


def holders_among(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (user, certification) pairs that are held now (an active award), in one query."""
    pairs = sorted(set(pairs))
    if not pairs:
        return set()
    wanted, wanted_param = tuple_set(pairs, ("bigint", "bigint"))
    held = fetch(
        f"SELECT a.user_id, a.certification_id FROM ({wanted}) w JOIN {table(Award)} a "
        "ON a.user_id = w.c0 AND a.certification_id = w.c1 AND a.status = 'active'",
        [wanted_param],
    )
    return {(user_id, certification_id) for user_id, certification_id in held}


def edit_award(award: Award, terms: AwardTerms, *, actor: Any) -> Award:
    """Change an active award's dates, validity and association type (Edit, Confirm)."""
    terms = terms.checked()
    before = _terms_of(award)
    with transaction.atomic():
        changed = Award.objects.filter(pk=award.pk, status=Award.Status.ACTIVE).update(
            issue_date=terms.issue_date,
            expiration_date=terms.expiration_date,
            always_valid=terms.always_valid,
            association_type=terms.association_type,
            external_activity=terms.external_activity,
            updated_at=timezone.now(),
        )
        if not changed:
            raise AwardInputError(
                [Problem("not_active", "This award has been unassigned; it can no longer be edited.")]
            )
        award.refresh_from_db()
        record("award.edited", actor=actor, obj=award, before=before, after=_terms_of(award))
    return award


def unassign_award(award: Award, *, actor: Any) -> bool:
    """Unassign: the award is removed, as a removal job would, so it is recorded and can be reinstated."""
    return bool(remove_awards(award.certification_id, [award.user_id], actor_id=actor.pk))


def reinstate_award(award: Award, *, actor: Any) -> bool:
    """Make an unassigned (removed) award active again, unless the user holds the certification again."""
    try:
        return _reinstate(award, actor)
    except IntegrityError:  # another award became active at the same moment: that one stands
        return False


def _reinstate(award: Award, actor: Any) -> bool:
    with transaction.atomic():
        held = Award.objects.filter(
            user_id=award.user_id, certification_id=award.certification_id, status=Award.Status.ACTIVE
        )
        if held.exists():
            return False
        changed = Award.objects.filter(pk=award.pk, status=Award.Status.REMOVED).update(
            status=Award.Status.ACTIVE,
            removed_at=None,
            removed_by=None,
            removed_by_job=None,
            updated_at=timezone.now(),
        )
        if changed:
            record(
                "award.reinstated",
                actor=actor,
                obj=award,
                before={"status": "removed"},
                after={"status": "active"},
            )
    return bool(changed)


def award_for_completion(
    user_id: int,
    certifications: Sequence[Certification],
    completed_on: dt.date,
    *,
    association_type: str,
    external_activity: str = "",
    actor_id: int | None,
) -> list[Certification]:
    """Award the certifications a completion earns; returns those newly awarded (held ones are left)."""
    created = set(
        create_awards(
            [
                (user_id, c.pk, default_terms(c, completed_on, association_type, external_activity))
                for c in certifications
            ],
            actor_id=actor_id,
        )
    )
    return [c for c in certifications if (user_id, c.pk) in created]


def expiring_soon(today: dt.date, horizons: Sequence[int] = (30, 60, 90)) -> list[dict[str, Any]]:
    """Per certification, the active awards expiring within each horizon (days from today, the ones
    already expired left out): one grouped query over the partial index of expiring awards."""
    last = today + dt.timedelta(days=max(horizons))
    counts = {
        f"within_{days}": Count("pk", filter=Q(expiration_date__lte=today + dt.timedelta(days=days)))
        for days in horizons
    }
    return [
        dict(row)
        for row in Award.objects.filter(
            status=Award.Status.ACTIVE, expiration_date__gte=today, expiration_date__lte=last
        )
        .values("certification_id", "certification__code", "certification__title")
        .annotate(**counts)
        .order_by(f"-within_{min(horizons)}", f"-within_{max(horizons)}", "certification__code")
    ]


def _terms_of(award: Award) -> dict[str, Any]:
    return {
        "issue_date": award.issue_date.isoformat() if award.issue_date else None,
        "expiration_date": award.expiration_date.isoformat() if award.expiration_date else None,
        "always_valid": award.always_valid,
        "association_type": award.association_type,
        "external_activity": award.external_activity,
    }


# Up to this many distinct (certification, terms) in one chunk, one INSERT each; beyond, one for all rows.
GROUPED_STATEMENTS = 20
# Up to this many users an Award Users request runs at once; above it, as a background job.
IMMEDIATE_LIMIT = 100


@dataclass(frozen=True)
class Picks:
    """Whom the Award Users dialog picked: users, groups and org units ("branches")."""

    users: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    org_units: tuple[int, ...] = ()
    include_sub_units: bool = True


@dataclass
class Resolved:
    """The users a set of picks stands for, within what the administrator may award to."""

    user_ids: list[int]
    outside_scope: int


@dataclass
class PickedOutcome:
    awarded: int = 0
    skipped: int = 0
    outside_scope: int = 0
    job: Any = None  # the background job, above the immediate limit


def resolve_picks(picks: Picks, actor: Any) -> Resolved:
    """The distinct active users the picks stand for, limited to the actor's reach for this permission.

    Straight from the membership tables (a few queries, whatever the number of users), not through
    the ORM's joins, which would sort every user of the organisation.
    """
    from access.permissions import AWARD_CERTIFICATIONS
    from access.policy import people_in, scope_of, subtree_ids
    from bulk.lookups import in_values
    from people.models import Group, User

    units = set(picks.org_units)
    if units and picks.include_sub_units:
        units = subtree_ids(units)
    chosen: set[int] = set(picks.users)
    for ids, through, column in (
        (picks.groups, Group.members.through, "group_id"),
        (sorted(units), User.org_units.through, "orgunit_id"),
    ):
        if ids:
            named, param = in_values(column, list(ids))
            chosen |= {
                pk for (pk,) in fetch(f"SELECT DISTINCT user_id FROM {table(through)} WHERE {named}", [param])
            }
    if not chosen:
        return Resolved([], 0)
    named, param = in_values("id", sorted(chosen))
    everyone = {pk for (pk,) in fetch(f"SELECT id FROM {table(User)} WHERE is_active AND {named}", [param])}
    allowed = people_in(scope_of(actor, AWARD_CERTIFICATIONS))
    if allowed is None:
        return Resolved(sorted(everyone), 0)
    inside = set(User.objects.filter(allowed).filter(pk__in=everyone).values_list("pk", flat=True))
    return Resolved(sorted(inside), len(everyone - inside))


def award_picked(
    certification: Certification, picks: Picks, terms: AwardTerms, *, actor: Any
) -> PickedOutcome:
    """Award Users: up to IMMEDIATE_LIMIT users at once, more as a background certification-award job.

    Users who already hold the certification are skipped and counted.
    """
    from access.permissions import AWARD_CERTIFICATIONS
    from access.policy import require

    require(actor, AWARD_CERTIFICATIONS, doing="award certifications")
    terms = terms.checked()
    resolved = resolve_picks(picks, actor)
    outcome = PickedOutcome(outside_scope=resolved.outside_scope)
    if len(resolved.user_ids) <= IMMEDIATE_LIMIT:
        with transaction.atomic():
            awarded = create_awards(
                [(u, certification.pk, terms) for u in resolved.user_ids], actor_id=actor.pk
            )
        outcome.awarded = len(awarded)
        outcome.skipped = len(resolved.user_ids) - len(awarded)
        return outcome
    outcome.job = _award_job(certification, resolved.user_ids, terms, actor)
    return outcome


def _award_job(certification: Certification, user_ids: list[int], terms: AwardTerms, actor: Any) -> Any:
    """Queue a certification-award job for these users, through the engine like an uploaded file."""
    import csv
    import io

    from bulk import services
    from bulk.kinds import get_kind
    from people.models import User

    kind = get_kind("certification-award")
    association = Award.AssociationType(terms.association_type).label
    fixed = [
        terms.issue_date.isoformat(),
        terms.expiration_date.isoformat() if terms.expiration_date else "",
        "Yes" if terms.always_valid else "No",
        association,
        terms.external_activity,
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.name for c in kind.columns])
    from bulk.lookups import in_values

    named, param = in_values("id", user_ids)
    keys = sorted(key for (key,) in fetch(f"SELECT user_id FROM {table(User)} WHERE {named}", [param]))
    writer.writerows([certification.code, key, *fixed] for key in keys)
    data = buffer.getvalue().encode("utf-8")
    return services.submit(
        kind.slug,
        data,
        f"award-{certification.code}.csv",
        actor=actor,
        title=f"Award {certification.code} to {len(user_ids):,} users",
        comment="Started from Award Users.",
        start=True,
        generated=True,
    ).job


def awards_in_reach(user: Any) -> QuerySet[Award]:
    """The awards this user may edit, unassign or reinstate: those of the users inside their reach
    for "award and edit certifications" (for this permission the constraint applies to the users)."""
    from access.permissions import AWARD_CERTIFICATIONS
    from access.policy import people_in, scope_of
    from people.models import User

    people = people_in(scope_of(user, AWARD_CERTIFICATIONS))
    awards = Award.objects.select_related("user", "certification")
    return awards if people is None else awards.filter(user__in=User.objects.filter(people).values("pk"))
