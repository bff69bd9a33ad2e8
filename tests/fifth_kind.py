"""A fifth job kind that exists only in the tests: add users to groups from a file.

It is the whole of what a new kind takes: this module and a line in ``CERTDESK_JOB_KINDS``. Its
permission is new (created after migrate by the engine), its pages are the generic ones, and it uses
only engine and domain APIs: set-based validation and apply, a few queries a batch or a chunk.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bulk.intake import Column, Row
from bulk.kind import JobKind, Leftover, StagedRow, UploadPage, Validation
from bulk.models import Job, JobRow
from bulk.staging import mark_seqs
from people.models import Group, User

GROUP = "Group"
USERNAME = "Username"
PERMISSION = "bulk.import_group_members"
Membership = Group.members.through


class GroupMembers(JobKind):
    slug = "group-members"
    label = "Group members"
    tool_name = "Add group members"
    permission = PERMISSION
    permission_name = "Add users to groups from a file"
    columns = [
        Column(GROUP, help="The name of an existing group."),
        Column(USERNAME, help="The username of the user to add."),
    ]
    key_column = USERNAME
    strict = False
    upload = UploadPage(
        heading="Add users to groups from a file",
        intro="One row per user and group; a user already in the group is skipped.",
        queued_message="The users are being added to their groups.",
    )
    result_labels = {"pending": "Not processed", "succeeded": "Added", "skipped": "Skipped", "error": "Error"}
    preview_labels = {"pending": "Would add", "skipped": "Skipped", "error": "Error"}
    outcome_messages = {"succeeded": "Added to the group."}

    def validation(self, actor: User) -> GroupMembersValidation:
        return GroupMembersValidation(actor)

    def apply_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        pending = self.pending_rows(job, lo, hi)
        Membership.objects.bulk_create(
            [Membership(group_id=group, user_id=user) for _, user, group, _ in pending], ignore_conflicts=True
        )
        mark_seqs(job, [seq for seq, *_ in pending], JobRow.Outcome.SUCCEEDED)
        return []  # every pending row was applied

    def example_rows(self) -> list[list[str]]:
        return [["Auditors", "ada"], ["Auditors", "grace"]]


class GroupMembersValidation(Validation):
    """Each row must name a group and a user that exist; a pair already joined, or repeated, is skipped."""

    def __init__(self, actor: User) -> None:
        super().__init__(actor)
        self.first_row: dict[tuple[int, int], int] = {}

    def check(self, rows: list[Row]) -> list[StagedRow]:
        groups = dict(
            Group.objects.filter(name__in={r.values[GROUP] for r in rows}).values_list("name", "id")
        )
        users = dict(
            User.objects.filter(username__in={r.values[USERNAME] for r in rows}).values_list("username", "id")
        )
        joined = set(
            Membership.objects.filter(group_id__in=groups.values(), user_id__in=users.values()).values_list(
                "group_id", "user_id"
            )
        )
        staged_rows = []
        for row in rows:
            group_name, username = row.values[GROUP], row.values[USERNAME]
            staged = StagedRow(seq=row.seq, row_number=row.row_number, cells=row.cells, key=username or "")
            staged_rows.append(staged)
            errors: list[Any] = [p.message for p in row.problems]
            if group_name and group_name not in groups:
                errors.append(f"No group is named '{group_name}'.")
            if username and username not in users:
                errors.append(f"No user has the username '{username}'.")
            if errors:
                staged.outcome, staged.message = JobRow.Outcome.ERROR, " ".join(errors)
                continue
            pair = (groups[group_name], users[username])
            staged.target_id, staged.user_id = pair
            if pair in joined:
                staged.outcome, staged.message = JobRow.Outcome.SKIPPED, f"Already a member of {group_name}."
            elif pair in self.first_row:
                staged.outcome = JobRow.Outcome.SKIPPED
                staged.message = f"Repeats row {self.first_row[pair]}."
            else:
                self.first_row[pair] = row.row_number
        return staged_rows
