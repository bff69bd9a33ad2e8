"""The example file of every kind, in every format it is offered in, validates against the demo
organisation with no error: what an administrator downloads first works on what `make run` loads."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from bulk import services
from bulk.registry import get_kind
from bulk.samples import sample_file, sample_formats
from people.models import User

from .test_demo import demo_loaded

KINDS = ["certification-removal", "certification-award", "license-import", "unenrolment"]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with demo_loaded(django_db_blocker):
        yield


@pytest.mark.parametrize("slug", KINDS)
def test_every_example_validates_against_the_demo_with_no_error(demo, db, slug):
    kind = get_kind(slug)
    admin = User.objects.get(username="admin")
    for fmt in sample_formats(kind):
        content, filename, _ = sample_file(kind, fmt, example=True)
        job = services.submit(
            slug, io.BytesIO(content), filename, actor=admin, title=f"Example {fmt}", validate_only=True
        ).job
        rows = [(row.row_number, row.outcome, row.message) for row in job.rows.order_by("seq")]
        assert len(rows) == len(kind.example_rows()), (fmt, rows)
        assert [r for r in rows if r[1] == "error"] == [], (fmt, rows)


def test_the_cli_writes_the_example_and_the_template(tmp_path):
    out = io.StringIO()
    call_command("job", "example", "unenrolment", "-o", str(tmp_path / "unenrol.csv"), stdout=out)
    call_command(
        "job", "example", "license-import", "--template", "--format", "xlsx", "-o", str(tmp_path / "t.xlsx")
    )

    kind = get_kind("unenrolment")
    assert (tmp_path / "unenrol.csv").read_bytes() == sample_file(kind, "csv", example=True)[0]
    assert (tmp_path / "t.xlsx").read_bytes()[:2] == b"PK"
    assert "Wrote" in out.getvalue()
    with pytest.raises(CommandError, match="'pdf' is not offered for unenrolment"):
        call_command("job", "example", "unenrolment", "--format", "pdf", "-o", str(tmp_path / "x"))


def test_the_readmes_cli_examples_submit_files_it_tells_how_to_make():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    made = set(re.findall(r"certdesk job example \S+ -o (\S+)", readme))
    submitted = set(re.findall(r"certdesk job submit [a-z-]+ (\S+\.\w+)", readme))
    assert submitted and submitted <= made, (
        f"the README submits {sorted(submitted - made)} without making them"
    )
    for line in ("`sam`", "PORT=", "make reset", "Ctrl+C"):
        assert line in readme
