"""How every kind matches the keys of a file (README "How keys are matched"): exactly first; a key typed
in another case when exactly one record has it that way, with a note; never a guess between records
that differ only in case."""

from __future__ import annotations

import csv
import io

import pytest

from access.permissions import (
    AWARD_CERTIFICATIONS,
    IMPORT_LICENSES,
    IMPORT_UNENROLMENTS,
    MANAGE_CERTIFICATION_REMOVAL,
)
from base.problems import FileRejected
from bulk import services, worker
from bulk.models import Job
from credentials.models import Award, License, LicenseType
from learning.models import Enrollment

from .factories import ActivityFactory, CertificationFactory, UserFactory, award_many, enrol, grant, make_csv

REMOVAL_HEADER = ("Certification ID", "User ID")
AWARD_HEADER = (
    "Certification ID",
    "User ID",
    "Issue date",
    "Expiration date",
    "Always valid",
    "Association type",
    "External activity",
)
UNENROLMENT_HEADER = ("Username", "Activity external reference", "Send unenrolment email")
LICENCE_HEADER = (
    "Username",
    "License code",
    "Number",
    "Issuing authority",
    "Issue date",
    "Expiration date",
    "Action",
)
TWINS = "could be any of 'SAM-LEE', 'Sam-Lee', which differ only in case; write it exactly."


@pytest.fixture
def admin(db):
    user = UserFactory(username="admin", user_id="ADM-1")
    return grant(
        user, MANAGE_CERTIFICATION_REMOVAL, AWARD_CERTIFICATIONS, IMPORT_UNENROLMENTS, IMPORT_LICENSES
    )


@pytest.fixture
def twins(db):
    """Two users whose User IDs and usernames differ only in case."""
    return UserFactory(username="Sam-Lee", user_id="Sam-Lee"), UserFactory(
        username="SAM-LEE", user_id="SAM-LEE"
    )


def run(kind: str, actor, header, rows) -> list[dict[str, str]]:
    """Upload a file, run the job, and read its results file back."""
    job = services.submit(
        kind, make_csv(rows, header), "file.csv", actor=actor, title="Matching", start=True
    ).job
    ran = worker.run_next("test-worker")
    assert ran is not None and ran.pk == job.pk and ran.status == Job.Status.PROCESSED
    with ran.results_file.open("rb") as stream:
        return list(csv.DictReader(io.StringIO(stream.read().decode("utf-8-sig"))))


def rejected(kind: str, actor, header, rows) -> list[str]:
    """Upload a file a strict kind refuses; the messages of its problems."""
    with pytest.raises(FileRejected) as refused:
        services.submit(kind, make_csv(rows, header), "file.csv", actor=actor, title="Matching")
    return [p.message for p in refused.value.problems]


def active(certification, user) -> bool:
    return Award.objects.filter(certification=certification, user=user, status=Award.Status.ACTIVE).exists()


# Certification removal


def test_removal_takes_ids_typed_in_another_case_and_says_so(admin):
    certification = CertificationFactory(code="CERT-042")
    anna = UserFactory(user_id="U-ANNA")
    award_many(certification, [anna])

    rows = run("certification-removal", admin, REMOVAL_HEADER, [["cert-042", "u-anna"]])

    assert [r["Result"] for r in rows] == ["Removed"]
    assert rows[0]["Message"] == (
        "'u-anna' was taken as the User ID 'U-ANNA'. 'cert-042' was taken as the Certification ID 'CERT-042'."
    )
    assert not active(certification, anna)


def test_removal_refuses_a_user_id_that_could_be_either_of_two_users(admin, twins):
    certification = CertificationFactory(code="CERT-042")
    award_many(certification, twins)

    problems = rejected("certification-removal", admin, REMOVAL_HEADER, [["CERT-042", "sam-lee"]])

    assert problems == [f"User ID 'sam-lee' {TWINS}"]
    assert all(active(certification, twin) for twin in twins)


def test_removal_refuses_a_certification_id_that_could_be_either_of_two(admin):
    CertificationFactory(code="Cert-9")
    CertificationFactory(code="CERT-9")
    user = UserFactory(user_id="U-1")

    problems = rejected("certification-removal", admin, REMOVAL_HEADER, [["cert-9", user.user_id]])

    assert problems == [
        "Certification ID 'cert-9' could be any of 'CERT-9', 'Cert-9', which differ only in case; write it exactly."
    ]


def test_removal_takes_an_exact_user_id_over_its_case_variant(admin, twins):
    certification = CertificationFactory(code="CERT-042")
    award_many(certification, twins)

    rows = run("certification-removal", admin, REMOVAL_HEADER, [["CERT-042", "Sam-Lee"]])

    assert [(r["Result"], r["Message"]) for r in rows] == [
        ("Removed", "Removed from certification CERT-042.")
    ]
    assert not active(certification, twins[0]) and active(certification, twins[1])


def test_removal_counts_a_user_id_typed_twice_in_different_cases_as_one_user(admin):
    certification = CertificationFactory(code="CERT-042")
    award_many(certification, [UserFactory(user_id="U-ANNA")])

    rows = run(
        "certification-removal", admin, REMOVAL_HEADER, [["CERT-042", "U-ANNA"], ["CERT-042", "u-anna"]]
    )

    assert [(r["Result"], r["Message"]) for r in rows] == [
        ("Removed", "Removed from certification CERT-042."),
        ("Skipped", "User ID 'u-anna' repeats row 2; the user is removed once."),
    ]


# Certification award


def test_award_takes_ids_typed_in_another_case_and_says_so(admin):
    certification = CertificationFactory(code="CERT-042")
    anna = UserFactory(user_id="U-ANNA")

    rows = run(
        "certification-award", admin, AWARD_HEADER, [["cert-042", "u-anna", "2026-03-12", "", "", "", ""]]
    )

    assert [r["Result"] for r in rows] == ["Awarded"]
    assert rows[0]["Message"] == (
        "'u-anna' was taken as the User ID 'U-ANNA'. 'cert-042' was taken as the Certification ID 'CERT-042'."
    )
    assert active(certification, anna)


def test_award_refuses_ids_that_could_be_either_of_two(admin, twins):
    CertificationFactory(code="Cert-9")
    CertificationFactory(code="CERT-9")
    certification = CertificationFactory(code="CERT-042")

    rows = run(
        "certification-award",
        admin,
        AWARD_HEADER,
        [
            ["CERT-042", "sam-lee", "2026-03-12", "", "", "", ""],
            ["cert-9", "Sam-Lee", "2026-03-12", "", "", "", ""],
        ],
    )

    assert [(r["Result"], r["Message"]) for r in rows] == [
        ("Error", f"User ID not recognised: 'sam-lee' {TWINS}"),
        (
            "Error",
            "Certification ID not recognised: 'cert-9' could be any of 'CERT-9', 'Cert-9', which differ only in "
            "case; write it exactly.",
        ),
    ]
    assert not Award.objects.filter(certification=certification).exists()


def test_award_takes_exact_ids_over_their_case_variants(admin, twins):
    exact = CertificationFactory(code="cert-9")
    variant = CertificationFactory(code="CERT-9")

    rows = run(
        "certification-award", admin, AWARD_HEADER, [["cert-9", "SAM-LEE", "2026-03-12", "", "", "", ""]]
    )

    assert [(r["Result"], r["Message"]) for r in rows] == [("Awarded", "Awarded.")]
    assert list(Award.objects.values_list("certification", "user")) == [(exact.pk, twins[1].pk)]
    assert not Award.objects.filter(certification=variant).exists()


# Unenrolment


def test_unenrolment_takes_keys_typed_in_another_case_and_says_so(admin):
    learner = UserFactory(username="JDoe")
    activity = ActivityFactory(external_reference="FS-101")
    enrol(activity, [learner])

    rows = run("unenrolment", admin, UNENROLMENT_HEADER, [["jdoe", "fs-101", "No"]])

    assert [(r["Result"], r["Message"]) for r in rows] == [
        (
            "Unenrolled",
            "'jdoe' was taken as the username 'JDoe'. 'fs-101' was taken as the reference 'FS-101'.",
        )
    ]
    assert Enrollment.objects.get(user=learner).status == Enrollment.Status.UNENROLLED


def test_unenrolment_refuses_a_reference_that_could_be_either_of_two_activities(admin):
    learner = UserFactory(username="jdoe")
    enrol(ActivityFactory(external_reference="Fs-101"), [learner])
    enrol(ActivityFactory(external_reference="FS-101"), [learner])

    rows = run("unenrolment", admin, UNENROLMENT_HEADER, [["jdoe", "fs-101", "No"]])

    assert [(r["Result"], r["Message"]) for r in rows] == [
        (
            "Error",
            "Activity external reference not recognised: 'fs-101' could be any of 'FS-101', 'Fs-101', which "
            "differ only in case; write it exactly.",
        )
    ]
    assert not Enrollment.objects.filter(status=Enrollment.Status.UNENROLLED).exists()


def test_unenrolment_takes_exact_keys_over_their_case_variants_and_notes_only_the_inexact(admin, twins):
    exact = ActivityFactory(external_reference="fs-101")
    variant = ActivityFactory(external_reference="FS-101")
    enrol(exact, twins)
    enrol(variant, twins)

    rows = run("unenrolment", admin, UNENROLMENT_HEADER, [["SAM-LEE", "fs-101", "No"]])

    assert [(r["Result"], r["Message"]) for r in rows] == [("Unenrolled", "Unenrolled.")]
    unenrolled = Enrollment.objects.filter(status=Enrollment.Status.UNENROLLED)
    assert list(unenrolled.values_list("user", "activity")) == [(twins[1].pk, exact.pk)]


# Licence import


def test_licence_import_takes_keys_typed_in_another_case_and_says_so(admin):
    LicenseType.objects.create(code="RN", name="Registered Nurse")
    anna = UserFactory(username="Anna")

    rows = run("license-import", admin, LICENCE_HEADER, [["anna", "rn", "RN-1", "", "", "", "Add"]])

    assert [(r["Result"], r["Message"]) for r in rows] == [
        ("Imported", "'anna' was taken as the username 'Anna'. 'rn' was taken as the licence code 'RN'.")
    ]
    assert License.objects.get().user == anna


def test_licence_import_refuses_keys_that_could_be_either_of_two(admin, twins):
    LicenseType.objects.create(code="Rn", name="Registered Nurse")
    LicenseType.objects.create(code="RN", name="Registered Nurse (state)")
    UserFactory(username="Anna")

    rows = run(
        "license-import",
        admin,
        LICENCE_HEADER,
        [["sam-lee", "RN", "RN-1", "", "", "", "Add"], ["Anna", "rn", "RN-2", "", "", "", "Add"]],
    )

    assert [(r["Result"], r["Message"]) for r in rows] == [
        ("Error", f"Username not recognised: 'sam-lee' {TWINS}"),
        (
            "Error",
            "License code not recognised: 'rn' could be any of 'RN', 'Rn', which differ only in case; "
            "write it exactly.",
        ),
    ]
    assert not License.objects.exists()


def test_licence_import_takes_exact_keys_over_their_case_variants(admin, twins):
    exact = LicenseType.objects.create(code="rn", name="Registered Nurse")
    LicenseType.objects.create(code="RN", name="Registered Nurse (state)")

    rows = run("license-import", admin, LICENCE_HEADER, [["Sam-Lee", "rn", "RN-1", "", "", "", "Add"]])

    assert [(r["Result"], r["Message"]) for r in rows] == [("Imported", "Done.")]
    licence = License.objects.get()
    assert (licence.user, licence.license_type) == (twins[0], exact)
