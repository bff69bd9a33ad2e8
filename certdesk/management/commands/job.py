"""``certdesk job …``: submit, list, show, start and download the results of bulk jobs.

Every subcommand acts as a user (``--as USERNAME`` or ``CERTDESK_USER``), with that user's
permissions: the CLI sees exactly what the API and the pages would show them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from access.policy import NotAllowed, permission_label
from api.serializers import JobSerializer
from base.filters import BadFilter
from base.problems import FileRejected, Problem, listing, report
from bulk import results, services, worker
from bulk.filters import JobFilter
from bulk.heartbeat import alive_workers
from bulk.models import Job
from bulk.registry import UnknownKind, all_kinds, get_kind, registry
from bulk.samples import sample_file, sample_formats
from bulk.visibility import jobs_visible_to, may_manage_jobs
from certdesk.cli import EXIT_JOB_FAILED, EXIT_NOT_ALLOWED, EXIT_REJECTED, EXIT_USAGE
from people.models import User

WAIT_POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Bulk jobs: submit, list, show, start, results."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        def with_actor(p: Any) -> Any:
            p.add_argument(
                "--as",
                dest="as_user",
                metavar="USERNAME",
                default=os.environ.get("CERTDESK_USER"),
                help="Act as this user, with their permissions (default: $CERTDESK_USER).",
            )
            p.add_argument("--json", action="store_true", help="Print JSON instead of text.")
            return p

        submit = with_actor(sub.add_parser("submit", help="Validate a file and queue it as a job."))
        submit.add_argument(
            "kind", choices=sorted(registry()), metavar="KIND", help=", ".join(sorted(registry()))
        )
        submit.add_argument("file", metavar="FILE")
        submit.add_argument("--title", required=True, help="Job Title (required, up to 100 characters).")
        submit.add_argument("--comment", default="", help="Shown to other administrators on the job.")
        submit.add_argument(
            "--validate-only",
            action="store_true",
            help="Check the file and write the results file of what would happen; change nothing.",
        )
        submit.add_argument(
            "--wait",
            action="store_true",
            help="Wait for the job to end (running it here if no worker takes it).",
        )

        listing = with_actor(sub.add_parser("list", help="List the jobs you may see."))
        listing.add_argument("--kind", choices=sorted(registry()))
        listing.add_argument("--status", choices=Job.Status.values)
        listing.add_argument("--search", help="Text in the job title.")
        listing.add_argument("--since", help="Created on or after this date (YYYY-MM-DD).")
        listing.add_argument("--until", help="Created on or before this date (YYYY-MM-DD).")
        listing.add_argument("--limit", type=int, default=50)

        show = with_actor(sub.add_parser("show", help="Show one job."))
        show.add_argument("id", type=int)

        start = with_actor(sub.add_parser("start", help="Queue a draft or verified job."))
        start.add_argument("id", type=int)
        start.add_argument("--wait", action="store_true")

        restore = with_actor(sub.add_parser("restore", help="Undo a processed job with a new job."))
        restore.add_argument("id", type=int)
        restore.add_argument("--wait", action="store_true")

        approve = with_actor(
            sub.add_parser("approve", help="Approve a job awaiting approval (not your own).")
        )
        approve.add_argument("id", type=int)
        reject = with_actor(sub.add_parser("reject", help="Reject a job awaiting approval, with the reason."))
        reject.add_argument("id", type=int)
        reject.add_argument("--reason", required=True, help="Why: the creator sees it on the job's page.")

        discard = with_actor(
            sub.add_parser("discard", help="Delete a draft or verified job, with its files.")
        )
        discard.add_argument("id", type=int)

        example = sub.add_parser(
            "example", help="Write a kind's example file (it validates against the demo organisation)."
        )
        example.add_argument("kind")
        example.add_argument("--format", default="csv", help="csv (default), txt, xml, xml-2003 or xlsx")
        example.add_argument("--template", action="store_true", help="The header only, to fill in.")
        example.add_argument("-o", "--output", help="File to write (default: the file's own name).")

        results = with_actor(sub.add_parser("results", help="Write a job's results file."))
        results.add_argument("id", type=int)
        results.add_argument("-o", "--output", help="File to write (default: standard output).")

    # --- helpers ---------------------------------------------------------------------------

    def actor(self, username: str | None) -> User:
        if not username:
            raise CommandError(
                "Say who is acting: --as USERNAME (or set CERTDESK_USER).", returncode=EXIT_USAGE
            )
        user = User.objects.filter(username=username).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user has the username '{username}'.", returncode=EXIT_USAGE)
        return user

    def require_some_kind(self, user: User) -> None:
        """Exit 3, naming the permissions that would help, when the user may manage no kind of job."""
        if may_manage_jobs(user):
            return
        needed = sorted({permission_label(kind.permission) for kind in all_kinds()})
        raise CommandError(
            f"{user.username} may not manage any kind of bulk job: the permission "
            + " or ".join(f"'{name}'" for name in needed)
            + " is needed.",
            returncode=EXIT_NOT_ALLOWED,
        )

    def visible_job(self, user: User, job_id: int) -> Job:
        self.require_some_kind(user)
        job = jobs_visible_to(user).select_related("created_by").filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"Job {job_id} not found.", returncode=EXIT_USAGE)
        return job

    def emit_json(self, data: Any) -> None:
        self.stdout.write(json.dumps(data, indent=2, default=str))

    def describe(self, job: Job) -> str:
        kind = get_kind(job.kind)
        labels = kind.labels_for(job)
        lines = [
            f"Job {job.pk}: {job.title}",
            f"  Kind:        {kind.label} ({job.kind})",
            f"  Status:      {job.get_status_display()}",
            f"  Created by:  {job.created_by.display_name} ({job.created_by.username})",
            f"  Created:     {job.created_at:%Y-%m-%d %H:%M}",
        ]
        if job.processed_at:
            lines.append(f"  Processed:   {job.processed_at:%Y-%m-%d %H:%M}")
        if job.comment:
            lines.append(f"  Comment:     {job.comment}")
        summary = job.params.get("summary") or {}
        if summary.get("certification"):
            cert = summary["certification"]
            lines.append(f"  Certification: {cert['code']} — {cert['title']}")
        lines.append(f"  Rows:        {job.total} ({job.rows_done} processed, {job.progress:.0%})")
        if job.status == Job.Status.VERIFIED:
            counts = job.outcome_counts()
            lines.append(
                "  Would be:    " + ", ".join(f"{labels.get(o, o)} {n}" for o, n in counts.items() if n)
            )
        else:
            lines.append(
                f"  Outcomes:    {labels['succeeded']} {job.succeeded}, Skipped {job.skipped}, Error {job.failed}"
            )
        approval = job.params.get("approval") or {}
        if job.status == Job.Status.AWAITING_APPROVAL:
            lines.append(
                f"  Approval:    {approval.get('reason', '')} Another administrator approves it with"
            )
            lines.append(
                f"               certdesk job approve {job.pk}, or rejects it with certdesk job reject {job.pk} --reason …"
            )
        rejection = job.params.get("rejection") or {}
        if rejection and job.status in Job.STARTABLE:
            lines.append(f"  Rejected by: {rejection.get('by')}: {rejection.get('reason')}")
        for warning in job.warnings:
            lines.append(f"  Warning:     {warning}")
        if job.failure_reason:
            lines.append(f"  Failure:     {job.failure_reason}")
        if job.results_file:
            lines.append(f"  Results:     certdesk job results {job.pk} -o results.csv")
        return "\n".join(lines)

    def rejected(
        self,
        problems: list[Problem],
        headlines: list[str],
        as_json: bool,
        code: int,
        lead: str = "The file was rejected: ",
        total: int | None = None,
    ) -> None:
        limit = settings.CERTDESK_MAX_LISTED_PROBLEMS
        if as_json:
            self.emit_json(report(problems, headlines, limit, total))
        else:
            self.stderr.write(lead + "; ".join(headlines))
            shown = listing(problems, limit, total)
            for problem in shown.listed:
                self.stderr.write(f"  {problem.located(nowhere='File')}")
            if shown.more:
                self.stderr.write(f"  … and {shown.more} more problems not shown.")
        raise SystemExit(code)

    def wait(self, job: Job, as_json: bool) -> Job:
        owner = worker.worker_id("cli")
        bar = ProgressBar(
            self.stderr._out if hasattr(self.stderr, "_out") else sys.stderr, enabled=not as_json
        )
        while True:
            job.refresh_from_db()
            # A job awaiting approval runs once a second administrator approves it: not while we wait.
            if job.is_finished or job.status == Job.Status.AWAITING_APPROVAL:
                break
            # A running worker takes the job; with none alive, this command runs it itself.
            claimed = None if alive_workers().exists() else worker.claim_job(owner, job_id=job.pk)
            if claimed is not None:
                job = worker.run_job(claimed, owner, on_progress=bar.update)
                continue
            bar.update(job)
            time.sleep(WAIT_POLL_SECONDS)
        bar.finish(job)
        return job

    # --- subcommands -----------------------------------------------------------------------

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "example":  # a file anyone may have: no one acts
            self.do_example(**options)
            return
        user = self.actor(options["as_user"])
        try:
            getattr(self, f"do_{action}")(user, **options)
        except NotAllowed as exc:
            raise CommandError(str(exc), returncode=EXIT_NOT_ALLOWED) from exc
        except BadFilter as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc

    def do_submit(
        self,
        user: User,
        *,
        kind: str,
        file: str,
        title: str,
        comment: str,
        validate_only: bool,
        wait: bool,
        json: bool,
        **options: Any,
    ) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}", returncode=EXIT_USAGE)
        try:
            with path.open("rb") as stream:
                submission = services.submit(
                    kind,
                    stream,
                    path.name,
                    actor=user,
                    title=title,
                    comment=comment,
                    validate_only=validate_only,
                    start=not validate_only,
                )
        except services.JobInputError as exc:
            # Not the file's fault (e.g. the title): say so, rather than "the file was rejected".
            self.rejected(
                exc.problems, [p.message for p in exc.problems], json, EXIT_USAGE, lead="Not submitted: "
            )
            return
        except FileRejected as exc:
            self.rejected(exc.problems, exc.headlines, json, EXIT_REJECTED, total=exc.total)
            return
        job = submission.job
        if wait and not validate_only:
            job = self.wait(job, json)
        if json:
            self.emit_json(JobSerializer(job).data)
        else:
            self.stdout.write(self.describe(job))
        if job.status == Job.Status.FAILED:
            raise SystemExit(EXIT_JOB_FAILED)

    def do_list(
        self,
        user: User,
        *,
        kind: str | None,
        status: str | None,
        search: str | None,
        since: str | None,
        until: str | None,
        limit: int,
        json: bool,
        **options: Any,
    ) -> None:
        self.require_some_kind(user)
        jobs = (
            JobFilter(
                {
                    "kind": kind,
                    "status": status,
                    "search": search,
                    "created_after": since,
                    "created_before": until,
                },
                jobs_visible_to(user),
                labels={"created_after": "--since", "created_before": "--until"},
            )
            .narrowed()
            .select_related("created_by")[:limit]
        )
        if json:
            self.emit_json(JobSerializer(jobs, many=True).data)
            return
        self.stdout.write(
            f"{'ID':>6}  {'Status':<12} {'Created':<16} {'Processed':<16} {'Created by':<16} Title"
        )
        for job in jobs:
            processed = f"{job.processed_at:%Y-%m-%d %H:%M}" if job.processed_at else ""
            self.stdout.write(
                f"{job.pk:>6}  {job.get_status_display():<12} {job.created_at:%Y-%m-%d %H:%M} {processed:<16} "
                f"{job.created_by.username[:16]:<16} {job.title}"
            )

    def do_show(self, user: User, *, id: int, json: bool, **options: Any) -> None:
        job = self.visible_job(user, id)
        if json:
            self.emit_json(JobSerializer(job).data)
        else:
            self.stdout.write(self.describe(job))

    def do_start(self, user: User, *, id: int, wait: bool, json: bool, **options: Any) -> None:
        self.queue_and_report(user, id, services.start_job, wait=wait, as_json=json)

    def do_restore(self, user: User, *, id: int, wait: bool, json: bool, **options: Any) -> None:
        self.queue_and_report(user, id, services.restore_job, wait=wait, as_json=json)

    def do_example(
        self, *, kind: str, format: str, template: bool, output: str | None, **options: Any
    ) -> None:
        try:
            job_kind = get_kind(kind)
        except UnknownKind as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        if format not in sample_formats(job_kind):
            offered = ", ".join(sample_formats(job_kind))
            raise CommandError(
                f"'{format}' is not offered for {kind}: use one of {offered}.", returncode=EXIT_USAGE
            )
        content, filename, _ = sample_file(job_kind, format, example=not template)
        path = Path(output or filename)
        path.write_bytes(content)
        self.stdout.write(f"Wrote {path} ({len(content):,} bytes).")

    def do_approve(self, user: User, *, id: int, json: bool = False, **options: Any) -> None:
        self.queue_and_report(user, id, services.approve_job, wait=False, as_json=json)

    def do_reject(self, user: User, *, id: int, reason: str, json: bool = False, **options: Any) -> None:
        job = self.visible_job(user, id)
        try:
            job = services.reject_job(job, user, reason)
        except services.JobInputError as exc:
            raise CommandError(exc.problems[0].message, returncode=EXIT_USAGE) from exc
        self.stdout.write(self.describe(job))

    def do_discard(self, user: User, *, id: int, **options: Any) -> None:
        job = self.visible_job(user, id)
        try:
            services.discard_job(job, user)
        except services.JobInputError as exc:
            raise CommandError(exc.problems[0].message, returncode=EXIT_USAGE) from exc
        self.stdout.write(f"Job {job.pk} “{job.title}” discarded, with its files.")

    def queue_and_report(self, user: User, job_id: int, queue: Any, *, wait: bool, as_json: bool) -> None:
        """Queue a job (``queue(job, user)`` returns the queued job), optionally wait, then show it."""
        try:
            job = queue(self.visible_job(user, job_id), user)
        except services.JobInputError as exc:
            raise CommandError(exc.problems[0].message, returncode=EXIT_USAGE) from exc
        if wait:
            job = self.wait(job, as_json)
        if as_json:
            self.emit_json(JobSerializer(job).data)
        else:
            self.stdout.write(self.describe(job))
        if job.status == Job.Status.FAILED:
            raise SystemExit(EXIT_JOB_FAILED)

    def do_results(self, user: User, *, id: int, output: str | None, **options: Any) -> None:
        job = self.visible_job(user, id)
        if not job.results_file:
            raise CommandError(
                f"Job {id} has no results file yet: it is written when the job ends or is verified "
                f"(status now: {job.get_status_display()}).",
                returncode=EXIT_USAGE,
            )
        # Copied a block at a time from wherever the storage keeps it (local disk or a bucket).
        with results.open_results(job) as stream:
            if output:
                with Path(output).open("wb") as target:
                    shutil.copyfileobj(stream, target)
                    written = target.tell()
                self.stderr.write(f"Wrote {written:,} bytes to {output}")
            else:
                shutil.copyfileobj(stream, sys.stdout.buffer)
                sys.stdout.flush()


class ProgressBar:
    """A one-line progress bar on a terminal; silent when output goes to a file or a pipe."""

    WIDTH = 30

    def __init__(self, stream: Any, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.shown = False

    def update(self, job: Job) -> None:
        if not self.enabled:
            return
        filled = int(job.progress * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(
            f"\r[{bar}] {job.progress:4.0%}  {job.rows_done:,}/{job.total:,} rows  {job.get_status_display():<12}"
        )
        self.stream.flush()
        self.shown = True

    def finish(self, job: Job) -> None:
        if self.enabled:
            self.update(job)
            self.stream.write("\n")
            self.stream.flush()
