"""What the audit trail records of changes told by the apps below it (which cannot call it)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from access.signals import access_changed

from .services import record


@receiver(access_changed)
def record_access_change(
    sender: Any, action: str, actor: Any, obj: Any, before: Any = None, after: Any = None, **_: Any
) -> None:
    record(action, actor=actor, obj=obj, before=before, after=after)
