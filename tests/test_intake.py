"""Uploading a certification removal file: every published file error, reported in full, and every
file shape administrators send (encodings, delimiters, line endings, quoting, header spelling)."""

from __future__ import annotations

import codecs
import io

import pytest

from audit.models import Event
from base.problems import (
    EMPTY_FILE,
    FILE_TOO_LARGE,
    INCORRECT_FORMAT,
    INVALID_CERTIFICATION,
    INVALID_COLUMNS,
    INVALID_DATA_FORMATS,
    INVALID_USERS,
    PUBLISHED_MESSAGES,
    FileRejected,
    report,
)
from bulk import services, worker
from bulk.intake import parse_csv
from bulk.models import Job, JobRow
from bulk.registry import get_kind
from credentials.models import Award

from .factories import CertificationFactory, UserFactory, award_many, make_csv, removal_rows

KIND = "certification-removal"
ONE_MB = 1024 * 1024
HEADER = b"Certification ID,User ID\n"


def submit(data, actor, filename: str = "removal.csv", **options):
    options.setdefault("title", "Audit clean-up")
    return services.submit(KIND, data, filename, actor=actor, **options)


def rejection(data, actor, filename: str = "removal.csv") -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        submit(data, actor, filename)
    return caught.value


def where(rejected: FileRejected) -> list[tuple[str, int | None, str | None, str | None]]:
    return [(p.code, p.row, p.column, p.value) for p in rejected.problems]


def padded_to(data: bytes, size: int) -> bytes:
    """Pad a CSV with blank trailing lines (which are ignored) to exactly ``size`` bytes."""
    assert len(data) <= size
    return data + b"\n" * (size - len(data))


# --- The file size must be 1MB or less --------------------------------------------------------------


@pytest.mark.parametrize("as_stream", [False, True], ids=["bytes", "stream"])
def test_file_over_1mb_is_rejected_with_the_published_size_message(alice, certification, holders, as_stream):
    data = padded_to(make_csv(removal_rows(certification, holders)), ONE_MB) + b"\n"
    upload = io.BytesIO(data) if as_stream else data

    rejected = rejection(upload, alice)

    assert where(rejected) == [(FILE_TOO_LARGE, None, None, None)]
    assert rejected.problems[0].message == "The file size must be 1MB or less."
    assert rejected.headlines == [PUBLISHED_MESSAGES[FILE_TOO_LARGE].format(limit="1MB")]
    assert rejected.headlines == ["The file size must be 1MB or less"]


def test_file_of_exactly_1mb_is_accepted(alice, certification, holders):
    data = padded_to(make_csv(removal_rows(certification, holders)), ONE_MB)

    job = submit(io.BytesIO(data), alice).job

    assert job.original_size == ONE_MB
    assert job.total == len(holders)


# --- The file is the incorrect file format -----------------------------------------------------------

XLSX_BYTES = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml" + b"\x00" * 64


def test_excel_workbook_is_the_incorrect_file_format(alice, certification, holders):
    rejected = rejection(XLSX_BYTES, alice, "removal.xlsx")

    assert where(rejected) == [(INCORRECT_FORMAT, None, None, "removal.xlsx")]
    assert rejected.headlines == ["The file is the incorrect file format"]
    assert "'removal.xlsx' is not a CSV file" in rejected.problems[0].message


def test_excel_workbook_renamed_to_csv_is_the_incorrect_file_format(alice, certification, holders):
    rejected = rejection(XLSX_BYTES, alice, "removal.csv")

    # The content decides, not the name: the name is the offending value.
    assert where(rejected) == [(INCORRECT_FORMAT, None, None, "removal.csv")]
    assert "named .csv but holds an Excel workbook" in rejected.problems[0].message
    assert rejected.headlines == ["The file is the incorrect file format"]
    assert "save it as CSV" in rejected.problems[0].message


def test_binary_file_with_nul_bytes_is_the_incorrect_file_format(alice, certification, holders):
    # The start of a legacy .xls (OLE2) file, saved under a .csv name.
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b">\x00\x03\x00\xfe\xff\t\x00" + b"\xff" * 200

    rejected = rejection(data, alice, "removal.csv")

    assert where(rejected) == [(INCORRECT_FORMAT, None, None, None)]
    # Recognised for what it is, with what to do about it.
    assert "Excel 97-2003 workbook (.xls)" in rejected.problems[0].message
    assert "or as CSV" in rejected.problems[0].message


def test_pdf_file_is_the_incorrect_file_format(alice, certification, holders):
    data = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"

    rejected = rejection(data, alice, "Removal list.pdf")

    assert where(rejected) == [(INCORRECT_FORMAT, None, None, "Removal list.pdf")]
    assert rejected.headlines == ["The file is the incorrect file format"]


def test_csv_extension_in_capitals_is_accepted(alice, certification, holders):
    job = submit(make_csv(removal_rows(certification, holders[:2])), alice, "REMOVAL.CSV").job

    assert job.total == 2


# --- The file is empty --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n\n \r\n\t\n", HEADER, b"\r\n" + HEADER + b"\r\n,\r\n"],
    ids=["zero-bytes", "whitespace-only", "header-only", "header-and-blank-rows"],
)
def test_file_without_data_rows_is_empty(alice, certification, holders, data):
    rejected = rejection(data, alice)

    assert [(p.code, p.row, p.column) for p in rejected.problems] == [(EMPTY_FILE, None, None)]
    assert rejected.headlines == ["The file is empty"]


def test_header_only_file_says_it_has_no_data_rows(alice, certification, holders):
    rejected = rejection(HEADER, alice)

    assert "header row but no data rows" in rejected.problems[0].message


# --- The file has invalid columns ---------------------------------------------------------------------


def test_file_without_a_user_id_column_has_invalid_columns(alice, certification, holders):
    data = make_csv([["CERT-042"], ["CERT-042"]], header=["Certification ID"])

    rejected = rejection(data, alice)

    assert where(rejected) == [(INVALID_COLUMNS, 1, "User ID", None)]
    assert rejected.headlines == ["The file has invalid columns"]
    assert "User ID is missing" in rejected.problems[0].message


def test_file_naming_certification_id_twice_has_invalid_columns(alice, certification, holders):
    header = ["Certification ID", "User ID", "certification id"]
    data = make_csv([["CERT-042", holders[0].user_id, "CERT-042"]], header=header)

    rejected = rejection(data, alice)

    assert where(rejected) == [(INVALID_COLUMNS, 1, "Certification ID", "certification id")]
    assert "appears more than once" in rejected.problems[0].message


def test_file_without_either_column_lists_both_missing_columns(alice, certification, holders):
    data = make_csv([["x", "y"]], header=["Cert", "Person"])

    rejected = rejection(data, alice)

    assert where(rejected) == [
        (INVALID_COLUMNS, 1, "Certification ID", None),
        (INVALID_COLUMNS, 1, "User ID", None),
    ]


# --- The file has invalid data formats ----------------------------------------------------------------


def test_blank_user_id_is_an_invalid_data_format_on_its_row(alice, certification, holders):
    rows = removal_rows(certification, holders[:4])
    rows[2][1] = "  "  # file row 4 (the header is row 1)

    rejected = rejection(make_csv(rows), alice)

    assert where(rejected) == [(INVALID_DATA_FORMATS, 4, "User ID", "")]
    assert rejected.headlines == ["The file has invalid data formats"]
    assert rejected.problems[0].message == "User ID is empty."


def test_row_with_more_values_than_the_header_is_an_invalid_data_format(alice, certification, holders):
    rows = removal_rows(certification, holders[:3])
    rows[1].append("stray value")  # file row 3

    rejected = rejection(make_csv(rows), alice)

    assert where(rejected) == [(INVALID_DATA_FORMATS, 3, None, "stray value")]
    assert "3 values but the header has 2 columns" in rejected.problems[0].message


def test_user_id_longer_than_100_characters_is_an_invalid_data_format(alice, certification, holders):
    rows = [*removal_rows(certification, holders[:1]), ["CERT-042", "U" * 101]]

    rejected = rejection(make_csv(rows), alice)

    assert [(p.code, p.row, p.column) for p in rejected.problems] == [(INVALID_DATA_FORMATS, 3, "User ID")]
    assert "longer than 100 characters" in rejected.problems[0].message


# --- User IDs included in the file are invalid or the users are not enrolled ---------------------------


def test_unknown_user_id_is_an_invalid_user(alice, certification, holders):
    rows = [*removal_rows(certification, holders[:2]), ["CERT-042", "NOBODY-1"]]

    rejected = rejection(make_csv(rows), alice)

    assert where(rejected) == [(INVALID_USERS, 4, "User ID", "NOBODY-1")]
    assert rejected.headlines == [
        "User IDs included in the file are invalid or the users are not enrolled in the certification"
    ]
    assert "NOBODY-1" in rejected.problems[0].message


def test_user_who_does_not_hold_the_certification_is_an_invalid_user(alice, certification, holders):
    outsider = UserFactory(user_id="U-OUTSIDER")
    rows = [["CERT-042", outsider.user_id], *removal_rows(certification, holders[:2])]

    rejected = rejection(make_csv(rows), alice)

    assert where(rejected) == [(INVALID_USERS, 2, "User ID", "U-OUTSIDER")]
    assert "not enrolled in certification CERT-042" in rejected.problems[0].message


def test_user_whose_award_was_already_removed_is_an_invalid_user(alice, certification, holders):
    Award.objects.filter(user=holders[1]).update(status=Award.Status.REMOVED)

    rejected = rejection(make_csv(removal_rows(certification, holders[:3])), alice)

    assert where(rejected) == [(INVALID_USERS, 3, "User ID", holders[1].user_id)]


# --- The Certification ID included in the file is invalid ---------------------------------------------


def test_unknown_certification_id_is_reported_on_every_row(alice, certification, holders):
    rows = [["CERT-999", u.user_id] for u in holders[:3]]

    rejected = rejection(make_csv(rows), alice)

    assert where(rejected) == [
        (INVALID_CERTIFICATION, 2, "Certification ID", "CERT-999"),
        (INVALID_CERTIFICATION, 3, "Certification ID", "CERT-999"),
        (INVALID_CERTIFICATION, 4, "Certification ID", "CERT-999"),
    ]
    assert rejected.headlines == ["The Certification ID included in the file is invalid"]


def test_second_certification_in_one_file_is_reported_on_each_row_naming_it(alice, certification, holders):
    other = CertificationFactory(code="CERT-043")
    award_many(other, holders[:5])
    codes = ["CERT-042", "CERT-042", "CERT-043", "CERT-042", "CERT-043"]
    rows = [[code, u.user_id] for code, u in zip(codes, holders[:5], strict=True)]

    rejected = rejection(make_csv(rows), alice)

    assert where(rejected) == [
        (INVALID_CERTIFICATION, 4, "Certification ID", "CERT-043"),
        (INVALID_CERTIFICATION, 6, "Certification ID", "CERT-043"),
    ]
    assert "Only one Certification ID" in rejected.problems[0].message


# --- Every problem at once, and nothing changes -------------------------------------------------------


def test_every_bad_row_of_a_file_is_listed_at_once_in_row_order(alice, certification, holders):
    outsider = UserFactory(user_id="U-OUTSIDER")
    rows = removal_rows(certification, holders[:6])
    rows[0][1] = "NOBODY-1"  # row 2: unknown user
    rows[2][1] = ""  # row 4: blank User ID
    rows[4][1] = outsider.user_id  # row 6: does not hold the certification

    rejected = rejection(make_csv(rows), alice)

    assert where(rejected) == [
        (INVALID_USERS, 2, "User ID", "NOBODY-1"),
        (INVALID_DATA_FORMATS, 4, "User ID", ""),
        (INVALID_USERS, 6, "User ID", "U-OUTSIDER"),
    ]
    assert rejected.headlines == [
        "User IDs included in the file are invalid or the users are not enrolled in the certification",
        "The file has invalid data formats",
    ]


@pytest.mark.parametrize(
    "data, filename",
    [
        (b"", "removal.csv"),
        (XLSX_BYTES, "removal.xlsx"),
        (b"User ID\nU000001\n", "removal.csv"),
        ("unknown-user", "removal.csv"),
        ("second-certification", "removal.csv"),
    ],
    ids=["empty", "xlsx", "columns", "unknown-user", "second-certification"],
)
def test_rejected_file_changes_nothing_but_is_audited(alice, certification, holders, data, filename):
    if data == "unknown-user":
        data = make_csv([*removal_rows(certification, holders), ["CERT-042", "NOBODY-1"]])
    elif data == "second-certification":
        CertificationFactory(code="CERT-043")
        data = make_csv([*removal_rows(certification, holders), ["CERT-043", holders[0].user_id]])

    rejected = rejection(data, alice, filename)

    assert Job.objects.count() == 0
    assert JobRow.objects.count() == 0
    assert Award.objects.filter(certification=certification, status=Award.Status.ACTIVE).count() == 20
    assert not Award.objects.exclude(status=Award.Status.ACTIVE).exists()
    event = Event.objects.get(action="job.rejected")
    assert event.actor == alice
    assert event.job is None
    assert event.object_id == filename
    assert event.after["title"] == "Audit clean-up"
    assert event.after["headlines"] == rejected.headlines
    assert event.after["problem_count"] == len(rejected.problems)
    assert not Event.objects.exclude(action="job.rejected").exists()


def test_rejected_upload_is_not_kept_in_file_storage(alice, certification, holders, isolated_media):
    rejection(make_csv([["CERT-042", "NOBODY-1"]]), alice)

    stored = [p for p in isolated_media.rglob("*") if p.is_file()] if isolated_media.exists() else []
    assert stored == []


# --- Encodings ----------------------------------------------------------------------------------------

ACCENTED_ID = "U-Zoé-€1"


def encoded(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-bom":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    if encoding == "utf-16-le-bom":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if encoding == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding)


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le", "cp1252"]
)
def test_file_in_every_supported_encoding_is_read_with_its_accents(alice, certification, holders, encoding):
    accented = UserFactory(user_id=ACCENTED_ID)
    award_many(certification, [accented])
    rows = removal_rows(certification, [holders[0], accented, holders[1]])
    text = make_csv(rows, line_ending="\r\n").decode("utf-8")

    job = submit(encoded(text, encoding), alice).job

    assert job.total == 3
    assert list(job.rows.order_by("seq").values_list("key", "user_id")) == [
        (holders[0].user_id, holders[0].pk),
        (ACCENTED_ID, accented.pk),
        (holders[1].user_id, holders[1].pk),
    ]
    assert job.params["header"] == ["Certification ID", "User ID"]


def test_accented_user_id_from_a_windows_1252_file_is_removed(alice, certification, holders):
    accented = UserFactory(user_id=ACCENTED_ID)
    award_many(certification, [accented])
    data = make_csv(removal_rows(certification, [accented]), encoding="cp1252")
    assert "é".encode() not in data  # really a Windows-1252 file

    submit(data, alice, start=True)
    job = worker.run_next("test")

    assert job.status == Job.Status.PROCESSED
    assert Award.objects.get(user=accented).status == Award.Status.REMOVED


# --- Delimiters, line endings, quoting, header spelling ------------------------------------------------


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_comma_semicolon_and_tab_delimited_files_are_accepted(
    alice, certification, holders, delimiter, line_ending
):
    data = make_csv(removal_rows(certification, holders[:5]), delimiter=delimiter, line_ending=line_ending)

    job = submit(data, alice).job

    assert job.total == 5
    assert list(job.rows.order_by("seq").values_list("key", flat=True)) == [u.user_id for u in holders[:5]]
    assert list(job.rows.order_by("seq").values_list("row_number", flat=True)) == [2, 3, 4, 5, 6]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_quoted_value_containing_the_delimiter_is_one_value(alice, certification, holders, delimiter):
    odd = UserFactory(user_id=f"DOE{delimiter} JANE")
    award_many(certification, [odd])
    data = make_csv(removal_rows(certification, [holders[0], odd]), delimiter=delimiter)
    assert f'"DOE{delimiter} JANE"'.encode() in data

    job = submit(data, alice).job

    assert list(job.rows.order_by("seq").values_list("key", "user_id")) == [
        (holders[0].user_id, holders[0].pk),
        (odd.user_id, odd.pk),
    ]


def test_quoted_header_and_values_are_accepted(alice, certification, holders):
    data = b'"Certification ID","User ID"\r\n' + b"".join(
        f'"CERT-042","{u.user_id}"\r\n'.encode() for u in holders[:3]
    )

    job = submit(data, alice).job

    assert job.total == 3


@pytest.mark.parametrize(
    "header",
    [
        (" certification id ", "USER ID"),
        ("CERTIFICATION ID", "user id"),
        ("Certification  Id", " User Id"),
        ("certification_id", "user_id"),
    ],
)
def test_header_names_match_whatever_their_case_and_spacing(alice, certification, holders, header):
    data = make_csv(removal_rows(certification, holders[:3]), header=header)

    job = submit(data, alice).job

    assert job.total == 3
    assert job.warnings == []


def test_columns_in_another_order_are_accepted(alice, certification, holders):
    rows = [[u.user_id, certification.code] for u in holders[:3]]

    job = submit(make_csv(rows, header=["User ID", "Certification ID"]), alice).job

    assert list(job.rows.order_by("seq").values_list("user_id", flat=True)) == [u.pk for u in holders[:3]]


def test_spaces_around_values_are_ignored(alice, certification, holders):
    rows = [[f" {certification.code} ", f"  {u.user_id}\t"] for u in holders[:3]]

    job = submit(make_csv(rows), alice).job

    assert list(job.rows.order_by("seq").values_list("key", flat=True)) == [u.user_id for u in holders[:3]]


@pytest.mark.parametrize("trailer", ["\n\n\n", "\r\n\r\n", ",\n,\n", "  \n,,\n \t\n"], ids=repr)
def test_blank_trailing_lines_are_ignored(alice, certification, holders, trailer):
    data = make_csv(removal_rows(certification, holders[:4])) + trailer.encode()

    job = submit(data, alice).job

    assert job.total == 4


@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
@pytest.mark.parametrize("leader", ["\n", "\r\n\r\n", "  \n", " \t \r\n"], ids=repr)
def test_blank_lines_before_the_header_are_ignored(alice, certification, holders, delimiter, leader):
    data = leader.encode() + make_csv(removal_rows(certification, holders[:3]), delimiter=delimiter)

    job = submit(data, alice).job

    assert job.total == 3
    assert job.params["header"] == ["Certification ID", "User ID"]


def test_blank_line_between_rows_keeps_spreadsheet_row_numbers(alice, certification, holders):
    rows = removal_rows(certification, holders[:2])
    data = make_csv(rows[:1]) + b"\n" + ",".join(rows[1]).encode() + b"\n"

    job = submit(data, alice).job

    assert list(job.rows.order_by("seq").values_list("row_number", flat=True)) == [2, 4]


def test_unknown_extra_column_is_accepted_with_a_warning_on_the_job(alice, certification, holders):
    rows = [[*r, "left the company"] for r in removal_rows(certification, holders[:3])]
    data = make_csv(rows, header=["Certification ID", "User ID", "Notes"])

    job = submit(data, alice).job

    job.refresh_from_db()
    assert job.total == 3
    assert job.warnings == ["Column 'Notes' is not used by this job and was ignored."]
    assert job.params["header"] == ["Certification ID", "User ID", "Notes"]


# --- Problem cap --------------------------------------------------------------------------------------


def test_problem_report_lists_up_to_the_cap_and_says_how_many_more(alice, certification, holders, settings):
    settings.CERTDESK_MAX_LISTED_PROBLEMS = 5
    rows = [["CERT-042", f"NOBODY-{n:02d}"] for n in range(12)]

    rejected = rejection(make_csv(rows), alice)
    answer = report(
        rejected.problems, rejected.headlines, settings.CERTDESK_MAX_LISTED_PROBLEMS, rejected.total
    )

    # Only the first problems are kept (memory stays bounded), but all of them are counted.
    assert len(rejected.problems) == 5
    assert rejected.total == 12
    assert [e["row"] for e in answer["errors"]] == [2, 3, 4, 5, 6]
    assert answer["errors"][0] == {
        "code": INVALID_USERS,
        "message": "No user has the User ID 'NOBODY-00'.",
        "row": 2,
        "column": "User ID",
        "value": "NOBODY-00",
    }
    assert answer["errors_total"] == 12
    assert answer["errors_not_shown"] == 7
    assert "7 more not shown" in answer["detail"]
    event = Event.objects.get(action="job.rejected")
    assert len(event.after["problems"]) == 5
    assert event.after["problem_count"] == 12


def test_problem_report_under_the_cap_lists_everything(alice, certification, holders, settings):
    settings.CERTDESK_MAX_LISTED_PROBLEMS = 5
    rows = [["CERT-042", f"NOBODY-{n:02d}"] for n in range(5)]

    rejected = rejection(make_csv(rows), alice)
    answer = report(rejected.problems, rejected.headlines, settings.CERTDESK_MAX_LISTED_PROBLEMS)

    assert len(answer["errors"]) == 5
    assert answer["errors_not_shown"] == 0
    assert "more not shown" not in answer["detail"]


# --- bulk.intake directly -----------------------------------------------------------------------------


def test_parse_csv_keeps_the_uploaded_cells_of_each_row(db):
    columns = get_kind(KIND).columns
    data = make_csv(
        [["CERT-042", "U1", "note"], ["CERT-042", "U2", ""]], header=["Certification ID", "User ID", "x"]
    )

    table = parse_csv(data, columns, limit=ONE_MB)

    assert table.header == ["Certification ID", "User ID", "x"]
    assert [(r.row_number, r.cells) for r in table.rows] == [
        (2, ["CERT-042", "U1", "note"]),
        (3, ["CERT-042", "U2", ""]),
    ]
    assert [r.values for r in table.rows] == [
        {"Certification ID": "CERT-042", "User ID": "U1"},
        {"Certification ID": "CERT-042", "User ID": "U2"},
    ]


def test_a_header_wider_than_any_job_reads_is_rejected_before_rows_are_padded_to_it(
    alice, certification, holders
):
    header = ["Certification ID", "User ID", *[f"Extra {n}" for n in range(250)]]
    data = make_csv([[certification.code, holders[0].user_id]], header=header)

    with pytest.raises(FileRejected) as rejected:
        services.submit("certification-removal", data, "wide.csv", actor=alice, title="Wide")

    [problem] = rejected.value.problems
    assert problem.code == INVALID_COLUMNS and problem.row == 1
    assert "252 columns; at most 200 are read" in problem.message
    assert not Job.objects.exists()


def test_columns_without_a_name_are_reported_in_one_warning_and_trailing_separators_ignored(
    alice, certification, holders
):
    data = f"Certification ID,,User ID,,,\n{certification.code},x,{holders[0].user_id},,,\n".encode()

    job = services.submit("certification-removal", data, "gaps.csv", actor=alice, title="Gaps").job

    assert job.warnings == ["1 column(s) without a name were ignored."]
    assert job.params["header"] == ["Certification ID", "", "User ID"]
