"""Editing, unassigning and reinstating one award, by hand (pages and API alike), and which awards
an administrator may touch."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from access.permissions import AWARD_CERTIFICATIONS
from access.policy import scope_of, within
from audit.services import record
from base.problems import Problem

from .awarding import AwardInputError, AwardTerms
from .models import Award
from .services import remove_awards


def awards_in_reach(user: Any) -> QuerySet[Award]:
    """The awards this user may edit, unassign or reinstate: those of the users inside their reach
    for "award and edit certifications" (for this permission the constraint applies to the users)."""
    holders = within(scope_of(user, AWARD_CERTIFICATIONS), "user")
    awards = Award.objects.select_related("user", "certification")
    return awards if holders is None else awards.filter(holders)


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


def unassign_award(award: Award, *, actor: Any) -> Award:
    """Unassign: the award is removed, as a removal job would, so it is recorded and can be reinstated.

    Only an active award: by the award's own status, so that unassigning a removed award never touches
    a newer, active one of the same user. AwardInputError (not_active) otherwise, or when another
    administrator unassigned it a moment before.
    """
    if award.status != Award.Status.ACTIVE or not remove_awards(
        award.certification_id, [award.user_id], actor_id=actor.pk
    ):
        raise AwardInputError([Problem("not_active", "This award has already been unassigned.")])
    award.refresh_from_db(fields=["status", "removed_at", "removed_by", "removed_by_job", "updated_at"])
    return award


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


def _terms_of(award: Award) -> dict[str, Any]:
    return {
        "issue_date": award.issue_date.isoformat() if award.issue_date else None,
        "expiration_date": award.expiration_date.isoformat() if award.expiration_date else None,
        "always_valid": award.always_valid,
        "association_type": award.association_type,
        "external_activity": award.external_activity,
    }
