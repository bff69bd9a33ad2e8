"""Certifications earned by completing an activity or recording external training.

Learning records the completion and sends ``completion_recorded``; this app listens (connected in
``CredentialsConfig.ready``) and awards, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.dispatch import receiver

from learning.models import Activity, ExternalActivity
from learning.signals import completion_recorded

from .awarding import create_awards, default_terms
from .models import Award, Certification


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


@receiver(completion_recorded, dispatch_uid="credentials.award_on_completion")
def award_on_completion(
    sender: Any,
    *,
    user_id: int,
    completed_on: dt.date,
    actor: Any,
    activity: Activity | None = None,
    external_activity: ExternalActivity | None = None,
    **_: Any,
) -> list[Certification]:
    """The receiver of ``learning.signals.completion_recorded``: award what the completion earns, once."""
    actor_id = actor.pk if actor is not None else None
    if activity is not None:
        return award_for_completion(
            user_id,
            list(Certification.objects.filter(activities=activity.pk).order_by("code")),
            completed_on,
            association_type=Award.AssociationType.ACTIVITY_COMPLETION,
            actor_id=actor_id,
        )
    if external_activity is not None:
        return award_for_completion(
            user_id,
            list(Certification.objects.filter(external_activities=external_activity).order_by("code")),
            completed_on,
            association_type=Award.AssociationType.EXTERNAL_TRAINING,
            external_activity=external_activity.title,
            actor_id=actor_id,
        )
    return []
