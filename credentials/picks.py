"""Award Users: whom an administrator picked (users, groups, branches), within their reach, and the
immediate award of up to ``IMMEDIATE_LIMIT`` of them. Larger picks run as a certification-award job,
which the engine's kind starts (``bulk.kinds.certification_award.award_users``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from access.permissions import AWARD_CERTIFICATIONS
from access.policy import people_in, require, scope_of, subtree_ids
from base.sql import fetch, in_values, table
from people.models import Group, User

from .awarding import AwardTerms, create_awards
from .models import Certification

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
    # Above the immediate limit nothing is awarded here: these users are left for a background job.
    deferred: list[int] = field(default_factory=list)
    job: Any = None  # that job, once the caller has started it


def resolve_picks(picks: Picks, actor: Any) -> Resolved:
    """The distinct active users the picks stand for, limited to the actor's reach for this permission.

    Straight from the membership tables (a few queries, whatever the number of users), not through
    the ORM's joins, which would sort every user of the organisation.
    """
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
    """Award Users: up to IMMEDIATE_LIMIT users at once; more are left in ``deferred`` for a
    certification-award job (``bulk.kinds.certification_award.award_users`` starts it).

    Users who already hold the certification are skipped and counted.
    """
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
    outcome.deferred = resolved.user_ids
    return outcome
