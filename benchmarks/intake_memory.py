"""Intake memory and time: the peak RSS, the time and the outcome of one upload, per job kind x file shape.

Every case is one validate-only upload, ``bulk.services.submit(kind, stream, filename, actor=admin,
title="bench", validate_only=True)``, in a fresh child process of its own, on a copy of a seeded
database, so that the peak (``ru_maxrss`` of the child, read by the parent with ``os.wait4``) is one
upload's, Django included, and nothing one case stages slows the next. Each line says:

    unenrolment   csv   one-char rows at 10MB   10.0 MB   peak  212 MB   3.4 s   refused: The file has too many rows …

where the time is that of the ``submit`` call alone (Django set up and the URLconf loaded before it,
as in a running server), and the outcome is "verified: N rows, S ok / E errors" (ok: the rows that
would succeed), "refused: <the first problem>", "error: <an exception other than FileRejected>",
"killed (memory)" (over the child's address-space limit, ``--memory-limit-mb``, 4 GB by default) or
"timeout" (``--timeout``, 120 s by default; the time shown is then the child's wall time). A line is
marked OVER when the peak is above 300 MB or a refusal took more than 10 s, the targets of the intake:
peak RSS ≤ 300 MB for any file within a kind's limits, every refusal within 10 s. The 300 MB mark is
applied to refusals too: a file refused after ballooning is the case the limits are there for. The
benchmark prints figures; it asserts nothing.

Shapes, for each kind and each format it takes (csv; txt, tab-delimited; xml, the plain
``<rows><row><user-name>…</user-name></row></rows>``; xml-2003, Excel XML Spreadsheet 2003; xlsx,
written here as the zip of a few XML parts, strings inline except in the realistic and row-cap rows,
which use a table of shared strings as Excel does), generated at run time under /tmp and deleted after:

    one-char      a valid header, then rows of one character ("a"), up to the kind's byte limit
    realistic     rows naming seeded users and targets, real-looking values, up to the byte limit
    row-cap       max_rows data rows (the kind's ``max_rows``), and row-cap+1 rows, to show the refusal:
                  realistic rows, or rows with only the required columns, or one-character rows, the
                  first that fits within the byte limit
    big-cell      one cell of 5 MB (or of the byte limit less 64 KB, when that is smaller) of random letters
                  and digits (so that an .xlsx does not deflate it to nothing), among valid rows
    wide-header   100,000 columns in the header
    wide-row      100,000 values in one data row
    zip-bomb      xlsx: ~1 GB of sheet XML (a header, valid rows and whitespace) deflated to ~1 MB
    lying-zip     xlsx: the same, its central directory and local header declaring the sheet as 1,000
                  bytes while its deflate stream expands to ~1 GB

The database is seeded once (migrations, ``certdesk demo``, then set-based: 80,000 learners, all of
them holding CERT-BENCH and enrolled in four BENCH-ACT-n courses) and copied for every case (SQLite),
or cloned from a template database (``--postgres``: a throwaway PostgreSQL database, as harness.py
does). The same run also times the parse of a 50,000-row x 7-column .xlsx by the hand-written reader
certdesk had before python-calamine (benchmarks/xlsx_baseline.py, from commit 9211394) and by the
current ``bulk.formats.read_xlsx``, each in a child of its own, best of three, and checks that they
read the same records; when the current reader refuses the workbook, the line says so (OVER) and
times its python-calamine step alone (``formats._calamine_records``) instead.

    .venv/bin/python benchmarks/intake_memory.py [--quick] [--postgres] [--kinds unenrolment,…]
        [--formats csv,xlsx,…] [--shapes one-char,zip-bomb,…] [--memory-limit-mb 4096] [--timeout 120]
        [--no-xlsx-parse | --xlsx-parse-only] [--keep-files]

``--quick`` runs 18 of the 118 cases (see ``quick``): about 2½ minutes, against some 11 for the
whole run on a 2-core machine shared with other work (most of it the intake itself, validating and
staging up to 300,000 rows per case; every case also pays ~2 s to start Django and copy the database).
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from harness import (
    PG_ADMIN_URL,
    RESULT,
    ROOT,
    django_setup,
    drop_postgres,
    load_average,
    postgres_reachable,
    report,
    seed_learners,
    select_list,
    skip_deferred_fk_checks,
)

BENCH_DIR = Path(tempfile.gettempdir()) / "certdesk-bench-intake"
PG_BENCH_DB = "certdesk_bench_intake"
PG_CASE_DB = "certdesk_bench_intake_case"
PEAK_TARGET_MB = 300
REFUSAL_TARGET_S = 10.0
LEARNERS = 80_000
USER_ID_OFFSET = 1_000_000
BENCH_CERT = "CERT-BENCH"
BENCH_ACTIVITIES = [f"BENCH-ACT-{n}" for n in range(1, 5)]
WIDE = 100_000
BIG_CELL = 5 * 1024 * 1024
BOMB_BYTES = 1024 * 1024 * 1024
LYING_SIZE = 1000
XLSX_PARSE_ROWS = 50_000
MB = 1024 * 1024
# format -> (file name, extension the kind must take)
FORMATS = {
    "csv": ("bench.csv", ".csv"),
    "txt": ("bench.txt", ".txt"),
    "xml": ("bench.xml", ".xml"),
    "xml-2003": ("bench-2003.xml", ".xml"),
    "xlsx": ("bench.xlsx", ".xlsx"),
}
SHAPES = ["one-char", "realistic", "row-cap", "row-cap+1", "big-cell", "wide-header", "wide-row"]
XLSX_SHAPES = ["zip-bomb", "lying-zip"]
ALL_SHAPES = SHAPES + XLSX_SHAPES


# --- child side: runs with Django set up ---------------------------------------------------------


def seed() -> dict:
    """Migrations, the demo organisation, then the bench learners, their awards and enrolments; and what
    the parent needs to know of the kinds and the seeded targets."""
    import datetime as dt

    from django.core.management import call_command

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = time.perf_counter() - t
    t = time.perf_counter()
    call_command("demo", stdout=io.StringIO())
    demo_s = time.perf_counter() - t

    from django.db import connection, transaction

    from base.sql import execute, table
    from bulk.registry import registry
    from credentials.models import Award, Certification, LicenseType
    from learning.models import Activity, Enrollment
    from people.models import User

    at = connection.ops.adapt_datetimefield_value
    day = connection.ops.adapt_datefield_value
    t = time.perf_counter()
    with transaction.atomic():
        skip_deferred_fk_checks()
        seed_learners(LEARNERS, user_id_offset=USER_ID_OFFSET)
        learners = f"(SELECT id FROM {table(User)} WHERE username LIKE 'learner%%')"
        certification = Certification.objects.create(
            code=BENCH_CERT, title="Benchmark certification", validity_days=365, renewal_window_days=30
        )
        columns, values, params = select_list(
            Award,
            {
                "user": ("u.id", []),
                "certification": ("%s", [certification.pk]),
                "issue_date": ("%s", [day(dt.date(2026, 1, 5))]),
                "expiration_date": ("%s", [day(dt.date(2027, 1, 5))]),
            },
        )
        execute(
            f"INSERT INTO {table(Award)} ({columns}) SELECT {values} FROM {learners} u ORDER BY u.id", params
        )
        Activity.objects.bulk_create(
            Activity(title=f"Benchmark course {n}", external_reference=reference)
            for n, reference in enumerate(BENCH_ACTIVITIES, start=1)
        )
        columns, values, params = select_list(
            Enrollment,
            {
                "user": ("u.id", []),
                "activity": ("a.id", []),
                "status": ("'enrolled'", []),
                "enrolled_at": ("%s", [at(dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC))]),
            },
        )
        execute(
            f"INSERT INTO {table(Enrollment)} ({columns}) SELECT {values} FROM {learners} u "
            f"CROSS JOIN {table(Activity)} a WHERE a.external_reference LIKE 'BENCH-ACT-%%' ORDER BY a.id, u.id",
            params,
        )
    seeded_s = time.perf_counter() - t
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    kinds = {
        slug: {
            "max_bytes": int(kind.max_bytes),
            "max_rows": getattr(kind, "max_rows", None),
            "extensions": list(kind.extensions),
            "columns": [c.name for c in kind.columns],
            "required": [c.name for c in kind.columns if c.required],
        }
        for slug, kind in registry().items()
    }
    return {
        "migrate_s": migrate_s,
        "demo_s": demo_s,
        "seed_s": seeded_s,
        "users": User.objects.count(),
        "awards": Award.objects.count(),
        "enrolments": Enrollment.objects.count(),
        "kinds": kinds,
        "certifications": sorted(
            Certification.objects.exclude(code=BENCH_CERT).values_list("code", flat=True)
        ),
        "licence_types": [
            [t.code, t.issuing_authority, t.number_required] for t in LicenseType.objects.order_by("code")
        ],
    }


def run_case(kind_slug: str, path: str, filename: str) -> dict:
    """One validate-only upload, timed; what came of it."""
    from django.db.models import Count
    from django.urls import reverse

    from base.problems import FileRejected
    from bulk import services
    from bulk.models import JobRow
    from people.models import User

    actor = User.objects.get(username="admin")
    reverse("web:job", args=[1])  # the URLconf, which a running server has long loaded
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    try:
        with open(path, "rb") as stream:
            submission = services.submit(
                kind_slug, stream, filename, actor=actor, title="bench", validate_only=True
            )
    except FileRejected as rejected:
        seconds = time.perf_counter() - t0
        first = rejected.problems[0] if rejected.problems else None
        message = str(first) if first else "; ".join(rejected.headlines)
        total = getattr(rejected, "total", len(rejected.problems))
        more = f" ({total:,} problems)" if total > 1 else ""
        return {"seconds": seconds, "before_mb": before_mb, "status": "refused", "outcome": message + more}
    except MemoryError:
        raise
    except Exception as exc:
        import traceback

        traceback.print_exc()
        seconds = time.perf_counter() - t0
        return {
            "seconds": seconds,
            "before_mb": before_mb,
            "status": "error",
            "outcome": f"{type(exc).__name__}: {exc}",
        }
    seconds = time.perf_counter() - t0
    job = submission.job
    counts = dict(
        JobRow.objects.filter(job=job)
        .values_list("outcome")
        .annotate(n=Count("pk"))
        .values_list("outcome", "n")
    )
    ok, errors, skipped = counts.get("pending", 0), counts.get("error", 0), counts.get("skipped", 0)
    outcome = f"{job.total:,} rows, {ok:,} ok / {errors:,} errors" + (
        f" / {skipped:,} skipped" if skipped else ""
    )
    if job.warnings:
        outcome += f"; {len(job.warnings)} warning(s)"
    return {"seconds": seconds, "before_mb": before_mb, "status": "verified", "outcome": outcome}


def parse_xlsx(reader: str, path: str, out: str) -> dict:
    """Read one .xlsx three times with the old or the current reader; the best time, the records kept.
    When the current reader refuses the file, also its python-calamine step alone (the records it would
    have yielded once its checks passed), so that there is still a figure to compare."""
    if reader == "baseline":
        from xlsx_baseline import read_xlsx

        read: Callable[..., Any] = read_xlsx
        max_cells = 2_000_000  # the old intake.MAX_CELLS
    else:
        from bulk import formats, intake

        read = formats.read_xlsx
        max_cells = getattr(intake, "MAX_CELLS", 2_000_000)
    data = Path(path).read_bytes()

    def best_of_3(fn: Callable[[], Any]) -> tuple[float, list[Any]]:
        times, records = [], []
        for _ in range(3):
            t = time.perf_counter()
            records = list(fn())
            times.append(time.perf_counter() - t)
        return min(times), records

    result: dict[str, Any] = {}
    try:
        result["seconds"], records = best_of_3(lambda: read(data, max_cells=max_cells))
    except Exception as exc:
        t = time.perf_counter()
        try:
            list(read(data, max_cells=max_cells))
        except Exception:
            result["refused_s"] = time.perf_counter() - t
        problems = getattr(exc, "problems", None)
        result["refused"] = str(problems[0]) if problems else f"{type(exc).__name__}: {exc}"
        calamine = getattr(formats, "_calamine_records", None) if reader == "current" else None
        if calamine is None:
            return result
        result["calamine_s"], records = best_of_3(lambda: calamine(data))
    with open(out, "w", encoding="utf-8") as f:
        for number, cells in records:
            f.write(json.dumps([number, cells]) + "\n")
    result["records"] = len(records)
    return result


def child(args: argparse.Namespace) -> None:
    django_setup()
    if args.step == "seed":
        report(seed())
    elif args.step == "case":
        report(run_case(args.kind, args.file, args.name))
    elif args.step == "xlsx-parse":
        report(parse_xlsx(args.reader, args.file, args.out))
    else:
        raise SystemExit(f"unknown step {args.step}")


# --- file writers (parent side) ---------------------------------------------------------------------


def tag(name: str) -> str:
    """A column name as an element name of the plain XML form: 'Activity external reference' ->
    'activity-external-reference'."""
    return "-".join(name.lower().split())


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class Writer:
    """Writes a file a row at a time; ``add`` refuses a row that would take the file past ``limit``."""

    trailer = b""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self.f = open(path, "wb")  # noqa: SIM115 — closed in close()
        self.written = 0
        self.rows = 0
        self.header = header

    def write(self, data: bytes) -> None:
        self.f.write(data)
        self.written += len(data)

    def size(self) -> int:
        """The file's size if it were closed now."""
        return self.written + len(self.trailer)

    def encode(self, cells: list[str], names: list[str] | None = None) -> bytes:
        raise NotImplementedError

    def add(self, cells: list[str], limit: int | None = None, names: list[str] | None = None) -> bool:
        data = self.encode(cells, names)
        if limit is not None and self.size() + len(data) > limit:
            return False
        self.write(data)
        self.rows += 1
        return True

    def close(self) -> int:
        self.write(self.trailer)
        self.f.close()
        return self.path.stat().st_size


class DelimitedWriter(Writer):
    def __init__(self, path: Path, header: list[str], delimiter: str) -> None:
        super().__init__(path, header)
        self.buffer = io.StringIO()
        self.csv = csv.writer(self.buffer, delimiter=delimiter, lineterminator="\n")
        self.add(header)

    def encode(self, cells: list[str], names: list[str] | None = None) -> bytes:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.csv.writerow(cells)
        return self.buffer.getvalue().encode("utf-8")


class PlainXmlWriter(Writer):
    """``<rows><row><username>…</username>…</row></rows>``: blank values left out, as exports do."""

    trailer = b"</rows>\n"

    def __init__(self, path: Path, header: list[str]) -> None:
        super().__init__(path, header)
        self.tags = [tag(name) for name in header]
        self.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<rows>\n')

    def encode(self, cells: list[str], names: list[str] | None = None) -> bytes:
        tags = [tag(n) for n in names] if names else self.tags
        fields = "".join(f"<{t}>{escape(v)}</{t}>" for t, v in zip(tags, cells, strict=False) if v)
        return f"<row>{fields}</row>\n".encode()

    def naming_row(self, cells: list[str]) -> None:
        """A row that names every column, blank ones as empty elements: the header of this form."""
        fields = "".join(f"<{t}>{escape(v)}</{t}>" for t, v in zip(self.tags, cells, strict=False))
        self.write(f"<row>{fields}</row>\n".encode())
        self.rows += 1


class Spreadsheet2003Writer(Writer):
    trailer = b"</Table></Worksheet></Workbook>\n"

    def __init__(self, path: Path, header: list[str]) -> None:
        super().__init__(path, header)
        self.write(
            b'<?xml version="1.0" encoding="UTF-8"?>\n<?mso-application progid="Excel.Sheet"?>\n'
            b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
            b'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">\n'
            b'<Worksheet ss:Name="Sheet1"><Table>\n'
        )
        self.add(header)

    def encode(self, cells: list[str], names: list[str] | None = None) -> bytes:
        row = "".join(
            f'<Cell><Data ss:Type="String">{escape(v)}</Data></Cell>' if v else "<Cell/>" for v in cells
        )
        return f"<Row>{row}</Row>\n".encode()


MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET_PART = "xl/worksheets/sheet1.xml"


class XlsxWriter(Writer):
    """A workbook of one sheet, the sheet streamed into the zip as it is written: cells with their
    references (A2, B2 …), strings inline or, with ``shared``, in a table of shared strings."""

    MARGIN = 256 * 1024  # what may still be in the compressor, and the parts written at the end
    FLUSH = 1024 * 1024

    def __init__(self, path: Path, header: list[str], shared: bool = False) -> None:
        self.path = path
        self.header = header
        self.rows = 0
        self.shared: dict[str, int] | None = {} if shared else None
        self.shared_count = 0
        # The table of shared strings, compressed as it grows, to know its size before it is written.
        self.shared_xml: list[bytes] = []
        self.shared_deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.shared_size = 0
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        overrides = (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sharedStrings+xml"/>'
            if shared
            else ""
        )
        self.zip.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            f'spreadsheetml.styles+xml"/>{overrides}</Types>',
        )
        self.zip.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        self.zip.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{MAIN_NS}" '
            f'xmlns:r="{REL_NS}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        shared_rel = (
            f'<Relationship Id="rId3" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
            if shared
            else ""
        )
        self.zip.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL_NS}/styles" Target="styles.xml"/>{shared_rel}</Relationships>',
        )
        self.zip.writestr(
            "xl/styles.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{MAIN_NS}">'
            '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
            '<borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
            "</styleSheet>",
        )
        self.sheet = self.zip.open(SHEET_PART, "w")
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.letters: list[str] = []
        self.raw(
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN_NS}"><sheetData>'.encode()
        )
        self.add(header)

    def raw(self, data: bytes) -> None:
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= self.FLUSH:
            self.flush()

    def flush(self) -> None:
        self.sheet.write(b"".join(self.pending))
        self.pending, self.pending_size = [], 0

    def size(self) -> int:
        assert self.zip.fp is not None
        return self.zip.fp.tell() + self.shared_size + self.MARGIN

    def _string(self, value: str) -> int:
        assert self.shared is not None
        self.shared_count += 1
        index = self.shared.get(value)
        if index is None:
            index = self.shared[value] = len(self.shared)
            item = f"<si><t>{escape(value)}</t></si>".encode()
            self.shared_xml.append(item)
            self.shared_size += len(self.shared_deflate.compress(item))
        return index

    def encode(self, cells: list[str], names: list[str] | None = None) -> bytes:
        number = self.rows + 1
        while len(self.letters) < len(cells):
            self.letters.append(column_letters(len(self.letters)))
        parts = [f'<row r="{number}">']
        for letter, value in zip(self.letters, cells, strict=False):
            if not value:
                continue
            if self.shared is not None:
                parts.append(f'<c r="{letter}{number}" t="s"><v>{self._string(value)}</v></c>')
            else:
                parts.append(f'<c r="{letter}{number}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
        parts.append("</row>")
        return "".join(parts).encode()

    def add(self, cells: list[str], limit: int | None = None, names: list[str] | None = None) -> bool:
        if limit is not None and self.size() > limit:
            return False
        self.raw(self.encode(cells))
        self.rows += 1
        return True

    def close(self) -> int:
        self.raw(b"</sheetData></worksheet>")
        self.flush()
        self.sheet.close()
        if self.shared is not None:
            head = (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{MAIN_NS}" '
                f'count="{self.shared_count}" uniqueCount="{len(self.shared)}">'
            )
            self.zip.writestr("xl/sharedStrings.xml", head.encode() + b"".join(self.shared_xml) + b"</sst>")
        self.zip.close()
        return self.path.stat().st_size


def open_writer(fmt: str, path: Path, header: list[str], shared: bool = False) -> Writer:
    if fmt == "csv":
        return DelimitedWriter(path, header, ",")
    if fmt == "txt":
        return DelimitedWriter(path, header, "\t")
    if fmt == "xml":
        return PlainXmlWriter(path, header)
    if fmt == "xml-2003":
        return Spreadsheet2003Writer(path, header)
    if fmt == "xlsx":
        return XlsxWriter(path, header, shared=shared)
    raise ValueError(fmt)


# --- what the files say ------------------------------------------------------------------------------


class Rows:
    """Rows for one kind, from what the seeding made: realistic ones name distinct seeded users and
    targets for as long as there are pairs, compact ones fill the required columns only (a required
    column that may be blank keeps its value)."""

    def __init__(self, slug: str, info: dict, seeded: dict) -> None:
        self.slug = slug
        self.columns: list[str] = info["columns"]
        self.required = set(info["required"])
        self.certifications: list[str] = seeded["certifications"] or [BENCH_CERT]
        self.licence_types: list[list[Any]] = seeded["licence_types"] or [["RN", "State Board", True]]

    def realistic(self, i: int) -> list[str]:
        user = i % LEARNERS
        turn = i // LEARNERS
        if self.slug == "certification-removal":
            values = {"Certification ID": BENCH_CERT, "User ID": f"U{USER_ID_OFFSET + user}"}
        elif self.slug == "unenrolment":
            values = {
                "Username": f"learner{user}",
                "Activity external reference": BENCH_ACTIVITIES[turn % len(BENCH_ACTIVITIES)],
                "Send unenrolment email": "Yes" if i % 10 == 0 else "No",
            }
        elif self.slug == "certification-award":
            month, dom = 1 + i % 12, 1 + i % 28
            values = {
                "Certification ID": self.certifications[turn % len(self.certifications)],
                "User ID": f"U{USER_ID_OFFSET + user}",
                "Issue date": f"2026-{month:02d}-{dom:02d}",
                "Expiration date": f"2028-{month:02d}-{dom:02d}",
                "Always valid": "No",
                "Association type": "External training activity" if i % 5 == 0 else "Manually awarded",
                "External activity": "Regional training day" if i % 5 == 0 else "",
            }
        elif self.slug == "license-import":
            # Every licence type in turn, so that the numbered ones (and the Number column of the plain
            # XML form, which names only the values a row has) come early in any file.
            types = len(self.licence_types)
            code, authority, numbered = self.licence_types[i % types]
            user = (i // types) % LEARNERS
            month, dom = 1 + i % 12, 1 + i % 28
            values = {
                "Username": f"learner{user}",
                "License code": code,
                "Number": f"{code}-{2_000_000 + i}" if numbered else "",
                "Issuing authority": authority,
                "Issue date": f"2025-{month:02d}-{dom:02d}",
                "Expiration date": f"2027-{month:02d}-{dom:02d}",
                "Action": "Add",
            }
        else:
            values = {}
        return [values.get(c, f"value {i}") for c in self.columns]

    def compact(self, i: int) -> list[str]:
        return [v if c in self.required else "" for c, v in zip(self.columns, self.realistic(i), strict=True)]


def fill(
    writer: Writer, rows: Iterator[list[str]], limit: int | None, count: int | None = None, skip: int = 0
) -> None:
    """Add rows until the file reaches ``limit`` bytes or ``count`` rows, leaving out the first ``skip``."""
    for _ in range(skip):
        next(rows)
    for n, cells in enumerate(rows):
        if count is not None and n >= count:
            return
        if not writer.add(cells, limit):
            return


def numbered(make: Callable[[int], list[str]]) -> Iterator[list[str]]:
    i = 0
    while True:
        yield make(i)
        i += 1


def noise(length: int) -> str:
    """``length`` letters and digits that do not compress much, as a pasted document would not: a big
    cell of one repeated character would be refused by an .xlsx's expansion check before its size."""
    text = base64.b64encode(random.Random(length).randbytes(length * 3 // 4 + 3)).decode()
    return text.translate(str.maketrans("+/", "xy"))[:length]


def human(size: int) -> str:
    """Sizes as the published messages write them: 10MB, 960KB."""
    if size % MB == 0:
        return f"{size // MB}MB"
    if size % 1024 == 0:
        return f"{size // 1024}KB"
    return f"{size:,} B"


def build(kind: dict, rows: Rows, fmt: str, shape: str, path: Path, work: Path) -> tuple[str, int]:
    """Write one case's file; its label and size."""
    limit: int = kind["max_bytes"]
    header = rows.columns
    shared = fmt == "xlsx" and shape in ("realistic", "row-cap", "row-cap+1")
    if shape == "one-char":
        w = open_writer(fmt, path, header)
        if isinstance(w, PlainXmlWriter):  # the header is the element names: one row names them all
            w.naming_row(rows.realistic(0))
        fill(w, iter(lambda: ["a"], None), limit)
        label = f"one-char rows at {human(limit)}"
    elif shape == "realistic":
        w = open_writer(fmt, path, header, shared=shared)
        fill(w, numbered(rows.realistic), limit)
        label = f"realistic rows at {human(limit)}"
    elif shape in ("row-cap", "row-cap+1"):
        count = kind["max_rows"] + (shape == "row-cap+1")
        for style, make in (
            ("realistic", rows.realistic),
            ("required columns only", rows.compact),
            ("one-char", lambda i: ["a"] if i else rows.realistic(0)),
        ):
            w = open_writer(fmt, path, header, shared=shared and style != "one-char")
            plain = isinstance(w, PlainXmlWriter)
            if style == "one-char" and plain:
                w.naming_row(rows.realistic(0))  # in place of the realistic first row
            data_rows = w.rows - (0 if plain else 1)  # the header is a row of the other writers
            fill(w, numbered(make), None, count - data_rows, skip=data_rows)
            if w.close() <= limit or style == "one-char":
                break
        over = ", over the byte limit" if path.stat().st_size > limit else ""
        label = f"{'row cap + 1' if shape == 'row-cap+1' else 'row cap'}: {count:,} rows ({style}{over})"
        return label, path.stat().st_size
    elif shape == "big-cell":
        big = min(BIG_CELL, limit - 64 * 1024)
        w = open_writer(fmt, path, header)
        w.add([noise(big), *rows.realistic(0)[1:]])
        fill(w, numbered(lambda i: rows.realistic(i + 1)), None, 10)
        label = f"one {human(big)} cell"
    elif shape == "wide-header":
        wide = header + [f"Extra {j}" for j in range(WIDE - len(header))]
        w = open_writer(fmt, path, wide)
        if fmt == "xml":
            w.add([rows.realistic(0)[j] if j < len(header) else "x" for j in range(WIDE)])
        fill(w, numbered(lambda i: rows.realistic(i + 1)), None, 10)
        label = f"{WIDE:,} columns in the header"
    elif shape == "wide-row":
        w = open_writer(fmt, path, header)
        fill(w, numbered(rows.realistic), None, 5)
        extra = [f"Extra {j}" for j in range(WIDE - len(header))]
        w.add(rows.realistic(5) + ["x"] * len(extra), names=header + extra)
        fill(w, numbered(lambda i: rows.realistic(i + 6)), None, 5)
        label = f"{WIDE:,} values in one data row"
    elif shape == "zip-bomb":
        w = open_writer("xlsx", path, header)
        assert isinstance(w, XlsxWriter)
        fill(w, numbered(rows.realistic), None, 3)
        w.flush()
        blank = b" " * MB
        for _ in range(BOMB_BYTES // MB):
            w.sheet.write(blank)
        fill(w, numbered(lambda i: rows.realistic(i + 3)), None, 3)
        size = w.close()
        return f"zip bomb: {BOMB_BYTES // MB:,} MB sheet in {size / MB:.1f} MB", size
    elif shape == "lying-zip":
        bomb = work / f"zip-bomb-{FORMATS['xlsx'][0]}"  # the zip-bomb case's file, when it ran before
        if not bomb.exists():
            build(kind, rows, "xlsx", "zip-bomb", bomb, work)
        shutil.copyfile(bomb, path)
        lie_about_size(path, SHEET_PART, LYING_SIZE)
        return (
            f"lying zip bomb: declares {LYING_SIZE:,} B, holds {BOMB_BYTES // MB:,} MB",
            path.stat().st_size,
        )
    else:
        raise ValueError(shape)
    return label, w.close()


def lie_about_size(path: Path, member: str, size: int) -> None:
    """Patch the uncompressed size of ``member`` in its local header and its central directory entry."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
        central = archive.start_dir  # type: ignore[attr-defined]
    with open(path, "r+b") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        assert local[:4] == b"PK\x03\x04", "not a local file header"
        f.seek(info.header_offset + 22)
        f.write(struct.pack("<L", size))
        f.seek(central)
        while True:
            entry = f.read(46)
            if entry[:4] != b"PK\x01\x02":
                raise ValueError(f"{member} not in the central directory")
            name_len, extra_len, comment_len = struct.unpack("<3H", entry[28:34])
            name = f.read(name_len).decode()
            if name == member:
                f.seek(-name_len - 46 + 24, os.SEEK_CUR)
                f.write(struct.pack("<L", size))
                return
            f.seek(extra_len + comment_len, os.SEEK_CUR)


def xlsx_for_parse(path: Path, rows: Rows) -> int:
    """The 50,000-row x 7-column workbook of the parse comparison, as openpyxl writes one (shared
    strings, dates as dates)."""
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(rows.columns)
    for i in range(XLSX_PARSE_ROWS):
        cells: list[Any] = rows.realistic(i)
        for j, name in enumerate(rows.columns):
            if name.endswith("date") and cells[j]:
                cells[j] = dt.date.fromisoformat(cells[j])
        sheet.append(cells)
    book.save(path)
    return path.stat().st_size


# --- parent side ----------------------------------------------------------------------------------


def run_child(
    options: list[str], env: dict[str, str], *, timeout: float, memory_mb: int, out_dir: Path
) -> dict[str, Any]:
    """Run this script with ``options`` in a fresh process under an address-space limit and a wall
    timeout; its report, peak RSS (os.wait4), wall time and how it ended."""
    limit = memory_mb * MB

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    out_dir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = out_dir / "stdout", out_dir / "stderr"
    started = time.perf_counter()
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, __file__, *options],
            env=env,
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=limit_memory,  # the parent runs no threads
        )
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                process.kill()
                timed_out = True
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    wall = time.perf_counter() - started
    out = stdout_path.read_text(errors="replace")
    err = stderr_path.read_text(errors="replace")
    lines = [ln for ln in out.splitlines() if ln.startswith(RESULT)]
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT) :]) if lines else {}
    result.update(peak_mb=usage.ru_maxrss / 1024, wall=wall, rc=process.returncode, stderr=err)
    if timed_out:
        result.update(status="timeout", outcome=f"timeout (over {timeout:.0f} s)")
    elif not lines:
        memory = (
            "MemoryError" in err
            or "memory allocation" in err
            or "Cannot allocate memory" in err
            or process.returncode in (-signal.SIGKILL, -signal.SIGABRT, -signal.SIGSEGV)
        )
        last = err.strip().splitlines()[-1] if err.strip() else f"exit code {process.returncode}"
        if memory:
            result.update(status="killed", outcome=f"killed (memory; limit {memory_mb:,} MB: {last[:80]})")
        else:
            result.update(status="crashed", outcome=f"crashed (exit {process.returncode}): {last[:120]}")
    return result


class Databases:
    """The seeded database, and a fresh copy of it for each case."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.seed_file = BENCH_DIR / "seed.sqlite3"
        self.case_file = BENCH_DIR / "case.sqlite3"
        self.base = PG_ADMIN_URL.rsplit("/", 1)[0]

    def seed_url(self) -> str:
        if self.postgres:
            if not postgres_reachable(PG_BENCH_DB):
                raise SystemExit("--postgres: PostgreSQL does not answer")
            return f"{self.base}/{PG_BENCH_DB}"
        return f"sqlite:///{self.seed_file}"

    def fresh(self) -> str:
        if self.postgres:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_CASE_DB}")
                conn.execute(f"CREATE DATABASE {PG_CASE_DB} TEMPLATE {PG_BENCH_DB}")
            return f"{self.base}/{PG_CASE_DB}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.case_file}{suffix}").unlink(missing_ok=True)
            if Path(f"{self.seed_file}{suffix}").exists():
                shutil.copyfile(f"{self.seed_file}{suffix}", f"{self.case_file}{suffix}")
        return f"sqlite:///{self.case_file}"

    def drop(self) -> None:
        if self.postgres:
            drop_postgres(PG_CASE_DB)
            drop_postgres(PG_BENCH_DB)


def plan(kinds: dict, args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(kind, format, shape) of every case to run, in order."""
    cases = []
    for slug, kind in kinds.items():
        if args.kinds and slug not in args.kinds:
            continue
        for fmt, (_, extension) in FORMATS.items():
            if extension not in kind["extensions"] or (args.formats and fmt not in args.formats):
                continue
            for shape in SHAPES + (XLSX_SHAPES if fmt == "xlsx" else []):
                if args.shapes and shape not in args.shapes:
                    continue
                if shape.startswith("row-cap") and not kind["max_rows"]:
                    continue
                if args.quick and not quick(slug, fmt, shape):
                    continue
                cases.append((slug, fmt, shape))
    return cases


def quick(slug: str, fmt: str, shape: str) -> bool:
    """The --quick subset: one-char and realistic rows for every kind in CSV; unenrolment's row cap,
    big cell and wide header in CSV, its one-char rows in every other text form, its realistic .xlsx
    and both zip bombs."""
    if fmt == "csv":
        return shape in ("one-char", "realistic") or (
            slug == "unenrolment" and shape in ("row-cap", "row-cap+1", "big-cell", "wide-header")
        )
    if slug != "unenrolment":
        return False
    if fmt == "xlsx":
        return shape in ("realistic", "zip-bomb", "lying-zip")
    return shape == "one-char"


def line(slug: str, fmt: str, label: str, size: int, r: dict) -> tuple[str, bool]:
    seconds = r.get("seconds", r["wall"]) if r["status"] in ("verified", "refused", "error") else r["wall"]
    over = []
    if r["peak_mb"] > PEAK_TARGET_MB:
        over.append(f"peak > {PEAK_TARGET_MB} MB")
    if r["status"] == "refused" and seconds > REFUSAL_TARGET_S:
        over.append(f"refusal > {REFUSAL_TARGET_S:.0f} s")
    if r["status"] in ("killed", "timeout", "crashed", "error"):
        over.append(r["status"])
    outcome = (
        r["outcome"]
        if r["status"] not in ("verified", "refused", "error")
        else f"{r['status']}: {r['outcome']}"
    )
    if len(outcome) > 150:
        outcome = outcome[:149] + "…"
    text = (
        f"{slug:<21} {fmt:<8} {label:<56} {size / MB:>7.2f} MB  peak {r['peak_mb']:>5.0f} MB {seconds:>6.1f} s   "
        f"{outcome}"
    )
    if over:
        text += f"   << OVER ({', '.join(dict.fromkeys(over))})"
    return text, bool(over)


def xlsx_parse(env: dict[str, str], seeded: dict, args: argparse.Namespace) -> list[str]:
    work = BENCH_DIR / "xlsx-parse"
    work.mkdir(parents=True, exist_ok=True)
    kind = "license-import" if "license-import" in seeded["kinds"] else next(iter(seeded["kinds"]))
    rows = Rows(kind, seeded["kinds"][kind], seeded)
    path = work / "parse.xlsx"
    t = time.perf_counter()
    size = xlsx_for_parse(path, rows)
    print(
        f"xlsx parse: {XLSX_PARSE_ROWS:,} rows x {len(rows.columns)} columns of {kind} rows written by openpyxl "
        f"({size / MB:.2f} MB) in {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    results = {}
    for reader in ("baseline", "current"):
        out = work / f"{reader}.jsonl"
        results[reader] = run_child(
            ["--step", "xlsx-parse", "--reader", reader, "--file", str(path), "--out", str(out)],
            env,
            timeout=max(args.timeout, 300),
            memory_mb=args.memory_limit_mb,
            out_dir=work / reader,
        )
        if "records" not in results[reader] and "refused" not in results[reader]:
            return [f"xlsx parse: the {reader} reader failed: {results[reader]['outcome']}"]
    old, new = results["baseline"], results["current"]
    if "records" not in old:
        return [f"xlsx parse: the hand-written reader refused the file: {old['refused']}"]
    same = "no records to compare"
    if "records" in new:
        same = "the same records"
        with open(work / "baseline.jsonl") as a, open(work / "current.jsonl") as b:
            for n, (x, y) in enumerate(zip(a, b, strict=False)):
                if x != y:
                    same = f"records differ from record {n + 1}: hand-written {x.strip()[:100]} / current {y.strip()[:100]}"
                    break
            else:
                if old["records"] != new["records"]:
                    same = f"{old['records']:,} records against {new['records']:,}"
    if not args.keep_files:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"xlsx parse, {XLSX_PARSE_ROWS:,} rows x {len(rows.columns)} columns ({size / MB:.2f} MB), best of 3, "
        f"peak RSS of the child (Django set up) after its 3 reads:",
        f"    hand-written reader (xlsx_baseline, 9211394)  {old['seconds']:>6.2f} s   peak {old['peak_mb']:>4.0f} MB"
        f"   {old['records']:,} records",
    ]
    if "seconds" in new:
        ratio = new["seconds"] / old["seconds"]
        lines.append(
            f"    current bulk.formats.read_xlsx                {new['seconds']:>6.2f} s   peak {new['peak_mb']:>4.0f} MB"
            f"   {new['records']:,} records"
        )
        lines.append(
            f"    current / hand-written = {ratio:.2f} ({1 / ratio if ratio < 1 else ratio:.1f}x "
            f"{'faster' if ratio < 1 else 'slower'}); {same}"
        )
        return lines
    lines.append(
        f"    current bulk.formats.read_xlsx                REFUSED the file after {new.get('refused_s', 0):.2f} s: "
        f"{new['refused']}   << OVER (a valid workbook refused)"
    )
    if "calamine_s" in new:
        ratio = new["calamine_s"] / old["seconds"]
        lines.append(
            f"    its python-calamine step alone (formats._calamine_records) {new['calamine_s']:.2f} s, peak "
            f"{new['peak_mb']:.0f} MB, {new['records']:,} records; / hand-written = {ratio:.2f}; {same}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    comma_list = lambda text: [p.strip() for p in text.split(",") if p.strip()]  # noqa: E731
    parser.add_argument("--quick", action="store_true", help="a subset of the cases")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL database, not SQLite")
    parser.add_argument("--kinds", type=comma_list, help="comma-separated kind slugs (default: all)")
    parser.add_argument("--formats", type=comma_list, help=f"of {', '.join(FORMATS)} (default: all)")
    parser.add_argument("--shapes", type=comma_list, help=f"of {', '.join(ALL_SHAPES)} (default: all)")
    parser.add_argument("--memory-limit-mb", type=int, default=4096, help="each child's RLIMIT_AS")
    parser.add_argument("--timeout", type=float, default=120, help="each child's wall time, in seconds")
    parser.add_argument("--no-xlsx-parse", action="store_true", help="skip the .xlsx reader comparison")
    parser.add_argument("--xlsx-parse-only", action="store_true", help="only the .xlsx reader comparison")
    parser.add_argument("--keep-files", action="store_true", help=f"keep the generated files in {BENCH_DIR}")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    for hidden in ("--kind", "--file", "--name", "--reader", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        child(args)
        return
    for name, given, known in (("format", args.formats, FORMATS), ("shape", args.shapes, ALL_SHAPES)):
        unknown = set(given or []) - set(known)
        if unknown:
            parser.error(f"unknown {name}(s): {', '.join(sorted(unknown))}")

    run_started = time.perf_counter()
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    databases = Databases(args.postgres)
    env = {
        **os.environ,
        "CERTDESK_VAR_DIR": str(BENCH_DIR / "var"),
        "MEDIA_ROOT": str(BENCH_DIR / "media"),
        "CERTDESK_RUNNER": "none",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("EMAIL_URL", None)  # the file outbox under the throwaway var dir, never a real server
    try:
        env["DATABASE_URL"] = databases.seed_url()
        print(f"seeding ({'PostgreSQL' if args.postgres else 'SQLite'}; {load_average()}) …", flush=True)
        seeded = run_child(
            ["--step", "seed"], env, timeout=600, memory_mb=args.memory_limit_mb, out_dir=BENCH_DIR / "seed"
        )
        if "kinds" not in seeded:
            raise SystemExit(f"seeding failed: {seeded['outcome']}\n{seeded['stderr']}")
        print(
            f"seeded {seeded['users']:,} users, {seeded['awards']:,} awards, {seeded['enrolments']:,} enrolments: "
            f"migrations {seeded['migrate_s']:.1f} s, demo {seeded['demo_s']:.1f} s, bench rows {seeded['seed_s']:.1f} s"
        )
        for slug, kind in seeded["kinds"].items():
            print(
                f"  {slug}: at most {human(kind['max_bytes'])}, max_rows {kind['max_rows'] or 'none'}, "
                f"{' '.join(kind['extensions'])}"
            )
        print(
            f"targets: peak RSS ≤ {PEAK_TARGET_MB} MB, refusals within {REFUSAL_TARGET_S:.0f} s; children limited to "
            f"{args.memory_limit_mb:,} MB of address space and {args.timeout:.0f} s",
            flush=True,
        )
        print()
        lines: list[str] = []
        overs = 0
        work = BENCH_DIR / "files"
        group = None
        building = running = 0.0
        for slug, fmt, shape in [] if args.xlsx_parse_only else plan(seeded["kinds"], args):
            if (slug, fmt) != group:
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
                group = (slug, fmt)
            kind = seeded["kinds"][slug]
            path = work / f"{shape}-{FORMATS[fmt][0]}"
            t = time.perf_counter()
            label, size = build(kind, Rows(slug, kind, seeded), fmt, shape, path, work)
            built_s = time.perf_counter() - t
            building += built_s
            shutil.rmtree(BENCH_DIR / "media", ignore_errors=True)
            env["DATABASE_URL"] = databases.fresh()
            r = run_child(
                ["--step", "case", "--kind", slug, "--file", str(path), "--name", FORMATS[fmt][0]],
                env,
                timeout=args.timeout,
                memory_mb=args.memory_limit_mb,
                out_dir=BENCH_DIR / "case",
            )
            running += r["wall"]
            text, over = line(slug, fmt, label, size, r)
            overs += over
            lines.append(text)
            print(text, flush=True)
            if r["status"] in ("crashed", "error") and r["stderr"].strip():
                print("    " + "\n    ".join(r["stderr"].strip().splitlines()[-6:]), flush=True)
            if built_s > 20:
                print(f"    (the file took {built_s:.0f} s to write)", flush=True)
        if not args.keep_files:
            shutil.rmtree(work, ignore_errors=True)
        print()
        print(
            f"{len(lines)} cases, {overs} over the targets; writing the files took {building:.0f} s, the "
            f"children {running:.0f} s; {load_average()} on {os.cpu_count()} CPUs",
            flush=True,
        )
        if not args.no_xlsx_parse:
            env["DATABASE_URL"] = databases.fresh()
            for text in xlsx_parse(env, seeded, args):
                print(text)
        print(f"whole run {time.perf_counter() - run_started:.0f} s")
    finally:
        databases.drop()
        if not args.keep_files:
            shutil.rmtree(BENCH_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
