"""The hand-written .xlsx reader certdesk used before python-calamine, kept only as a benchmark baseline.

A copy of ``read_xlsx`` and its helpers from ``bulk/formats.py`` at commit 9211394 (the first sheet
streamed through defusedxml's iterparse, shared strings and date styles resolved by hand), so that
``benchmarks/intake_memory.py`` can time it against the current ``bulk.formats.read_xlsx`` on the same
workbook. Nothing in certdesk imports it. The code below is the old code unchanged, except that a refusal
is raised as this module's own ``FileRejected`` (a ValueError carrying the message) instead of
``base.problems.FileRejected``, so that the copy keeps working whatever becomes of ``bulk``.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import Any

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml import ElementTree as SafeElementTree

# How much bigger than the upload an .xlsx may become once unzipped, and in all; its table of shared
# strings is read whole by openpyxl, so it has a tighter cap of its own, and a count of its entries.
MAX_EXPANSION = 100
MAX_UNZIPPED = 100 * 1024 * 1024
MAX_SHARED_STRINGS_BYTES = 20 * 1024 * 1024
# Rows a spreadsheet or XML file may have, empty ones included: far more than any upload limit allows
# in CSV, far fewer than a file that claims its last row is 1,048,576.
MAX_ROWS = 400_000
# Columns an XML row may name (the header of a CSV has the same cap, intake.MAX_COLUMNS).
MAX_XML_COLUMNS = 200

Record = tuple[int, list[str]]


class FileRejected(ValueError):
    """A workbook the old reader refused (the old code raised base.problems.FileRejected)."""


def incorrect_format(why: str, value: str | None = None) -> FileRejected:
    return FileRejected(f"The file is the incorrect file format: {why}.")


def read_xlsx(data: bytes, *, max_cells: int) -> list[Record]:
    """The first worksheet's rows as text. Refused before opening: a zip that expands too much (a zip
    bomb), a workbook without a sheet; while reading: more cells than ``max_cells``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise incorrect_format(f"it is not a readable Excel workbook ({exc})") from None
    if "xl/workbook.xml" not in names:
        raise incorrect_format("it is a zip archive, not an Excel workbook")
    if unzipped > min(MAX_UNZIPPED, max(len(data), 1) * MAX_EXPANSION):
        raise incorrect_format(
            f"it would expand to {unzipped // (1024 * 1024):,} MB when opened, far more than its rows need; "
            "save it again from the spreadsheet, or as CSV"
        )
    _check_shared_strings(archive, max_cells)
    try:
        return _first_sheet(archive, max_cells)
    except FileRejected:
        raise
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        raise incorrect_format(
            "the workbook's XML declares a document type or entities, which are not accepted"
        ) from None
    except (KeyError, IndexError, ValueError, SafeElementTree.ParseError, zipfile.BadZipFile) as exc:
        raise incorrect_format(f"it is not a readable Excel workbook ({type(exc).__name__})") from None


MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
ROW, CELL, VALUE, INLINE, RUN_TEXT, PHONETIC, ITEM = (
    MAIN + t for t in ("row", "c", "v", "is", "t", "rPh", "si")
)
EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def _parts(archive: zipfile.ZipFile, name: str) -> Any:
    """Iterate a part of the workbook with defusedxml: no DTD, no entities, no external references."""
    return SafeElementTree.iterparse(
        io.BytesIO(archive.read(name)),
        events=("end",),
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )


def _safe_tree(archive: zipfile.ZipFile, name: str) -> Any:
    return SafeElementTree.fromstring(
        archive.read(name), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )


def _column(reference: str) -> int:
    number = 0
    for ch in reference:
        if ch.isdigit():
            break
        number = number * 26 + ord(ch.upper()) - 64
    return number - 1


def _first_sheet(archive: zipfile.ZipFile, max_cells: int) -> list[Record]:
    """The first worksheet, streamed: shared strings, inline strings, numbers, booleans and dates (by the
    cell's number format) as the text a person sees. openpyxl would read it twice and slower."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

    names = set(archive.namelist())
    book = _safe_tree(archive, "xl/workbook.xml")
    first = book.find(f"{MAIN}sheets/{MAIN}sheet")
    if first is None:
        raise incorrect_format("the workbook has no worksheet")
    relations = _safe_tree(archive, "xl/_rels/workbook.xml.rels")
    target = {r.get("Id"): r.get("Target") for r in relations}[first.get(RELATIONSHIP)]
    path = target.lstrip("/") if target.startswith("/") else "xl/" + target
    shared: list[str] = []
    if "xl/sharedStrings.xml" in names:
        for _, item in _parts(archive, "xl/sharedStrings.xml"):
            if item.tag == ITEM:
                shared.append(_visible_text(item))
                item.clear()
    dates: set[int] = set()
    if "xl/styles.xml" in names:
        styles = _safe_tree(archive, "xl/styles.xml")
        custom = {int(f.get("numFmtId")): f.get("formatCode") for f in styles.iter(MAIN + "numFmt")}
        formats = styles.find(MAIN + "cellXfs")
        for index, style in enumerate(formats if formats is not None else []):
            code = custom.get(
                int(style.get("numFmtId", 0)), BUILTIN_FORMATS.get(int(style.get("numFmtId", 0)))
            )
            if code and is_date_format(code):
                dates.add(index)
    records: list[Record] = []
    cells_seen = 0
    number = 0
    for _, row in _parts(archive, path):
        if row.tag != ROW:
            continue
        at = row.get("r")
        number = int(at) if at else number + 1
        if number > MAX_ROWS:
            raise incorrect_format(f"its first sheet has more than {MAX_ROWS:,} rows")
        texts: list[str] = []
        for cell in row:
            reference = cell.get("r")
            if reference:
                column = _column(reference)
                if column >= MAX_XML_COLUMNS:
                    raise incorrect_format(
                        f"row {number} has a value in column {reference}; at most {MAX_XML_COLUMNS} columns are read"
                    )
                texts.extend([""] * (column - len(texts)))
            texts.append(_cell_value(cell, shared, dates))
        while texts and not texts[-1]:
            texts.pop()
        cells_seen += len(texts)
        if cells_seen > max_cells:
            raise incorrect_format(f"its first sheet has more than {max_cells:,} cells")
        records.append((number, texts))
        row.clear()
    return records


def _visible_text(item: Any) -> str:
    """A string item's text: its own <t>, or its rich-text runs' <t>, never the phonetic guides."""
    direct = item.find(RUN_TEXT)
    if direct is not None:
        return direct.text or ""
    return "".join((run.findtext(RUN_TEXT) or "") for run in item if run.tag != PHONETIC)


def _cell_value(cell: Any, shared: list[str], dates: set[int]) -> str:
    kind = cell.get("t")
    if kind == "inlineStr":
        inline = cell.find(INLINE)
        return _visible_text(inline) if inline is not None else ""
    raw = cell.findtext(VALUE)
    if not raw:
        return ""  # empty, or a formula never calculated: no value to read
    if kind == "s":
        return shared[int(raw)]
    if kind in ("str", "e"):
        return raw
    if kind == "b":
        return cell_text(raw == "1")
    try:
        value = float(raw)
    except ValueError:
        return raw
    style = cell.get("s")
    if style and int(style) in dates:
        return cell_text(EXCEL_EPOCH + dt.timedelta(days=value))
    return cell_text(value)


def _check_shared_strings(archive: zipfile.ZipFile, max_cells: int) -> None:
    """openpyxl reads the whole table of shared strings before the first cell: refuse one that is too big
    or has more entries than the file may have cells, counting them as the bytes stream in."""
    try:
        info = archive.getinfo("xl/sharedStrings.xml")
    except KeyError:
        return
    if info.file_size > MAX_SHARED_STRINGS_BYTES:
        raise incorrect_format(
            f"its table of shared text is {info.file_size // (1024 * 1024):,} MB, more than "
            f"{MAX_SHARED_STRINGS_BYTES // (1024 * 1024)} MB; save it as CSV"
        )
    entries, tail = 0, b""
    with archive.open(info) as stream:
        while block := stream.read(1024 * 1024):
            chunk = tail + block
            entries += chunk.count(b"<si>") + chunk.count(b"<si ")
            tail = chunk[-3:]
            if entries > max_cells:
                raise incorrect_format(f"its table of shared text has more than {max_cells:,} entries")


def cell_text(value: Any) -> str:
    """A cell as the text a person sees: dates as YYYY-MM-DD, whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    return str(value)
