"""The preview is exact: over generated files for all four kinds, with the data changed by hand
between the upload and the preview, the preview's counts per outcome are the job's final counts.

Each example runs in a transaction rolled back at its end, so every file meets the same world:
twelve learners, a certification eight of them hold, a course eight of them are enrolled in (two
completed), and a few licences.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk import services, worker
from bulk.models import Job
from bulk.preview import preview_job
from credentials.models import Award, Certification, License, LicenseType
from learning.models import Enrollment

from .factories import (
    AWARD_HEADER,
    LICENCE_HEADER,
    UNENROLMENT_HEADER,
    ActivityFactory,
    CertificationFactory,
    UserFactory,
    award_many,
    enrol,
    grant,
    make_csv,
)

EXAMPLES = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LEARNERS = 12


class RolledBack(Exception):
    """Ends an example's transaction, undoing what its job did."""


@pytest.fixture
def world(db):
    admin = grant(
        UserFactory(username="prop-admin"),
        "bulk.manage_certification_removal",
        "credentials.award_certification",
        "bulk.import_unenrolments",
        "credentials.import_licenses",
    )
    learners = [UserFactory(username=f"learner{n}", user_id=f"U{n:03d}") for n in range(LEARNERS)]
    bls = CertificationFactory(code="CERT-042", validity_days=365)
    CertificationFactory(code="CERT-009", validity_days=None)
    award_many(bls, learners[:8])
    course = ActivityFactory(external_reference="FS-COURSE")
    ActivityFactory(external_reference="MH-COURSE")
    enrol(course, learners[:6])
    enrol(course, learners[6:8], completed_on=dt.date(2026, 2, 1))
    rn = LicenseType.objects.create(code="RN", name="Registered Nurse", number_required=True)
    LicenseType.objects.create(code="BLS", name="Basic Life Support", number_required=False)
    for n in range(4):
        License.objects.create(user=learners[n], license_type=rn, number=f"RN-{n}")
    return admin, learners


def outcome_of(kind: str, data: bytes, admin, drift) -> tuple[dict[str, int], dict[str, int]]:
    """(the preview's counts, the run's counts) of a file, with ``drift`` applied between the upload
    and the preview; nothing of it is kept."""
    try:
        with transaction.atomic():
            job = services.submit(kind, data, "file.csv", actor=admin, title="Generated").job
            drift()
            said = preview_job(job).outcomes
            services.start_job(job, admin)
            worker.run_next("w")
            job = Job.objects.get(pk=job.pk)
            assert job.status == Job.Status.PROCESSED
            did = {"pending": job.succeeded, "skipped": job.skipped, "error": job.failed}
            raise RolledBack(said, did)
    except RolledBack as done:
        return done.args[0], done.args[1]


learner = st.integers(0, LEARNERS + 1)  # the last two name nobody


def user_id(n: int) -> str:
    return f"U{n:03d}" if n < LEARNERS else f"NOBODY{n}"


def username(n: int) -> str:
    return f"learner{n}" if n < LEARNERS else f"nobody{n}"


@EXAMPLES
@given(rows=st.lists(st.integers(0, 7), min_size=1, max_size=12), gone=st.sets(st.integers(0, 7)))
def test_removal(world, rows, gone):
    admin, learners = world
    data = make_csv([["CERT-042", user_id(n)] for n in rows])

    def drift() -> None:
        Award.objects.filter(user__in=[learners[n] for n in gone]).update(status="removed")

    said, did = outcome_of("certification-removal", data, admin, drift)
    assert said == did


@EXAMPLES
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["CERT-042", "CERT-009", "CERT-404"]),
            learner,
            st.sampled_from(["", "2026-03-01", "2026-02-30", "someday"]),
            st.sampled_from(["", "2027-03-01", "2020-01-01"]),
            st.sampled_from(["", "Yes", "No", "Maybe"]),
        ),
        min_size=1,
        max_size=12,
    ),
    awarded=st.sets(st.integers(8, LEARNERS - 1)),
)
def test_award(world, rows, awarded):
    admin, learners = world
    data = make_csv(
        [[code, user_id(n), issue, expiry, always, "", ""] for code, n, issue, expiry, always in rows],
        AWARD_HEADER,
    )

    def drift() -> None:
        award_many(Certification.objects.get(code="CERT-042"), [learners[n] for n in awarded])

    said, did = outcome_of("certification-award", data, admin, drift)
    assert said == did


@EXAMPLES
@given(
    rows=st.lists(
        st.tuples(
            learner, st.sampled_from(["FS-COURSE", "MH-COURSE", "XX"]), st.sampled_from(["Yes", "No", "?"])
        ),
        min_size=1,
        max_size=12,
    ),
    left=st.sets(st.integers(0, 7)),
)
def test_unenrolment(world, rows, left):
    admin, learners = world
    data = make_csv([[username(n), ref, email] for n, ref, email in rows], UNENROLMENT_HEADER)

    def drift() -> None:
        Enrollment.objects.filter(user__in=[learners[n] for n in left], status="enrolled").update(
            status="unenrolled", unenrolled_at=timezone.now()
        )

    said, did = outcome_of("unenrolment", data, admin, drift)
    assert said == did


@EXAMPLES
@given(
    rows=st.lists(
        st.tuples(
            learner,
            st.sampled_from(["RN", "BLS", "XX"]),
            st.integers(0, 5),
            st.sampled_from(["Add", "Edit", "Delete", "Renew"]),
            st.sampled_from(["", "2026-01-01", "2026-13-01"]),
        ),
        min_size=1,
        max_size=12,
    ),
    deleted=st.sets(st.integers(0, 3)),
    added=st.sets(st.integers(4, 7)),
)
def test_licence_import(world, rows, deleted, added):
    admin, learners = world
    data = make_csv(
        [
            [username(n), code, f"RN-{number}", "", issue, "", action]
            for n, code, number, action, issue in rows
        ],
        LICENCE_HEADER,
    )

    def drift() -> None:
        License.objects.filter(user__in=[learners[n] for n in deleted]).update(deleted_at=timezone.now())
        rn = LicenseType.objects.get(code="RN")
        for n in added:
            License.objects.create(user=learners[n], license_type=rn, number=f"RN-{n}")

    said, did = outcome_of("license-import", data, admin, drift)
    assert said == did
