"""A file read as a stream: batches that see each other's rows, row caps counted as rows arrive, the
first problems kept and every one counted, encodings told rather than guessed, quotes reported where
they open, and spreadsheet dates read as the spreadsheet shows them."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from access.permissions import IMPORT_LICENSES, IMPORT_UNENROLMENTS
from base.problems import INCORRECT_FORMAT, INVALID_DATA_FORMATS, TOO_MANY_ROWS, FileRejected
from bulk import services
from bulk.intake import Column, parse_upload
from bulk.models import Job, JobRow
from credentials.models import Award, LicenseType

from .factories import (
    UNENROLMENT_HEADER,
    ActivityFactory,
    CertificationFactory,
    UserFactory,
    award_many,
    enrol,
    grant,
    make_csv,
)

REMOVAL = "certification-removal"
UNENROLMENT = "unenrolment"


@pytest.fixture
def cara(db):
    user = UserFactory(username="cara", user_id="ADM-CARA", email="cara@example.test")
    return grant(user, IMPORT_UNENROLMENTS, IMPORT_LICENSES)


@pytest.fixture
def small_batches(settings):
    """Batches of 7 rows, so that a file of a few dozen rows crosses several of them."""
    settings.CERTDESK_INTAKE_BATCH_ROWS = 7


def results(job: Job) -> list[dict[str, str]]:
    job.refresh_from_db()
    with job.results_file.open("rb") as stream:
        return list(csv.DictReader(io.StringIO(stream.read().decode("utf-8-sig"))))


def unenrol_file(rows: list[list[str]]) -> bytes:
    return make_csv(rows, UNENROLMENT_HEADER)


# --- Batches ------------------------------------------------------------------------------------------


def test_a_repeat_in_a_later_batch_is_still_a_repeat(cara, small_batches):
    activity = ActivityFactory(external_reference="FS-101")
    learners = UserFactory.create_batch(20)
    enrol(activity, learners)
    rows = [[u.username, "FS-101", "No"] for u in learners] + [[learners[0].username, "FS-101", "No"]]

    job = services.submit(
        UNENROLMENT, unenrol_file(rows), "u.csv", actor=cara, title="t", validate_only=True
    ).job

    table = results(job)
    assert [r["Result"] for r in table] == ["Would unenrol"] * 20 + ["Skipped"]
    assert table[-1]["Message"] == "Same user and activity as row 2; only row 2 is used."
    assert job.params["summary"]["would_unenrol"] == 20 and job.params["summary"]["users"] == 20
    assert job.total == 21


def test_repeats_in_later_batches_come_off_the_summary_and_the_emails(cara, small_batches):
    activity = ActivityFactory(external_reference="FS-101")
    learners = UserFactory.create_batch(10)
    enrol(activity, learners)
    rows = [[u.username, "FS-101", "Yes"] for u in learners]
    # Row 12 repeats row 2 (its learner would get an email); row 19 repeats row 12's repeat.
    rows += [[learners[0].username, "FS-101", "Yes"]] + [[u.username, "FS-101", "No"] for u in learners[1:7]]
    rows += [[learners[0].username, "FS-101", "No"]]

    job = services.submit(
        UNENROLMENT, unenrol_file(rows), "u.csv", actor=cara, title="t", validate_only=True
    ).job

    table = results(job)
    assert [r["Result"] for r in table] == ["Would unenrol"] * 10 + ["Skipped"] * 8
    assert table[10]["Message"] == "Same user and activity as row 2; only row 2 is used."
    assert table[11]["Message"] == "Same user and activity as row 3; only row 3 is used."
    assert table[17]["Message"] == "Same user and activity as row 2; only row 2 is used."
    summary = job.params["summary"]
    assert (summary["would_unenrol"], summary["skipped"], summary["emails"]) == (10, 8, 10)
    assert (summary["users"], summary["activities"]) == (10, 1)
    assert (job.total, job.skipped, job.failed) == (18, 8, 0)


def test_a_removal_removes_a_user_named_in_two_batches_once(alice, small_batches):
    certification = CertificationFactory(code="CERT-042")
    holders = UserFactory.create_batch(12)
    award_many(certification, holders)
    rows = [["CERT-042", u.user_id] for u in holders] + [["CERT-042", holders[3].user_id.lower()]]

    job = services.submit(REMOVAL, make_csv(rows), "r.csv", actor=alice, title="t", validate_only=True).job

    table = results(job)
    assert [r["Result"] for r in table] == ["Would remove"] * 12 + ["Skipped"]
    assert table[-1]["Message"] == (
        f"User ID '{holders[3].user_id.lower()}' repeats row 5; the user is removed once."
    )
    summary = job.params["summary"]
    assert (summary["users"], summary["repeated_rows"]) == (12, 1)
    assert summary["sample"] == [u.user_id for u in holders[:10]]
    assert (job.total, job.skipped) == (13, 1)


def test_an_award_file_awards_a_pair_named_in_two_batches_once(small_batches, db):
    from access.permissions import AWARD_CERTIFICATIONS

    ada = grant(UserFactory(username="ada"), AWARD_CERTIFICATIONS)
    certification = CertificationFactory(code="CERT-001")
    learners = UserFactory.create_batch(9)
    header = ("Certification ID", "User ID")
    rows = [["CERT-001", u.user_id] for u in learners] + [["CERT-001", learners[8].user_id]]

    job = services.submit(
        "certification-award", make_csv(rows, header), "a.csv", actor=ada, title="t", validate_only=True
    ).job

    table = results(job)
    assert [r["Result"] for r in table][-2:] == ["Would award", "Skipped"]
    assert table[-1]["Message"] == "Same user and certification as row 10; only row 10 is used."
    assert job.params["summary"]["would_award"] == 9 and job.params["summary"]["skipped"] == 1
    assert not Award.objects.filter(certification=certification).exists()


def test_a_strict_file_refused_in_its_last_batch_leaves_no_job_and_no_rows(alice, small_batches):
    certification = CertificationFactory(code="CERT-042")
    holders = UserFactory.create_batch(30)
    award_many(certification, holders)
    rows = [["CERT-042", u.user_id] for u in holders] + [["CERT-042", "NOBODY"]]

    with pytest.raises(FileRejected) as caught:
        services.submit(REMOVAL, make_csv(rows), "r.csv", actor=alice, title="t")

    assert [(p.row, p.value) for p in caught.value.problems] == [(32, "NOBODY")]
    assert Job.objects.count() == 0 and JobRow.objects.count() == 0
    assert Award.objects.filter(status="active").count() == 30


def test_a_removal_across_batches_keeps_its_one_certification(alice, small_batches):
    certification, other = CertificationFactory(code="CERT-042"), CertificationFactory(code="CERT-043")
    holders = UserFactory.create_batch(15)
    award_many(certification, holders)
    rows = [["CERT-042", u.user_id] for u in holders[:14]] + [["CERT-043", holders[14].user_id]]

    with pytest.raises(FileRejected) as caught:
        services.submit(REMOVAL, make_csv(rows), "r.csv", actor=alice, title="t")

    [problem] = caught.value.problems
    assert problem.row == 16 and "row 2 names 'CERT-042' and this row names 'CERT-043'" in problem.message
    assert other.pk  # the other certification exists: the file still names two


def test_a_licence_named_twice_in_different_batches_is_changed_once(cara, small_batches):
    LicenseType.objects.create(code="RN", name="Registered Nurse", issuing_authority="Board")
    learners = UserFactory.create_batch(10)
    header = ("Username", "License code", "Number", "Action")
    rows = [[u.username, "RN", f"RN-{n}", "Add"] for n, u in enumerate(learners)]
    rows.append([learners[0].username, "RN", "RN-0", "Add"])

    job = services.submit(
        "license-import", make_csv(rows, header), "l.csv", actor=cara, title="t", validate_only=True
    ).job

    table = results(job)
    assert [r["Result"] for r in table].count("Would import") == 10
    assert table[-1]["Message"] == "The same licence is in row 2: one change per licence per file."
    summary = job.params["summary"]
    assert (summary["would_import"], summary["add"], summary["errors"]) == (10, 10, 1)
    assert job.failed == 1


# --- Caps ---------------------------------------------------------------------------------------------


def test_a_file_over_the_row_cap_is_refused_as_it_streams_and_the_cap_is_published(cara, settings, client):
    settings.CERTDESK_MAX_ROWS = {**settings.CERTDESK_MAX_ROWS, UNENROLMENT: 50}
    rows = [[f"user{n}", "FS-101", "No"] for n in range(51)]

    with pytest.raises(FileRejected) as caught:
        services.submit(UNENROLMENT, unenrol_file(rows), "u.csv", actor=cara, title="t")

    [problem] = caught.value.problems
    assert problem.code == TOO_MANY_ROWS and problem.row == 52
    assert (
        problem.message
        == "The file has too many rows: at most 50 data rows are read. Split it into smaller files."
    )
    assert caught.value.headlines == ["The file has too many rows"]
    assert Job.objects.count() == 0

    client.force_login(cara)
    kinds = {k["kind"]: k for k in client.get("/api/v1/job-kinds/").json()}
    assert kinds[UNENROLMENT]["max_rows"] == 50
    # Exactly at the cap is fine.
    assert (
        services.submit(UNENROLMENT, unenrol_file(rows[:50]), "u.csv", actor=cara, title="t").job.total == 50
    )


def test_problems_beyond_the_listed_ones_are_counted_not_kept(alice, settings):
    settings.CERTDESK_MAX_LISTED_PROBLEMS = 3
    CertificationFactory(code="CERT-042")
    rows = [["CERT-042", f"NOBODY-{n}"] for n in range(40)]

    with pytest.raises(FileRejected) as caught:
        services.submit(REMOVAL, make_csv(rows), "r.csv", actor=alice, title="t")

    assert [p.value for p in caught.value.problems] == ["NOBODY-0", "NOBODY-1", "NOBODY-2"]
    assert caught.value.total == 40


# --- Encodings ----------------------------------------------------------------------------------------


def test_a_utf8_file_with_one_windows_1252_row_names_that_row_and_keeps_the_other_accents(cara, client):
    activity = ActivityFactory(external_reference="FS-101")
    zoe, jose = UserFactory(username="zoë"), UserFactory(username="josé")
    enrol(activity, [zoe, jose])
    data = (
        b"Username,Activity external reference,Send unenrolment email\n"
        + "zoë,FS-101,No\n".encode()
        + "rené,FS-101,No\n".encode("cp1252")
        + "josé,FS-101,No\n".encode()
    )

    job = services.submit(UNENROLMENT, data, "u.csv", actor=cara, title="t", validate_only=True).job

    table = results(job)
    assert [(r["Username"], r["Result"]) for r in table] == [
        ("zoë", "Would unenrol"),
        ("ren\ufffd", "Error"),
        ("josé", "Would unenrol"),
    ]
    assert "Username has a byte (0xE9) that is not UTF-8 text" in table[1]["Message"]
    assert job.params["reading"]["description"] == "Read as UTF-8, comma-separated"
    client.force_login(cara)
    assert client.get(f"/api/v1/jobs/{job.pk}/").json()["read_as"]["encoding"] == "UTF-8"
    assert "Read as UTF-8, comma-separated" in client.get(f"/jobs/{job.pk}/").content.decode()


def test_a_windows_1252_semicolon_file_says_how_it_was_read(cara, client):
    activity = ActivityFactory(external_reference="FS-101")
    enrol(activity, [UserFactory(username="hélène")])
    data = "Username;Activity external reference;Send unenrolment email\r\nhélène;FS-101;No\r\n".encode(
        "cp1252"
    )

    job = services.submit(UNENROLMENT, data, "u.csv", actor=cara, title="t", validate_only=True).job

    assert [r["Result"] for r in results(job)] == ["Would unenrol"]
    client.force_login(cara)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Read as Windows-1252, semicolon-separated" in page


@pytest.mark.parametrize(
    ("names", "encoding"),
    [
        (["Šťastný", "Žižka", "Łukasz", "Ścibor"], "iso8859_2"),
        (["Hélène", "Noël", "François", "Jérôme"], "mac_roman"),
        (["山田太郎1", "佐藤花子2", "鈴木一郎3", "高橋健4"], "shift_jis"),
    ],
)
def test_a_legacy_file_is_never_read_as_mojibake(cara, names, encoding):
    rows = "".join(f"{name.lower()},FS-101,No\r\n" for name in names)
    data = ("Username,Activity external reference,Send unenrolment email\r\n" + rows).encode(encoding)

    try:
        job = services.submit(UNENROLMENT, data, "u.csv", actor=cara, title="t", validate_only=True).job
    except FileRejected as rejected:
        assert rejected.problems[0].code == INCORRECT_FORMAT
        assert "which encoding it is in cannot be told for certain" in rejected.problems[0].message
        assert [p.row for p in rejected.problems[1:]] == [2, 3, 4, 5]
    else:
        assert [r["Username"] for r in results(job)] == [n.lower() for n in names]


def test_a_shift_jis_file_with_enough_text_to_tell_is_detected_and_read_right(cara):
    base = ["山田太郎", "佐藤花子", "鈴木一郎", "高橋健", "田中美咲", "渡辺直美", "伊藤博文", "中村俊輔"]
    names = [f"{base[n % 8]}{n}" for n in range(300)]
    rows = "".join(f"{name},研修-{n % 5},はい\r\n" for n, name in enumerate(names))
    data = ("Username,Activity external reference,Send unenrolment email\r\n" + rows).encode("shift_jis")

    job = services.submit(UNENROLMENT, data, "u.csv", actor=cara, title="t", validate_only=True).job

    assert [r["Username"] for r in results(job)] == names
    assert job.params["reading"]["description"] == "Read as Shift-JIS, comma-separated (detected)"


def test_nul_and_control_characters_in_cells_are_invalid_data_with_row_and_column(cara):
    activity = ActivityFactory(external_reference="FS-101")
    enrol(activity, [UserFactory(username="ann")])
    data = unenrol_file([["ann", "FS-101", "No"], ["bo\x00b", "FS-101", "No"], ["eve", "FS\x07-101", "No"]])

    job = services.submit(UNENROLMENT, data, "u.csv", actor=cara, title="t", validate_only=True).job

    table = results(job)
    assert [r["Result"] for r in table] == ["Would unenrol", "Error", "Error"]
    assert "Username contains a control character (U+0000), which is not accepted." in table[1]["Message"]
    assert "Activity external reference contains a control character (U+0007)" in table[2]["Message"]
    assert table[1]["Username"] == "bo\ufffdb"


# --- Quotes -------------------------------------------------------------------------------------------


def test_an_unterminated_quote_is_reported_where_it_opened(alice):
    CertificationFactory(code="CERT-042")
    lines = ["Certification ID,User ID"] + [f"CERT-042,U{n}" for n in range(2, 5)]
    lines.append('CERT-042,"U5')  # row 5 opens a quote that nothing closes
    lines += [f"CERT-042,U{n}" for n in range(6, 40)]
    data = ("\n".join(lines) + "\n").encode()

    with pytest.raises(FileRejected) as caught:
        services.submit(REMOVAL, data, "r.csv", actor=alice, title="t")

    [problem] = caught.value.problems
    assert problem.code == INCORRECT_FORMAT and problem.row == 5
    assert "row 5 opens a quoted value that is never closed" in problem.message


def test_a_value_longer_than_the_cell_limit_is_refused_with_its_row(alice, settings):
    settings.CERTDESK_MAX_CELL_CHARS = 1000
    data = make_csv([["CERT-042", "U1"], ["CERT-042", "x" * 5000]])

    with pytest.raises(FileRejected) as caught:
        services.submit(REMOVAL, data, "r.csv", actor=alice, title="t")

    [problem] = caught.value.problems
    assert problem.code == INVALID_DATA_FORMATS and problem.row == 3
    assert "longer than 1,000 characters" in problem.message


# --- Spreadsheet dates --------------------------------------------------------------------------------

COLUMNS = [Column("Issue date"), Column("Starts at"), Column("Number")]


def workbook(rows, *, mac: bool = False) -> bytes:
    book = openpyxl.Workbook()
    if mac:
        book.epoch = CALENDAR_MAC_1904
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("mac", [False, True], ids=["1900", "1904"])
def test_xlsx_dates_and_times_read_as_the_spreadsheet_shows_them(db, mac):
    data = workbook(
        [["Issue date", "Starts at", "Number"], [dt.date(2026, 3, 12), dt.time(9, 30), 42.0]], mac=mac
    )

    table = parse_upload(data, COLUMNS, limit=10**6, filename="d.xlsx", extensions=(".xlsx",))

    assert table.rows[0].cells == ["2026-03-12", "09:30", "42"]
    assert (
        table.reading is not None
        and table.reading.describe() == "Read as an Excel workbook (.xlsx), first sheet"
    )


def test_a_sheet_is_measured_the_same_wherever_its_xml_is_cut_into_pieces():
    from bulk.formats import measure_sheet

    sheet = (
        b'<worksheet><sheetData><row r="1" spans="1:3"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>1</v></c>'
        b'<c r="C1"><v>2</v></c></row><row r="2"><c r="A2"><v>3</v></c><c r="AB2" s="1"><v>4</v></c></row>'
        b"</sheetData></worksheet>"
    )
    whole = measure_sheet([sheet])
    assert (whole.rows, whole.last_row, whole.cells, sorted(whole.columns)) == (
        2,
        2,
        5,
        [b"A", b"AB", b"B", b"C"],
    )
    for cut in range(1, len(sheet)):
        for second in (cut + 1, cut + 7):
            pieces = [sheet[:cut], sheet[cut:second], sheet[second:]]
            grid = measure_sheet(pieces)
            assert (grid.rows, grid.last_row, grid.cells, grid.columns) == (
                whole.rows,
                whole.last_row,
                whole.cells,
                whole.columns,
            ), f"cut at {cut} and {second}"
            grid.check(max_cells=1000)
