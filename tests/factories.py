"""Factories and small builders shared by the tests."""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Iterable, Sequence

import factory
from django.contrib.auth.models import Permission

from credentials.models import Award, Certification
from learning.models import Activity, Enrollment
from people.models import Group, OrgUnit, User


class OrgUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrgUnit

    code = factory.Sequence(lambda n: f"OU-{n:03d}")
    name = factory.Sequence(lambda n: f"Unit {n}")
    kind = "Department"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    user_id = factory.Sequence(lambda n: f"U{n:06d}")
    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("secret-pass-123")


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Group {n}")


class CertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Certification

    code = factory.Sequence(lambda n: f"CERT-{n:03d}")
    title = factory.Sequence(lambda n: f"Certification {n}")
    validity_days = 365


class AwardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Award

    user = factory.SubFactory(UserFactory)
    certification = factory.SubFactory(CertificationFactory)
    issue_date = factory.LazyFunction(lambda: dt.date(2026, 1, 15))
    expiration_date = factory.LazyAttribute(lambda a: a.issue_date + dt.timedelta(days=365))


def grant(user: User, *permissions: str) -> User:
    """Give a user Django permissions named "app_label.codename"; returns a fresh copy (no perm cache)."""
    for name in permissions:
        app_label, codename = name.split(".", 1)
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)


def award_many(certification: Certification, users: Iterable[User]) -> list[Award]:
    return Award.objects.bulk_create(
        [
            Award(
                user=u,
                certification=certification,
                issue_date=dt.date(2026, 1, 15),
                expiration_date=dt.date(2027, 1, 15),
            )
            for u in users
        ]
    )


def make_csv(
    rows: Sequence[Sequence[str]],
    header: Sequence[str] = ("Certification ID", "User ID"),
    *,
    delimiter: str = ",",
    line_ending: str = "\n",
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    """Build a CSV upload. Cells are quoted when they contain the delimiter, quotes or line breaks."""

    def cell(value: str) -> str:
        if any(ch in value for ch in (delimiter, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [delimiter.join(cell(c) for c in header)] + [delimiter.join(cell(c) for c in row) for row in rows]
    text = line_ending.join(lines) + line_ending
    data = text.encode(encoding)
    if bom and encoding.lower().replace("-", "") in ("utf8",):
        data = codecs.BOM_UTF8 + data
    return data


def removal_rows(certification: Certification, users: Iterable[User]) -> list[list[str]]:
    return [[certification.code, u.user_id] for u in users]


# The fields of DESIGN.md's "Job JSON", the contract the API and `certdesk job … --json` share.
JOB_JSON_FIELDS = {
    "id",
    "kind",
    "title",
    "comment",
    "status",
    "created_by",
    "created_at",
    "started_at",
    "processed_at",
    "validate_only",
    "counts",
    "progress",
    "errors",
    "results_url",
}


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    type = Activity.Type.COURSE
    title = factory.Sequence(lambda n: f"Course {n}")
    external_reference = factory.Sequence(lambda n: f"ACT-{n:03d}")


def enrol(
    activity: Activity, users: Iterable[User], *, completed_on: dt.date | None = None
) -> list[Enrollment]:
    """Enrol users in an activity (completed on ``completed_on`` when given)."""
    return Enrollment.objects.bulk_create(
        [
            Enrollment(
                user=u,
                activity=activity,
                enrolled_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
                status=Enrollment.Status.COMPLETED if completed_on else Enrollment.Status.ENROLLED,
                completed_on=completed_on,
            )
            for u in users
        ]
    )


UNENROLMENT_HEADER = ("Username", "Activity external reference", "Send unenrolment email")
AWARD_HEADER = (
    "Certification ID",
    "User ID",
    "Issue date",
    "Expiration date",
    "Always valid",
    "Association type",
    "External activity",
)
LICENCE_HEADER = (
    "Username",
    "License code",
    "Number",
    "Issuing authority",
    "Issue date",
    "Expiration date",
    "Action",
)
