"""Webhook endpoints an administrator registers, and every delivery to them with its attempts."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

# What certdesk tells endpoints about, and how the endpoint form names it.
EVENTS = {
    "job.awaiting_approval": "A job awaits approval",
    "job.processed": "A job was processed",
    "job.failed": "A job failed",
    "award.expiring": "An award's renewal window opened (it expires soon)",
}


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Endpoint(models.Model):
    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(
        max_length=100, default=new_secret, help_text="Signs every delivery (HMAC-SHA256)."
    )
    events = models.JSONField(default=list, help_text="The events sent to it, from webhooks.models.EVENTS.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["url", "id"]
        permissions = [("manage_webhooks", "Manage webhooks")]

    def __str__(self) -> str:
        return self.url


class Delivery(models.Model):
    """One event for one endpoint: written in the transaction of what it tells (an outbox), so a change
    rolled back tells nothing; sent by the worker's sender, retried with backoff for a day."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50)
    # What the event is about, when it must be told once only ("award 12 expiring 2027-01-15"): a
    # second emit of it, after a retried run, makes no second delivery.
    key = models.CharField(max_length=100, blank=True)
    # The JSON body exactly as sent, so that every attempt (and a redelivery) sends the same bytes.
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Retried with backoff until then (CERTDESK_WEBHOOK_RETRY_HOURS after it was made or redelivered).
    retry_until = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    # The sender holding it: no other sends it until the lease expires (its sender died mid-send).
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event", "key"], condition=~models.Q(key=""), name="delivery_told_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id} ({self.status})"


class Attempt(models.Model):
    """One try at sending a delivery: the delivery log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    milliseconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
