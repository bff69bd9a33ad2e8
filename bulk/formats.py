"""Reading the spreadsheet formats an upload may come in: Excel .xlsx (the first sheet), XML (Excel's
"XML Spreadsheet 2003" and the plain ``<rows><row><column-name>value</column-name></row></rows>``),
beside the delimited text that ``intake`` reads. Each reader returns the file's records — (row number,
cells) — and refuses, before expanding anything, a file that would not fit the limits.

The format is decided from the content, never trusted from the file name.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal
from typing import Any

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml import ElementTree as SafeElementTree

from .problems import INCORRECT_FORMAT, FileRejected, Problem

XLSX, XML, TEXT = "xlsx", "xml", "text"
FORMAT_NAMES = {
    XLSX: "an Excel workbook (.xlsx)",
    XML: "an XML file",
    TEXT: "a text file (CSV or tab-delimited)",
}
EXTENSION_FORMATS = {".csv": TEXT, ".txt": TEXT, ".xlsx": XLSX, ".xml": XML}
SPREADSHEET_NS = "urn:schemas-microsoft-com:office:spreadsheet"
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
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

Record = tuple[int, list[str]]


def incorrect_format(why: str, value: str | None = None) -> FileRejected:
    return FileRejected(
        [Problem(INCORRECT_FORMAT, f"The file is the incorrect file format: {why}.", value=value)]
    )


def detect(data: bytes) -> str:
    """What the bytes are: an .xlsx workbook, XML, or text."""
    if data[:4] == b"PK\x03\x04":
        return XLSX
    if data[:8] == OLE_SIGNATURE:
        raise incorrect_format(
            "it is an Excel 97-2003 workbook (.xls) or a password-protected one; save it as an Excel Workbook "
            "(.xlsx) without a password, or as CSV"
        )
    head = data[:512].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        head = data[:1024].decode("utf-16", errors="ignore").lstrip("\ufeff").lstrip().encode()
    if (
        head.startswith(b"<?xml")
        or head.startswith(b"<rows")
        or head.startswith(b"<Workbook")
        or head.startswith(b"<!DOCTYPE")
    ):
        return XML
    return TEXT


def check_extension(filename: str, found: str, allowed: tuple[str, ...]) -> None:
    """The file's name must agree with what it holds: a workbook called .csv is refused, and so on."""
    extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension and extension not in allowed:
        raise incorrect_format(
            f"'{filename}' is not a {' or '.join(e.lstrip('.').upper() for e in allowed)} file", filename
        )
    expected = EXTENSION_FORMATS.get(extension)
    if expected is not None and expected != found:
        accepted = {EXTENSION_FORMATS.get(e) for e in allowed}
        hint = "" if found in accepted else "; save it as CSV (comma-separated values) from the spreadsheet"
        raise incorrect_format(
            f"'{filename}' is named {extension} but holds {FORMAT_NAMES[found]}{hint}", filename
        )
    if not extension and found not in {EXTENSION_FORMATS.get(e) for e in allowed}:
        raise incorrect_format(f"it is {FORMAT_NAMES[found]}, which this job does not take")


# --- .xlsx -------------------------------------------------------------------------------------------


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


# --- .xml --------------------------------------------------------------------------------------------


def read_xml(data: bytes, *, max_cells: int) -> list[Record]:
    """XML Spreadsheet 2003 (the first worksheet) or ``<rows><row><name>value</name>…</row></rows>``.

    Parsed with defusedxml: a DTD, entity declarations (billion laughs) and external entities are
    refused, never expanded.
    """
    try:
        root = SafeElementTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise incorrect_format("the XML declares a document type (DTD), which is not accepted") from None
    except EntitiesForbidden:
        raise incorrect_format(
            "the XML declares entities, which are not accepted (they can expand without limit)"
        ) from None
    except ExternalReferenceForbidden:
        raise incorrect_format("the XML refers to external files, which are not read") from None
    except SafeElementTree.ParseError as exc:
        raise incorrect_format(f"it is not well-formed XML ({exc})") from None
    if _local(root.tag) == "Workbook":
        records = _spreadsheet_2003(root, max_cells)
    elif _local(root.tag) == "rows":
        records = _plain_rows(root, max_cells)
    else:
        raise incorrect_format(
            f"the XML's root element is <{_local(root.tag)}>; expected <rows> or an Excel XML Spreadsheet <Workbook>"
        )
    return records


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _spreadsheet_2003(root: Any, max_cells: int) -> list[Record]:
    ns = {"ss": SPREADSHEET_NS}
    cells_seen = 0
    sheet = root.find("ss:Worksheet", ns)
    table = sheet.find("ss:Table", ns) if sheet is not None else None
    if table is None:
        return []
    records: list[Record] = []
    number = 0
    for row in table.findall("ss:Row", ns):
        index = row.get(f"{{{SPREADSHEET_NS}}}Index")
        number = int(index) if index and index.isdigit() else number + 1
        if len(records) >= MAX_ROWS:
            raise incorrect_format(f"it has more than {MAX_ROWS:,} rows")
        cells: list[str] = []
        for cell in row.findall("ss:Cell", ns):
            at = cell.get(f"{{{SPREADSHEET_NS}}}Index")
            if at and at.isdigit():
                if int(at) > MAX_XML_COLUMNS:
                    raise incorrect_format(
                        f"a cell of row {number} is in column {at}; at most {MAX_XML_COLUMNS} are read"
                    )
                cells.extend([""] * (int(at) - 1 - len(cells)))
            data = cell.find("ss:Data", ns)
            text = "".join(data.itertext()) if data is not None else ""
            if (
                data is not None
                and data.get(f"{{{SPREADSHEET_NS}}}Type") == "DateTime"
                and text.endswith("T00:00:00.000")
            ):
                text = text[:10]
            cells.append(text)
        cells_seen += len(cells)
        if cells_seen > max_cells:
            raise incorrect_format(f"it has more than {max_cells:,} cells")
        records.append((number, cells))
    return records


def _plain_rows(root: Any, max_cells: int) -> list[Record]:
    """``<rows><row><user-id>U1</user-id>…</row></rows>``: the header is the element names, in the order
    they first appear; a row may leave any of them out."""
    names: dict[str, None] = {}
    rows: list[dict[str, str]] = []
    for row in root:
        if _local(row.tag) != "row":
            continue
        if len(rows) >= MAX_ROWS:
            raise incorrect_format(f"it has more than {MAX_ROWS:,} rows")
        values: dict[str, str] = {}
        for field in row:
            name = re.sub(r"[-_]+", " ", _local(field.tag)).strip()
            if name not in names:
                names[name] = None
                if len(names) > MAX_XML_COLUMNS:
                    raise incorrect_format(f"its rows name more than {MAX_XML_COLUMNS} different columns")
            values[name] = "".join(field.itertext()).strip()
        rows.append(values)
        if len(rows) * len(names) > max_cells:
            raise incorrect_format(f"it has more than {max_cells:,} cells")
    if not rows:
        return []
    # Row numbers count the header as row 1, as in a spreadsheet; the n-th <row> is row n + 1.
    header = list(names)
    return [(1, header)] + [
        (n, [values.get(name, "") for name in header]) for n, values in enumerate(rows, start=2)
    ]
