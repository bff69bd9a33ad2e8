"""Every format, for every kind: CSV, tab-delimited .txt (UTF-8 and UTF-16), XML (Excel 2003 and the
plain rows form) and .xlsx give the same validation; hostile files are refused quickly, with memory
bounded and nothing changed."""

from __future__ import annotations

import codecs
import io
import time
import tracemalloc
import zipfile

import pytest

from access.permissions import IMPORT_LICENSES, IMPORT_UNENROLMENTS
from base.problems import FileRejected
from bulk import services, worker
from bulk.models import Job
from bulk.registry import get_kind
from bulk.samples import _plain_xml, _spreadsheet_2003, _xlsx, sample_file, sample_formats
from credentials.models import License, LicenseType

from .factories import UserFactory, grant, make_csv

HEADER = [
    "Username",
    "License code",
    "Number",
    "Issuing authority",
    "Issue date",
    "Expiration date",
    "Action",
]


@pytest.fixture
def importer(db):
    return grant(UserFactory(username="ivy"), IMPORT_LICENSES, IMPORT_UNENROLMENTS)


@pytest.fixture
def rows(db):
    """A logical file: good adds, an edit, a delete, and rows with every kind of error."""
    rn = LicenseType.objects.create(
        code="RN", name="Registered Nurse", issuing_authority="State Board of Nursing"
    )
    LicenseType.objects.create(code="BLS", name="Basic Life Support", number_required=False)
    _, ben, cat, dan = (UserFactory(username=n) for n in ("ann", "ben", "cat", "dan"))
    License.objects.create(user=ben, license_type=rn, number="RN-2")
    License.objects.create(user=cat, license_type=rn, number="RN-3")
    License.objects.create(user=dan, license_type=rn, number="RN-4")
    return [
        ["ann", "RN", "RN-1", "", "2025-06-01", "2027-05-31", "Add"],
        ["ann", "BLS", "", "Red Cross", "2026-01-10", "", "add"],
        ["ben", "RN", "RN-2", "", "2025-01-01", "2026-12-31", "Edit"],
        ["cat", "RN", "RN-3", "", "", "", "Delete"],
        ["dan", "RN", "RN-4", "", "", "", "Add"],  # exists already
        ["ann", "RN", "RN-9", "", "", "", "Edit"],  # does not exist
        ["nobody", "RN", "RN-5", "", "", "", "Add"],
        ["ann", "XX", "1", "", "", "", "Add"],
        ["ann", "RN", "RN-6", "", "2026-05-01", "2026-04-01", "Add"],
        ["ann", "RN", "RN-7", "", "31/12/2026", "", "Add"],
        ["ann", "RN", "RN-8", "", "", "", "Renew"],
    ]


def as_format(fmt: str, rows: list[list[str]]) -> tuple[bytes, str]:
    if fmt == "csv":
        return make_csv(rows, HEADER), "licences.csv"
    if fmt == "txt":
        text = "\r\n".join("\t".join(r) for r in [HEADER, *rows]) + "\r\n"
        return text.encode("utf-8"), "licences.txt"
    if fmt == "txt-utf16":
        text = "\r\n".join("\t".join(r) for r in [HEADER, *rows]) + "\r\n"
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "licences.txt"
    if fmt == "xml":
        return _plain_xml(HEADER, rows), "licences.xml"
    if fmt == "xml-2003":
        return _spreadsheet_2003([HEADER, *rows]), "licences.xml"
    return _xlsx([HEADER, *rows]), "licences.xlsx"


def outcomes(job: Job) -> list[tuple[int, str, str]]:
    return [(r.row_number, r.outcome, r.message) for r in job.rows.order_by("seq")]


FORMATS = ["csv", "txt", "txt-utf16", "xml", "xml-2003", "xlsx"]


def test_the_same_file_in_every_format_gives_the_same_validation(importer, rows):
    results = {}
    for fmt in FORMATS:
        data, name = as_format(fmt, rows)
        job = services.submit("license-import", data, name, actor=importer, title=fmt, validate_only=True).job
        results[fmt] = outcomes(job)
    reference = results["csv"]
    assert [o for _, o, _ in reference] == ["pending"] * 4 + ["error"] * 7
    for fmt in FORMATS:
        assert results[fmt] == reference, fmt
    messages = [m for _, _, m in reference]
    assert "already holds this licence" in messages[4]
    assert "holds no such licence" in messages[5]
    assert messages[6].startswith("Username not recognised")
    assert messages[7].startswith("License code not recognised")
    assert "before the issue date" in messages[8]
    assert "is not a date" in messages[9]
    assert "Action must be Add, Edit or Delete, not 'Renew'." in messages[10]


def test_running_an_import_adds_edits_and_deletes_keeping_history(importer, rows):
    data, name = as_format("xlsx", rows)
    job = services.submit("license-import", data, name, actor=importer, title="Board list", start=True).job
    job = worker.run_next("test-worker")

    assert (job.succeeded, job.failed) == (4, 7)
    assert License.objects.current().filter(user__username="ann").count() == 2
    assert str(License.objects.get(number="RN-2").expiration_date) == "2026-12-31"
    deleted = License.objects.get(number="RN-3")
    assert deleted.deleted_at is not None  # kept as history
    assert not License.objects.current().filter(number="RN-3").exists()
    assert (
        License.objects.get(user__username="ann", number="RN-1").issuing_authority == "State Board of Nursing"
    )


@pytest.mark.parametrize("kind", ["license-import", "unenrolment", "certification-award"])
def test_every_kind_offers_its_template_in_every_format_and_reads_it_back(importer, kind):
    job_kind = get_kind(kind)
    assert sample_formats(job_kind) == ["csv", "txt", "xml", "xml-2003", "xlsx"]
    for fmt in sample_formats(job_kind):
        content, filename, _ = sample_file(job_kind, fmt, example=True)
        from bulk.intake import parse_upload

        table = parse_upload(
            content,
            job_kind.columns,
            limit=job_kind.max_bytes,
            filename=filename,
            extensions=job_kind.extensions,
        )
        width = len(job_kind.columns)
        assert [(r.cells + [""] * width)[:width] for r in table.rows] == job_kind.example_rows(), fmt


def refused(importer, data: bytes, name: str) -> tuple[FileRejected, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(FileRejected) as rejected:
            services.submit("license-import", data, name, actor=importer, title="Hostile", validate_only=True)
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert not Job.objects.exists()
    return rejected.value, elapsed, peak


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<rows><row><username>&lol9;</username></row></rows>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rows [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rows><row><username>&secret;</username></row></rows>
"""


def zip_bomb() -> bytes:
    """A small .xlsx-looking zip whose sheet expands to 300 MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            block = b"0" * (1024 * 1024)
            for _ in range(300):
                sheet.write(block)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("laughs.xml", lambda: BILLION_LAUGHS, "document type"),
        ("secret.xml", lambda: EXTERNAL_ENTITY, "document type"),
        ("bomb.xlsx", zip_bomb, "would expand to"),
        ("binary.csv", lambda: bytes(range(256)) * 64, "binary data"),
        ("sheet.csv", lambda: _xlsx([HEADER]), "named .csv but holds an Excel workbook"),
        (
            "rows.xlsx",
            lambda: make_csv([["ann", "RN", "1", "", "", "", "Add"]], HEADER),
            "named .xlsx but holds a text file",
        ),
    ],
)
def test_hostile_and_mislabelled_files_are_refused_quickly_with_memory_bounded(
    importer, rows, name, make, reason
):
    data = make()
    rejection, seconds, peak = refused(importer, data, name)
    assert rejection.headlines == ["The file is the incorrect file format"]
    assert reason in rejection.problems[0].message
    assert seconds < 5  # a guard against hanging, not a benchmark
    assert peak < 50 * 1024 * 1024
    assert License.objects.count() == 3  # the licences of the set-up, unchanged


def test_a_licence_type_that_needs_a_number_refuses_a_row_without_one_and_repeats_are_errors(importer, rows):
    data = make_csv(
        [
            ["ann", "RN", "", "", "", "", "Add"],  # RN needs its number
            ["ann", "BLS", "", "", "", "", "Add"],  # BLS has none
            ["ann", "BLS", "", "", "", "", "Delete"],  # the same licence again
        ],
        HEADER,
    )
    job = services.submit("license-import", data, "l.csv", actor=importer, title="t", validate_only=True).job
    result = outcomes(job)
    assert [o for _, o, _ in result] == ["error", "pending", "error"]
    assert result[0][2] == "Number is empty: a RN licence needs its number."
    assert result[2][2] == "The same licence is in row 3: one change per licence per file."


def test_a_verified_licence_import_rechecks_nothing_changed_meanwhile(importer, rows):
    """Valid when checked, changed before it was started: checked again as it starts, the row is an
    error saying why, not a silent overwrite."""
    data = make_csv([["ann", "RN", "RN-1", "", "", "", "Add"]], HEADER)
    job = services.submit("license-import", data, "l.csv", actor=importer, title="t", validate_only=True).job
    License.objects.create(
        user=importer.__class__.objects.get(username="ann"),
        license_type=LicenseType.objects.get(code="RN"),
        number="RN-1",
    )

    services.start_job(job, importer)
    job = worker.run_next("test-worker")

    [(_, outcome, message)] = outcomes(job)
    assert (outcome, message) == (
        "error",
        "'ann' already holds this licence (number 'RN-1'); use Edit to change it.",
    )
    assert License.objects.filter(number="RN-1").count() == 1


def shared_strings_bomb() -> bytes:
    """An .xlsx under the upload limit whose table of shared text unzips to 25 MB of distinct strings
    (compressing only a few times over, so the overall expansion check does not catch it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/sharedStrings.xml", "w") as strings:
            strings.write(b"<sst>")
            for n in range(1_200_000):
                strings.write(b"<si><t>%d-%x</t></si>" % (n, n * 2654435761 % 2**32))
            strings.write(b"</sst>")
    return buffer.getvalue()


def far_column_2003() -> bytes:
    return (
        b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        b'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet><Table><Row>'
        b'<Cell ss:Index="1500000000"><Data ss:Type="String">x</Data></Cell></Row></Table></Worksheet></Workbook>'
    )


def many_names_xml() -> bytes:
    names = "".join(f"<c{n}>x</c{n}>" for n in range(20_000))
    return (f"<rows><row>{names}</row>" + "<row/>" * 20_000 + "</rows>").encode()


def far_row_xlsx() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active["A1"] = "Username"
    workbook.active["A1048576"] = "last"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "reason", "headline"),
    [
        (
            "strings.xlsx",
            shared_strings_bomb,
            "table of shared text",
            "The file is the incorrect file format",
        ),
        ("far.xml", far_column_2003, "at most 200 are read", "The file is the incorrect file format"),
        (
            "names.xml",
            many_names_xml,
            "more than 200 different columns",
            "The file is the incorrect file format",
        ),
        ("far.xlsx", far_row_xlsx, "has a value in row 1,048,576", "The file has too many rows"),
        (
            "old.xls",
            lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
            "Excel 97-2003 workbook",
            "The file is the incorrect file format",
        ),
    ],
)
def test_spreadsheets_that_would_balloon_when_opened_are_refused_first(
    importer, rows, name, make, reason, headline
):
    rejection, seconds, peak = refused(
        importer, make(), name.replace(".xls", ".xlsx") if name == "old.xls" else name
    )
    assert rejection.headlines == [headline]
    assert reason in rejection.problems[0].message
    assert seconds < 10  # a guard against hanging, not a benchmark
    assert peak < 100 * 1024 * 1024
