"""Every list page and list endpoint answers with a bounded number of queries: not one more per row
shown, and not one more per level of the org tree above a constrained administrator's learners.

Each page is asked for a superuser and for a division administrator whose grants are constrained to
their own unit, once with that unit two levels deep and once eight levels deep, over 30 learners
with an award, a licence, an enrolment, a job row and an audit event each (more than a page of some
lists). The bounds are what the pages take today; a change that adds a query per row or per level
breaks them.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.models import Grant, Role
from access.reach import PEOPLE_PERMISSIONS
from audit.models import Event
from bulk.models import Job, JobRow
from credentials.models import License, LicenseType
from people.models import User

from .factories import ActivityFactory, CertificationFactory, OrgUnitFactory, UserFactory, award_many, enrol

LEARNERS = 30
CONSTRAINED = (
    *PEOPLE_PERMISSIONS,
    "bulk.manage_certification_removal",
    "audit.view_audit_log",
    "bulk.approve_jobs",
)


def build(depth: int) -> dict:
    """A chain of ``depth`` org units, the learners at its bottom, their records, and two administrators."""
    units = [OrgUnitFactory(code="DIV", name="Division")]
    for level in range(1, depth):
        units.append(OrgUnitFactory(code=f"LEVEL-{level}", name=f"Level {level}", parent=units[-1]))
    learners = UserFactory.create_batch(LEARNERS)
    for learner in learners:
        learner.org_units.add(units[-1])
    certification = CertificationFactory(code="CERT-BIG")
    awards = award_many(certification, learners)
    licence_type = LicenseType.objects.create(code="RN", name="Registered nurse")
    License.objects.bulk_create(
        License(
            user=u, license_type=licence_type, number=f"RN-{n}", expiration_date=dt.date(2027, 1, n % 28 + 1)
        )
        for n, u in enumerate(learners)
    )
    activity = ActivityFactory()
    enrol(activity, learners)
    division_admin = UserFactory(username="dana")
    division_admin.org_units.add(units[0])
    role = Role.objects.create(name="Division administrator")
    for name in CONSTRAINED:
        app_label, codename = name.split(".")
        permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
        Grant.objects.create(role=role, permission=permission, scope=Grant.Scope.OWN_UNITS)
    role.members.add(division_admin)
    # jobs created by an administrator inside the division, so the constrained one sees them
    creator = UserFactory(username="colin")
    creator.org_units.add(units[-1])
    jobs = [
        Job.objects.create(
            kind="certification-removal",
            title=f"Leavers {n}",
            status=Job.Status.PROCESSED,
            created_by=creator,
            created_at=timezone.now() - dt.timedelta(hours=n),
            total=LEARNERS,
            rows_done=LEARNERS,
            succeeded=LEARNERS - 3,
            failed=3,
            chunk_size=5000,
            chunks_done=1,
            params={"certification_id": certification.pk, "certification_code": certification.code},
        )
        for n in range(LEARNERS)
    ]
    JobRow.objects.bulk_create(
        JobRow(
            job=jobs[0],
            seq=n,
            row_number=n + 2,
            cells=[u.user_id, "CERT-BIG"],
            key=u.user_id,
            user=u,
            target_id=certification.pk,
            outcome=JobRow.Outcome.ERROR if n % 10 == 0 else JobRow.Outcome.SUCCEEDED,
            message="Row failed" if n % 10 == 0 else "",
        )
        for n, u in enumerate(learners)
    )
    Event.objects.bulk_create(
        Event(
            actor=creator,
            job=jobs[0],
            action="award.removed",
            object_type="credentials.award",
            object_id=str(a.pk),
        )
        for a in awards
    )
    root = User.objects.create_superuser("root", "root@example.test", "x", user_id="ROOT")
    return {
        "superuser": root,
        "division": division_admin,
        "certification": certification.pk,
        "activity": activity.pk,
        "learner": learners[0].user_id,
        "username": learners[0].username,
        "job": jobs[0].pk,
        "unit": units[0].pk,
    }


# (path, most queries for the superuser, for the division administrator): the lists administrators use.
PAGES = [
    ("/", 9, 15),
    ("/jobs/", 9, 15),
    ("/jobs/?status=processed&q=Leavers", 9, 15),
    ("/tools/certification-removal/", 7, 13),
    ("/jobs/{job}/", 9, 15),
    ("/jobs/{job}/?outcome=error", 9, 15),
    ("/certifications/", 7, 10),
    ("/certifications/{certification}/users/", 12, 18),
    ("/certifications/{certification}/users/?q=user", 12, 18),
    ("/people/", 10, 16),
    ("/people/?q=user", 10, 16),
    ("/people/{learner}/", 23, 29),
    ("/licences/", 9, 15),
    ("/licences/?status=expiring&days=400", 9, 15),
    ("/licences/?status=expired", 8, 14),
    ("/licences/?unit={unit}", 10, 16),
    ("/licences/?q=RN-1", 9, 15),
    ("/audit/", 6, 12),
    ("/catalogue/", 8, 11),
    ("/catalogue/activities/{activity}/", 14, 20),
    ("/catalogue/unenrolment-imports/", 6, 12),
]
# Lists whose first page shows the first learner.
LIST_LEARNERS = {
    "/people/",
    "/people/?q=user",
    "/licences/",
    "/licences/?unit={unit}",
    "/certifications/{certification}/users/",
    "/catalogue/activities/{activity}/",
    "/api/v1/users/?search=user",
    "/api/v1/licenses/",
    "/api/v1/certifications/{certification}/awards/",
    "/api/v1/enrollments/?activity={activity}",
}
ENDPOINTS = [
    ("/api/v1/jobs/", 3, 9),
    ("/api/v1/jobs/{job}/rows/?outcome=error", 4, 10),
    ("/api/v1/certifications/", 3, 6),
    ("/api/v1/certifications/{certification}/awards/", 5, 8),
    ("/api/v1/certifications/{certification}/awards/?search=user", 5, 8),
    ("/api/v1/users/?search=user", 3, 9),
    ("/api/v1/users/{learner}/", 10, 16),
    ("/api/v1/users/{learner}/history/", 13, 19),
    ("/api/v1/licenses/", 3, 9),
    ("/api/v1/licenses/?status=expired", 3, 9),
    ("/api/v1/license-types/", 3, 6),
    ("/api/v1/audit-events/", 2, 8),
    ("/api/v1/activities/", 4, 7),
    ("/api/v1/enrollments/?activity={activity}", 3, 6),
    ("/api/v1/groups/", 2, 7),
    ("/api/v1/org-units/", 3, 9),
    ("/api/v1/workers/", 2, 5),
    ("/api/v1/job-kinds/", 1, 4),
]


def signed_in(user: User, api: bool) -> Client | APIClient:
    if api:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return client
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("depth", [2, 8])
@pytest.mark.parametrize("who", ["superuser", "division"])
@pytest.mark.parametrize(
    ("path", "most", "api"),
    [(p, (s, d), False) for p, s, d in PAGES] + [(p, (s, d), True) for p, s, d in ENDPOINTS],
)
def test_a_list_takes_a_bounded_number_of_queries_whatever_the_depth_of_the_tree(
    db, depth, who, path, most, api, django_assert_max_num_queries
):
    world = build(depth)
    client = signed_in(world[who], api)
    url = path.format(**world)
    with django_assert_max_num_queries(most[0] if who == "superuser" else most[1]):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if path in LIST_LEARNERS:
        # the lists show the division's learners, to the constrained administrator too, not nothing
        body = response.content.decode()
        assert world["learner"] in body or f'"{world["username"]}"' in body, url
