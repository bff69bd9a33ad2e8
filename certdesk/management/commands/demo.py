"""``certdesk demo``: a demo organisation to try everything on. Safe to run again: it changes nothing
that is already there."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from access.models import Grant, Role
from credentials.models import Award, Certification, License, LicenseType
from learning.models import Activity, Enrollment, ExternalActivity
from people.models import Group, OrgUnit, User

DIVISIONS = {
    "DIV-A": ("Division A", ["Nursing", "Pharmacy", "Theatres"]),
    "DIV-B": ("Division B", ["Logistics", "Estates", "Catering"]),
    "DIV-C": ("Division C", ["Finance", "People Services", "Digital"]),
}
CERTIFICATIONS = [
    ("CERT-001", "Basic Life Support", 365),
    ("CERT-002", "Fire Safety Awareness", 365),
    ("CERT-003", "Manual Handling", 730),
    ("CERT-004", "Information Governance", 365),
    ("CERT-005", "Infection Prevention and Control", 730),
    ("CERT-006", "Safeguarding Adults Level 2", 1095),
    ("CERT-007", "Food Hygiene Level 2", 1095),
    ("CERT-008", "Forklift Operator", 1095),
    ("CERT-009", "Equality, Diversity and Human Rights", None),
    ("CERT-010", "Medicines Management", 365),
]
FIRST_NAMES = [
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Mia",
    "Arthur",
    "Ivy",
    "Leo",
    "Freya",
    "Oscar",
    "Lily",
    "Harry",
    "Grace",
    "Jack",
    "Sofia",
    "Theo",
    "Ella",
    "Finley",
    "Aisha",
    "Mohammed",
    "Priya",
    "Chen",
    "Zofia",
    "Tomasz",
    "Niamh",
    "Kwame",
    "Ana",
    "Luca",
]
LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Wright",
    "Khan",
    "Walker",
    "Evans",
    "Thomas",
    "Roberts",
    "Nowak",
    "Murphy",
    "Okafor",
    "Silva",
    "Rossi",
    "Kowalski",
    "Ahmed",
    "Hughes",
    "Green",
    "Lewis",
    "Clarke",
    "Singh",
    "Hall",
    "Wood",
    "Young",
]
LEARNERS = 2000
LICENCE_TYPES = [
    ("RN", "Registered Nurse", "State Board of Nursing", True),
    ("LPN", "Licensed Practical Nurse", "State Board of Nursing", True),
    ("CNA", "Certified Nursing Assistant", "State Department of Health", True),
    ("RPH", "Registered Pharmacist", "State Board of Pharmacy", True),
    ("BLS", "Basic Life Support", "American Heart Association", False),
    ("ACLS", "Advanced Cardiovascular Life Support", "American Heart Association", False),
]
# external reference, type, title, share of learners enrolled, session start (days from now)
ACTIVITIES = [
    ("FS-COURSE", "course", "Fire Safety Awareness (e-learning)", 0.6, 0),
    ("MH-COURSE", "course", "Manual Handling Essentials", 0.5, 0),
    ("IG-2026", "course", "Information Governance 2026", 0.7, 0),
    ("BLS-COURSE", "course", "Basic Life Support: theory", 0.3, 0),
    ("FW-2026-03", "session", "Fire Warden Workshop, March", 0.05, -60),
    ("FW-2026-12", "session", "Fire Warden Workshop, December", 0.05, 20),
    ("BLS-PRAC-01", "session", "Basic Life Support: practical assessment", 0.08, 10),
    ("FORK-REFRESH", "session", "Forklift Refresher", 0.03, 35),
    ("NEW-STARTER", "learning_plan", "New Starter Induction", 0.15, 0),
    (None, "course", "Leadership Foundations (draft)", 0.0, 0),
]
DEMO_PASSWORD = "certdesk"
# The learners the bundled example files name (each kind's example_rows): username, User ID, names.
EXAMPLE_LEARNERS = [
    ("amelia.smith1", "EX-0001", "Amelia", "Smith"),
    ("oliver.jones2", "EX-0002", "Oliver", "Jones"),
    ("isla.taylor3", "EX-0003", "Isla", "Taylor"),
]
ADMINS = [
    # username, first, last, division, superuser, role
    ("admin", "Ada", "Admin", None, True, None),
    ("alice", "Alice", "Archer", "DIV-A", False, "Division administrator"),
    ("bob", "Bob", "Baker", "DIV-B", False, "Division administrator"),
    ("carol", "Carol", "Cole", "DIV-A", False, "Division B auditor"),
    ("dan", "Dan", "Dale", "DIV-C", False, "Global administrator"),
    ("erin", "Erin", "Ellis", "DIV-A", False, "Content administrator"),
    ("sam", "Sam", "Shaw", "DIV-A-NURSING", False, "Supervisor"),
]
REMOVAL = ("bulk", "manage_certification_removal")
VIEW_CERTIFICATIONS = ("credentials", "view_certification")
IMPORT_UNENROLMENTS = ("bulk", "import_unenrolments")
VIEW_CATALOGUE = ("learning", "view_activity")
EDIT_ACTIVITIES = ("learning", "change_activity")
EDIT_EMAILS = ("learning", "change_emailtemplate")
AWARD = ("credentials", "award_certification")
COMPLETE = ("learning", "change_enrollment")
RECORD_EXTERNAL = ("learning", "add_externaltrainingrecord")
IMPORT_LICENCES = ("credentials", "import_licenses")
MANAGE_LICENCES = ("credentials", "manage_licenses")
VIEW_AUDIT_LOG = ("audit", "view_audit_log")
MANAGE_CERTIFICATIONS = ("credentials", "manage_certifications")
MANAGE_ROLES = ("access", "manage_roles")
MANAGE_WEBHOOKS = ("webhooks", "manage_webhooks")
# (permission, constraint, constrained to org unit codes)
GrantSpec = tuple[tuple[str, str], str, list[str]]
CONTENT: list[GrantSpec] = [
    (IMPORT_UNENROLMENTS, "all", []),
    (VIEW_CATALOGUE, "all", []),
    (EDIT_ACTIVITIES, "all", []),
    (EDIT_EMAILS, "all", []),
    (COMPLETE, "all", []),
    (RECORD_EXTERNAL, "all", []),
]
# role name -> description, [(permission, constraint, constrained to org unit codes)]
ROLES: dict[str, tuple[str, list[GrantSpec]]] = {
    "Global administrator": (
        "Manages certification removal and unenrolments for the whole organisation.",
        [
            (REMOVAL, "all", []),
            (VIEW_CERTIFICATIONS, "all", []),
            (AWARD, "all", []),
            (IMPORT_LICENCES, "all", []),
            (MANAGE_LICENCES, "all", []),
            (VIEW_AUDIT_LOG, "all", []),
            (MANAGE_CERTIFICATIONS, "all", []),
            (MANAGE_ROLES, "all", []),
            (MANAGE_WEBHOOKS, "all", []),
            *CONTENT,
        ],
    ),
    "Supervisor": (
        "Manages the licences of the learners in their own units.",
        [(MANAGE_LICENCES, "own_units", [])],
    ),
    "Content administrator": (
        "Manages the catalogue: external references, unenrolment imports and the unenrolment email.",
        CONTENT,
    ),
    "Division administrator": (
        "Manages certification removal and awards; sees the jobs of administrators in their own division, "
        "and awards certifications to its people only.",
        [(REMOVAL, "own_units", []), (VIEW_CERTIFICATIONS, "all", []), (AWARD, "own_units", [])],
    ),
    "Division B auditor": (
        "Sits in Division A but oversees Division B: sees their own jobs and Division B's, and what "
        "Division B's administrators changed in the audit log.",
        [
            (REMOVAL, "org_units", ["DIV-B"]),
            (VIEW_CERTIFICATIONS, "all", []),
            (VIEW_AUDIT_LOG, "org_units", ["DIV-B"]),
        ],
    ),
}


class Command(BaseCommand):
    help = "Load a demo organisation: divisions, about 2,000 users, 10 certifications with awards, admins."

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(20261123)
        with transaction.atomic():
            units = self.org_units()
            self.admins(units)
            learners = self.learners(units, rng)
            self.groups(learners)
            awarded = self.awards(learners, rng)
            enrolled = self.catalogue(learners, rng)
            self.automatic_awards()
            self.licences(learners, rng)
            self.example_learners(units)
        self.stdout.write(
            f"Demo organisation ready: {User.objects.count():,} users, {Certification.objects.count()} "
            f"certifications, {awarded:,} new awards, {Activity.objects.count()} activities, "
            f"{enrolled:,} new enrolments.\n"
            "Sign in as admin (superuser), dan (global administrator), alice (Division A), bob (Division B), "
            f"carol (Division A, overseeing Division B), erin (content administrator) or sam (supervisor, Nursing); the password is "
            f"'{DEMO_PASSWORD}'."
        )

    def org_units(self) -> dict[str, OrgUnit]:
        units: dict[str, OrgUnit] = {}
        for code, (name, departments) in DIVISIONS.items():
            division, _ = OrgUnit.objects.get_or_create(
                code=code, defaults={"name": name, "kind": "Division"}
            )
            units[code] = division
            for department in departments:
                dept_code = f"{code}-{department.upper().replace(' ', '-')[:12]}"
                unit, _ = OrgUnit.objects.get_or_create(
                    code=dept_code, defaults={"name": department, "kind": "Department", "parent": division}
                )
                units[dept_code] = unit
        return units

    def roles(self, units: dict[str, OrgUnit]) -> dict[str, Role]:
        roles = {}
        for name, (description, grants) in ROLES.items():
            role, _ = Role.objects.get_or_create(name=name, defaults={"description": description})
            roles[name] = role
            for (app_label, codename), scope, unit_codes in grants:
                permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
                if role.grants.filter(permission=permission).exists():
                    continue  # an administrator may have changed it since: leave it alone
                grant = Grant.objects.create(role=role, permission=permission, scope=scope)
                grant.org_units.set([units[code] for code in unit_codes])
        return roles

    def admins(self, units: dict[str, OrgUnit]) -> None:
        roles = self.roles(units)
        for username, first, last, division, superuser, role in ADMINS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "user_id": f"ADM-{username.upper()}",
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@demo.certdesk.test",
                    "is_staff": True,
                    "is_superuser": superuser,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                if division:
                    user.org_units.add(units[division])
                if role:
                    roles[role].members.add(user)

    def learners(self, units: dict[str, OrgUnit], rng: random.Random) -> list[User]:
        departments = [u for u in units.values() if u.parent_id]
        existing = set(User.objects.filter(user_id__startswith="U").values_list("user_id", flat=True))
        new_users = []
        for n in range(1, LEARNERS + 1):
            user_id = f"U{n:06d}"
            if user_id in existing:
                continue
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            new_users.append(
                User(
                    user_id=user_id,
                    username=f"{first.lower()}.{last.lower()}{n}",
                    first_name=first,
                    last_name=last,
                    email=f"{first.lower()}.{last.lower()}{n}@demo.certdesk.test",
                    password="!",  # learners do not sign in to certdesk
                )
            )
        User.objects.bulk_create(new_users, batch_size=1000)
        learners = list(User.objects.filter(user_id__startswith="U").order_by("user_id"))
        membership = User.org_units.through
        already = set(membership.objects.filter(user__in=learners).values_list("user_id", flat=True))
        membership.objects.bulk_create(
            [
                membership(user_id=u.pk, orgunit_id=rng.choice(departments).pk)
                for u in learners
                if u.pk not in already
            ],
            batch_size=1000,
        )
        return learners

    def groups(self, learners: list[User]) -> None:
        for name, step in (("New starters 2026", 17), ("Night shift", 11), ("Fire wardens", 29)):
            group, created = Group.objects.get_or_create(name=name)
            if created:
                group.members.add(*learners[::step])

    def awards(self, learners: list[User], rng: random.Random) -> int:
        today = timezone.localdate()
        created = 0
        for index, (code, title, validity) in enumerate(CERTIFICATIONS):
            certification, _ = Certification.objects.get_or_create(
                code=code, defaults={"title": title, "validity_days": validity, "renewal_window_days": 30}
            )
            if certification.awards.exists():
                continue  # awarded before: leave history (and removals) alone
            share = 0.8 - index * 0.07
            holders = [u for u in learners if rng.random() < share]
            awards = []
            for user in holders:
                issued = today - dt.timedelta(days=rng.randint(0, 700))
                expires = certification.default_expiration(issued)
                awards.append(
                    Award(
                        user=user,
                        certification=certification,
                        issue_date=issued,
                        expiration_date=expires,
                        always_valid=expires is None,
                        association_type=rng.choice(list(Award.AssociationType.values)),
                        external_activity="",
                    )
                )
            for award in awards:
                if award.association_type == Award.AssociationType.EXTERNAL_TRAINING:
                    award.external_activity = "Regional training day"
            Award.objects.bulk_create(awards, batch_size=1000)
            created += len(awards)
        return created

    def catalogue(self, learners: list[User], rng: random.Random) -> int:
        """Courses and sessions with external references, and enrolments, some completed."""
        now = timezone.now()
        created = 0
        for reference, activity_type, title, share, days_from_now in ACTIVITIES:
            starts = (
                now + dt.timedelta(days=days_from_now) if activity_type == Activity.Type.SESSION else None
            )
            activity, _ = Activity.objects.get_or_create(
                title=title,
                defaults={
                    "type": activity_type,
                    "external_reference": reference,
                    "starts_at": starts,
                    "ends_at": starts + dt.timedelta(hours=3) if starts else None,
                },
            )
            if activity.enrollments.exists():
                continue  # enrolled before: leave history (and unenrolments) alone
            enrolments = []
            for user in learners:
                if rng.random() >= share:
                    continue
                enrolled_at = now - dt.timedelta(days=rng.randint(30, 400))
                # Past sessions were attended by most; about half of course learners have completed.
                done = (days_from_now < 0 and rng.random() < 0.8) or (
                    activity_type != Activity.Type.SESSION and rng.random() < 0.5
                )
                enrolments.append(
                    Enrollment(
                        user=user,
                        activity=activity,
                        enrolled_at=enrolled_at,
                        status=Enrollment.Status.COMPLETED if done else Enrollment.Status.ENROLLED,
                        completed_on=(enrolled_at + dt.timedelta(days=rng.randint(1, 25))).date()
                        if done
                        else None,
                    )
                )
            Enrollment.objects.bulk_create(enrolments, batch_size=1000)
            created += len(enrolments)
        return created

    def automatic_awards(self) -> None:
        """Certifications awarded on completing an activity or a recorded external training."""
        links = {
            "CERT-001": ["BLS-PRAC-01"],
            "CERT-002": ["FS-COURSE", "FW-2026-03"],
            "CERT-003": ["MH-COURSE"],
        }
        for code, references in links.items():
            certification = Certification.objects.get(code=code)
            if not certification.activities.exists():
                certification.activities.add(*Activity.objects.filter(external_reference__in=references))
        regional, _ = ExternalActivity.objects.get_or_create(
            title="Regional training day", defaults={"provider": "Regional Health Education Board"}
        )
        safeguarding = Certification.objects.get(code="CERT-006")
        if not safeguarding.external_activities.exists():
            safeguarding.external_activities.add(regional)

    def example_learners(self, units: dict[str, OrgUnit]) -> None:
        """The learners the example files name, as the examples expect them the first time: Oliver
        holds a BLS licence and Isla RN-110023 (the licence example edits and deletes them, and adds
        Amelia's RN); Amelia and Oliver are enrolled in FS-COURSE and Isla in MH-COURSE (the
        unenrolment example unenrols them). Created once; what an administrator changes stays."""
        types = {t.code: t for t in LicenseType.objects.all()}
        activities = {
            a.external_reference: a
            for a in Activity.objects.filter(external_reference__in=["FS-COURSE", "MH-COURSE"])
        }
        for username, user_id, first, last in EXAMPLE_LEARNERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "user_id": user_id,
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@demo.certdesk.test",
                    "password": "!",
                },
            )
            if not created:
                continue
            user.org_units.add(units["DIV-A-NURSING"])
            held = {"oliver.jones2": ("BLS", ""), "isla.taylor3": ("RN", "RN-110023")}.get(username)
            if held:
                licence_type = types[held[0]]
                License.objects.create(
                    user=user,
                    license_type=licence_type,
                    number=held[1],
                    issuing_authority=licence_type.issuing_authority,
                    issue_date=timezone.localdate() - dt.timedelta(days=200),
                    expiration_date=timezone.localdate() + dt.timedelta(days=530),
                )
            reference = "MH-COURSE" if username == "isla.taylor3" else "FS-COURSE"
            Enrollment.objects.create(
                user=user,
                activity=activities[reference],
                enrolled_at=timezone.now(),
                status=Enrollment.Status.ENROLLED,
            )

    def licences(self, learners: list[User], rng: random.Random) -> None:
        """The available licences, and licences for the nursing and pharmacy staff."""
        for code, name, authority, numbered in LICENCE_TYPES:
            LicenseType.objects.get_or_create(
                code=code,
                defaults={"name": name, "issuing_authority": authority, "number_required": numbered},
            )
        if License.objects.exists():
            return  # loaded before: leave changes (and deletions) alone
        types = {t.code: t for t in LicenseType.objects.all()}
        today = timezone.localdate()
        in_units = set(
            User.objects.filter(org_units__code__in=["DIV-A-NURSING", "DIV-A-PHARMACY"]).values_list(
                "pk", flat=True
            )
        )
        clinical = [u for u in learners if u.pk in in_units]
        licences = []
        for n, user in enumerate(clinical):
            for code in ("RN", "BLS") if n % 3 else ("LPN", "BLS", "ACLS"):
                issued = today - dt.timedelta(days=rng.randint(30, 900))
                licence_type = types[code]
                licences.append(
                    License(
                        user=user,
                        license_type=licence_type,
                        number=f"{code}-{100000 + n}" if licence_type.number_required else "",
                        issuing_authority=licence_type.issuing_authority,
                        issue_date=issued,
                        expiration_date=issued + dt.timedelta(days=730),
                    )
                )
        License.objects.bulk_create(licences, batch_size=1000)
