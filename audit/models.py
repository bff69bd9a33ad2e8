"""The audit trail: who changed what, when, through which job."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Event(models.Model):
    # Bulk changes write an event per object, so every index here is paid 50,000 times a job: keep
    # only the ones the trail is read by (a job's events, an object's history); id order is time order.
    # For the same reason neither reference is a database constraint, which PostgreSQL would check for
    # every event as the job's transaction commits: the actor and the job are the ones making the
    # change, and deleting either goes through Django, which clears them here (on_delete).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    job = models.ForeignKey(
        "bulk.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    action = models.CharField(max_length=64, help_text="e.g. award.removed, job.rejected")
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="event_object")]
        permissions = [("view_audit_log", "View audit log")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for each value the event records, in the order it records them."""
        before = self.before if isinstance(self.before, dict) else {}
        after = self.after if isinstance(self.after, dict) else {}
        return [(key, before.get(key), after.get(key)) for key in dict.fromkeys([*before, *after])]
