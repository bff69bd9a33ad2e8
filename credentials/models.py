"""Certifications and the awards that say who holds them."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Func, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from base.search import TrigramIndex
from base.sql import Constant


class CertificationQuerySet(models.QuerySet["Certification"]):
    def with_holders(self) -> CertificationQuerySet:
        """Each certification with ``holders``, how many users hold it (its active awards).

        Counted per certification over the partial unique index of active awards, which holds nothing
        else: a join of the awards would read every award of the listed certifications, removed ones too.
        """
        active = (
            Award.objects.filter(certification=OuterRef("pk"), status=Constant(Award.Status.ACTIVE))
            .order_by()
            # COUNT(*) as a plain function, not an aggregate (Django would add a GROUP BY for it), and of
            # no column, so that PostgreSQL counts the index alone, without reading the awards
            .annotate(n=Func(template="COUNT(*)", output_field=IntegerField()))
            .values("n")
        )
        return self.annotate(holders=Coalesce(Subquery(active), 0))


class Certification(models.Model):
    code = models.CharField(
        "Certification ID", max_length=100, unique=True, help_text="The ID used in files and exports."
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    validity_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="How long an award is valid; empty when always valid."
    )
    renewal_window_days = models.PositiveIntegerField(
        default=30, help_text="Days before expiry when holders are asked to renew."
    )
    # Completing one of these awards the certification (association type "activity completion").
    activities = models.ManyToManyField("learning.Activity", blank=True, related_name="certifications")
    # Recording one of these awards it too (association type "external training activity").
    external_activities = models.ManyToManyField(
        "learning.ExternalActivity", blank=True, related_name="certifications"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CertificationQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        permissions = [("manage_certifications", "Manage certifications")]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"

    @property
    def always_valid(self) -> bool:
        return self.validity_days is None

    def default_expiration(self, issue_date: dt.date) -> dt.date | None:
        """The expiration date an award issued on ``issue_date`` gets by default."""
        if self.validity_days is None:
            return None
        return issue_date + dt.timedelta(days=self.validity_days)

    def renewal_opens(self, expiration_date: dt.date | None) -> dt.date | None:
        """The day the renewal window of an award expiring on ``expiration_date`` opens."""
        if expiration_date is None:
            return None
        return expiration_date - dt.timedelta(days=self.renewal_window_days)


class AwardQuerySet(models.QuerySet["Award"]):
    def active(self) -> AwardQuerySet:
        return self.filter(status=Award.Status.ACTIVE)


class Award(models.Model):
    """A user's holding of a certification. Removal is a status change, never a delete."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REMOVED = "removed", "Removed"

    class AssociationType(models.TextChoices):
        MANUAL = "manual", "Manually awarded"
        ACTIVITY_COMPLETION = "activity_completion", "Course/learning plan completion"
        EXTERNAL_TRAINING = "external_training", "External training activity"

    # Indexed together with the certification below, not alone.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="awards", db_index=False
    )
    certification = models.ForeignKey(Certification, on_delete=models.PROTECT, related_name="awards")
    issue_date = models.DateField()
    expiration_date = models.DateField(null=True, blank=True)
    always_valid = models.BooleanField(default=False)
    association_type = models.CharField(
        max_length=32, choices=AssociationType.choices, default=AssociationType.MANUAL
    )
    external_activity = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    removed_at = models.DateTimeField(null=True, blank=True)
    # Who made a change and in which job are provenance, written 50,000 rows at a time by a job: not
    # database constraints, which PostgreSQL would check (locking the user and the job) for every row
    # as the job's chunk commits. Deleting a user or a job goes through Django, which clears them.
    # Not indexed: nobody looks awards up by who removed them, and every bulk removal would pay for it.
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Indexed with the user below: "the award of user U that job J removed" is the bulk paths' lookup.
    removed_by_job = models.ForeignKey(
        "bulk.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="removed_awards",
        db_index=False,
        db_constraint=False,
    )
    # Who awarded it, and which job: an award job can be undone by removing exactly its awards.
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    awarded_by_job = models.ForeignKey(
        "bulk.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="awarded_awards",
        db_index=False,
        db_constraint=False,
    )
    # The expiration date the holder was last sent a renewal notice for: one notice per award and window.
    renewal_notice_for = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = AwardQuerySet.as_manager()

    class Meta:
        ordering = ["certification", "user"]
        constraints = [
            # History keeps removed awards; only one may be active per user and certification.
            models.UniqueConstraint(
                fields=["certification", "user"],
                condition=Q(status="active"),
                name="one_active_award_per_user_and_certification",
            ),
            models.CheckConstraint(
                condition=Q(expiration_date__isnull=True) | Q(expiration_date__gte=models.F("issue_date")),
                name="award_expires_after_issue",
            ),
            models.CheckConstraint(
                condition=~(Q(always_valid=True) & Q(expiration_date__isnull=False)),
                name="always_valid_award_has_no_expiration",
            ),
        ]
        indexes = [
            # Looks an award up by user and certification whatever its status. Status is left out on
            # purpose: a bulk removal changes the status of every row it touches, and each indexed
            # column it changes costs an index update per row.
            models.Index(fields=["user", "certification"], name="award_user_certification"),
            models.Index(fields=["removed_by_job", "user"], name="award_removed_by_job_user"),
            models.Index(fields=["awarded_by_job", "user"], name="award_awarded_by_job_user"),
            # The expiry card and the renewal notices look for active awards expiring soon.
            models.Index(
                fields=["expiration_date", "certification"],
                name="award_active_expiring",
                condition=Q(status="active", expiration_date__isnull=False),
            ),
        ]
        permissions = [("award_certification", "Award and edit certifications")]

    def __str__(self) -> str:
        return f"{self.user} — {self.certification.code} ({self.get_status_display()})"

    def state(self, today: dt.date) -> str:
        """active, expired (derived from the expiration date) or removed."""
        if self.status == self.Status.REMOVED:
            return "removed"
        if self.expiration_date is not None and self.expiration_date < today:
            return "expired"
        return "active"

    def days_left(self, today: dt.date) -> int | None:
        """Days left to renew: until the expiration date; None when always valid."""
        if self.expiration_date is None:
            return None
        return (self.expiration_date - today).days


class LicenseType(models.Model):
    """An entry of the "available licenses" list: what a learner's licence can be."""

    code = models.CharField(
        "License code", max_length=50, unique=True, help_text="The code used in import files."
    )
    name = models.CharField(max_length=200)
    issuing_authority = models.CharField(
        max_length=200,
        blank=True,
        help_text="A state board or professional body; licences may name their own.",
    )
    number_required = models.BooleanField(
        default=True, help_text="Whether each licence of this type has a number."
    )

    class Meta:
        ordering = ["code"]
        verbose_name = "licence type"

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class LicenseQuerySet(models.QuerySet["License"]):
    def current(self) -> LicenseQuerySet:
        """Licences that have not been deleted (expired ones included)."""
        return self.filter(deleted_at__isnull=True)


# Licence numbers searched by a piece of them (the Licences filter), as people are; created by the
# migration credentials.0008_licence_number_search.
LICENCE_NUMBER_SEARCH = TrigramIndex(
    name="credentials_license_search",
    pg_index="credentials_license_number_search",
    table="credentials_license",
    columns=("number",),
)


class License(models.Model):
    """A learner's licence or certification from an outside body. Deleting keeps it as history."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="licenses")
    # Indexed by license_type_expiration, which starts with it: a second index would only cost writes.
    license_type = models.ForeignKey(
        LicenseType, on_delete=models.PROTECT, related_name="licenses", db_index=False
    )
    number = models.CharField(max_length=100, blank=True)
    issuing_authority = models.CharField(max_length=200, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    expiration_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Provenance, not database constraints, as on awards.
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    changed_by_job = models.ForeignKey(
        "bulk.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = LicenseQuerySet.as_manager()

    class Meta:
        ordering = ["user", "license_type", "number"]
        verbose_name = "licence"
        constraints = [
            # One current licence per user, type and number; deleted ones are history.
            models.UniqueConstraint(
                fields=["user", "license_type", "number"],
                condition=Q(deleted_at__isnull=True),
                name="one_current_license_per_number",
            ),
            models.CheckConstraint(
                condition=Q(expiration_date__isnull=True)
                | Q(issue_date__isnull=True)
                | Q(expiration_date__gte=models.F("issue_date")),
                name="license_expires_after_issue",
            ),
        ]
        indexes = [
            models.Index(fields=["license_type", "expiration_date"], name="license_type_expiration"),
        ]
        permissions = [
            ("import_licenses", "Import licences"),
            ("manage_licenses", "Manage licences"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.license_type.code} {self.number}".strip()

    def state(self, today: dt.date, soon_days: int = 30) -> str:
        """current, expiring (within ``soon_days``), expired or deleted."""
        if self.deleted_at is not None:
            return "deleted"
        if self.expiration_date is None:
            return "current"
        if self.expiration_date < today:
            return "expired"
        if self.expiration_date <= today + dt.timedelta(days=soon_days):
            return "expiring"
        return "current"
