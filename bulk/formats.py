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
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds; all mean the same to the administrator
        raise incorrect_format(f"it is not a readable Excel workbook ({type(exc).__name__})") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise incorrect_format("the workbook has no worksheet")
        records: list[Record] = []
        cells = 0
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > MAX_ROWS:
                raise incorrect_format(f"its first sheet has more than {MAX_ROWS:,} rows")
            texts = [cell_text(v) for v in row]
            while texts and not texts[-1]:
                texts.pop()
            cells += len(texts)
            if cells > max_cells:
                raise incorrect_format(f"its first sheet has more than {max_cells:,} cells")
            records.append((number, texts))
        return records
    finally:
        workbook.close()


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
