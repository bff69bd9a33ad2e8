"""Reading the spreadsheet formats an upload may come in: Excel .xlsx (the first sheet), XML (Excel's
"XML Spreadsheet 2003" and the plain ``<rows><row><column-name>value</column-name></row></rows>``),
beside the delimited text that ``intake`` reads. Each reader yields the file's records — (row number,
cells) — as it reads them, and refuses, before expanding anything, a file that would not fit the limits.

The format is decided from the content, never trusted from the file name. An .xlsx is read by
python-calamine, which holds the first sheet in memory as a grid: so before it is opened, every part
of the zip is decompressed against a running byte budget (declared sizes can lie) and the sheet's
cell references are scanned, and a sheet whose grid would not fit is refused unopened.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml import ElementTree as SafeElementTree
from django.conf import settings

from base.problems import INCORRECT_FORMAT, TOO_MANY_ROWS, FileRejected, Problem

XLSX, XML, TEXT = "xlsx", "xml", "text"
FORMAT_NAMES = {
    XLSX: "an Excel workbook (.xlsx)",
    XML: "an XML file",
    TEXT: "a text file (CSV or tab-delimited)",
}
EXTENSION_FORMATS = {".csv": TEXT, ".txt": TEXT, ".xlsx": XLSX, ".xml": XML}
SPREADSHEET_NS = "urn:schemas-microsoft-com:office:spreadsheet"
# The table of shared strings is read whole before the first cell: a cap of its own, and a count of
# its entries. (How far a workbook may expand, and its grid of cells, are settings.)
MAX_SHARED_STRINGS_BYTES = 20 * 1024 * 1024
# The last row a spreadsheet can have: no row number beyond it is believed, from any format.
MAX_ROWS = 1_048_576
# Columns an XML row or a sheet may use (the header of a CSV has the same cap, intake.MAX_COLUMNS).
MAX_XML_COLUMNS = 200
# The default grid of cells a sheet may span; CERTDESK_SPREADSHEET_MAX_CELLS sets it.
MAX_CELLS = 1_500_000
# Elements inside elements: a spreadsheet needs six; a file nested 100,000 deep is an attack.
MAX_XML_DEPTH = 64
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


def read_xlsx(data: bytes, *, max_cells: int, max_rows: int = MAX_ROWS) -> Iterator[Record]:
    """The first worksheet's rows as text, read by python-calamine once the checks have passed: a zip
    whose parts expand past the budget (whatever their headers declare), a sheet whose cells span more
    than ``max_cells`` or more rows than ``max_rows`` allows, a workbook without a sheet."""
    archive = _open_zip(data)
    budget = min(
        settings.CERTDESK_XLSX_MAX_UNZIPPED_BYTES, max(len(data), 1) * settings.CERTDESK_XLSX_MAX_EXPANSION
    )
    grids = _scan_parts(archive, budget, max_cells)
    grid = grids[_first_sheet_path(archive, budget)]
    grid.check(max_cells)
    rows = max(grid.rows, grid.last_row)
    if rows > max_rows + 1 + _BLANK_ROWS_ALLOWED:
        at = (
            f"has a value in row {grid.last_row:,}"
            if grid.last_row >= grid.rows
            else f"has {grid.rows:,} rows"
        )
        raise FileRejected(
            [
                Problem(
                    TOO_MANY_ROWS,
                    f"The file has too many rows: its first sheet {at}; at most {max_rows:,} data rows are "
                    "read. Split it into smaller files.",
                )
            ]
        )
    return _calamine_records(data)


# Rows of a sheet that may be blank beyond the data rows before the file is refused unopened.
_BLANK_ROWS_ALLOWED = 1000


# Parts a workbook may have (Excel writes a few dozen), and the bytes of the zip's table of contents:
# zipfile holds an object for every entry of it before a byte is decompressed.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_DIRECTORY = 4 * 1024 * 1024


def _open_zip(data: bytes) -> zipfile.ZipFile:
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end >= 0 and len(data) >= end + 22:
        entries, directory_size = struct.unpack("<HL", data[end + 10 : end + 16])
        if entries > MAX_ZIP_ENTRIES or directory_size > MAX_ZIP_DIRECTORY:
            raise incorrect_format(
                f"it is a zip of {entries:,} parts or a table of contents of {directory_size:,} bytes; "
                "a workbook has a few dozen"
            )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error, NotImplementedError) as exc:
        raise incorrect_format(f"it is not a readable Excel workbook ({exc})") from None
    if "xl/workbook.xml" not in names:
        raise incorrect_format("it is a zip archive, not an Excel workbook")
    return archive


MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
PACKAGE_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
# A zip entry's local header, and where in it the lengths of the name and extra field are (APPNOTE 4.3.7).
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_NAME_LENGTH, _EXTRA_LENGTH = 10, 11


def _raw_pieces(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int]) -> Iterator[bytes]:
    """A part's bytes as they really decompress, in pieces, spending ``budget[0]`` as they come: the
    sizes a zip declares are not trusted (a 'lying' bomb declares 1,000 bytes and holds a gigabyte).
    ``budget`` is [bytes left, bytes in all]."""
    stream = archive.fp
    assert stream is not None
    stream.seek(info.header_offset)
    header = stream.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise incorrect_format(f"its part {info.filename[:100]} is damaged")
    fields = _LOCAL_HEADER.unpack(header)
    stream.seek(fields[_NAME_LENGTH] + fields[_EXTRA_LENGTH], 1)
    if info.compress_type == zipfile.ZIP_STORED:
        decompressor = None
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        decompressor = zlib.decompressobj(-15)
    else:
        raise incorrect_format("it is compressed in a way Excel does not use")
    left = info.compress_size
    while left > 0:
        block = stream.read(min(left, 256 * 1024))
        if not block:
            break
        left -= len(block)
        while block:
            if decompressor is None:
                piece, block = block, b""
            else:
                try:
                    piece = decompressor.decompress(block, 1024 * 1024)
                except zlib.error as exc:
                    raise incorrect_format(f"its part {info.filename[:100]} is damaged ({exc})") from None
                block = decompressor.unconsumed_tail
            budget[0] -= len(piece)
            if budget[0] < 0:
                raise incorrect_format(
                    f"it would expand to more than {budget[1] // (1024 * 1024):,} MB when opened, more than a sheet within the "
                    "row limit needs (a zip bomb?); save it again from the spreadsheet, split it, or save it as CSV"
                )
            if piece:
                yield piece


def _read_part(archive: zipfile.ZipFile, name: str, budget: list[int]) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise incorrect_format(f"the workbook has no part {name}") from None
    return b"".join(_raw_pieces(archive, info, budget))


def _safe_tree(text: bytes) -> Any:
    try:
        return SafeElementTree.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        raise incorrect_format(
            "the workbook's XML declares a document type or entities, which are not accepted"
        ) from None
    except SafeElementTree.ParseError as exc:
        raise incorrect_format(f"the workbook's XML is not well-formed ({exc})") from None


def _first_sheet_path(archive: zipfile.ZipFile, budget: int) -> str:
    """The part of the workbook's first sheet, as workbook.xml and its relationships name it."""
    small = [min(budget, 10 * 1024 * 1024)] * 2
    book = _safe_tree(_read_part(archive, "xl/workbook.xml", small))
    first = book.find(f"{MAIN}sheets/{MAIN}sheet")
    if first is None:
        raise incorrect_format("the workbook has no worksheet")
    relations = _safe_tree(_read_part(archive, "xl/_rels/workbook.xml.rels", small))
    targets = {r.get("Id"): r.get("Target") for r in relations.iter(PACKAGE_RELATIONSHIP)}
    target = targets.get(first.get(RELATIONSHIP))
    if not target:
        raise incorrect_format("the workbook does not say where its first worksheet is")
    path = target.lstrip("/") if target.startswith("/") else "xl/" + target
    if path not in archive.namelist() or not path.endswith(".xml"):
        raise incorrect_format(f"the workbook's first worksheet ({target[:100]}) is missing")
    return path


# What the grid of a sheet spans, read from the raw XML: row numbers, cell references, and the cells
# written without a reference (placed one after another). Counted with findall, in C, not per match.
_ROW = re.compile(rb'<(?:\w{1,20}:)?row\b[^>]{0,1000}?\sr="([^"]{0,30})"')
_ROWS = re.compile(rb"<(?:\w{1,20}:)?row[\s>/]")
_CELL_COLUMN = re.compile(rb'<(?:\w{1,20}:)?c\b[^>]{0,1000}?\sr="([A-Za-z]{0,10})')
_CELL_ROW = re.compile(rb'<(?:\w{1,20}:)?c\b[^>]{0,1000}?\sr="[A-Za-z]{0,10}([^"]{0,30})"')
_CELLS = re.compile(rb"<(?:\w{1,20}:)?c[\s>/]")
_SHARED_ITEMS = re.compile(rb"<(?:\w{1,20}:)?si[\s>/]")
# What of a piece may be carried to the next while no tag starts in it (whitespace, long text).
_CARRY_MAX = 4 * 1024 * 1024


class _Grid:
    def __init__(self) -> None:
        self.rows = 0
        self.last_row = 0
        self.last_column = 0
        self.cells = 0
        self.referenced = 0
        self.columns: set[bytes] = set()

    def scan(self, text: bytes) -> None:
        """Measure ``text``: whole tags only (the caller cuts pieces before a '<')."""
        self.rows += len(_ROWS.findall(text))
        self.cells += len(_CELLS.findall(text))
        columns = _CELL_COLUMN.findall(text)
        self.referenced += len(columns)
        self.columns.update(columns)
        numbers = set(_ROW.findall(text))
        numbers.update(_CELL_ROW.findall(text))
        for number in numbers:
            if not number.isdigit() or len(number) > 9:
                raise incorrect_format(
                    f"its first sheet refers to row '{number[:30].decode('ascii', 'replace')}', which is out of range"
                )
            self.last_row = max(self.last_row, int(number))

    def check(self, max_cells: int) -> None:
        # Farthest first, so that a sheet too wide is refused for its farthest column, every time.
        for letters in sorted(self.columns, key=lambda c: (len(c), c.upper()), reverse=True):
            if not letters or len(letters) > 3:
                raise incorrect_format(
                    f"its first sheet has a value in column '{letters.decode('ascii', 'replace')}', beyond the "
                    f"{MAX_XML_COLUMNS} columns that are read; delete the columns the job does not use, or save it as CSV"
                )
            self.last_column = max(self.last_column, _column(letters.decode("ascii")) + 1)
        rows = max(self.last_row, self.rows)
        if rows > MAX_ROWS:
            raise incorrect_format(
                f"its first sheet has a cell in row {rows:,}, beyond the last row a sheet has"
            )
        if self.last_column > MAX_XML_COLUMNS:
            raise incorrect_format(
                f"its first sheet has a value in column {self.last_column:,}; at most {MAX_XML_COLUMNS} columns are read"
            )
        # Cells without a reference sit one after another in their row: as wide as the widest cap allows.
        width = max(self.last_column, MAX_XML_COLUMNS if self.cells > self.referenced else 0)
        if rows * width > max_cells:
            raise incorrect_format(
                f"its first sheet spans {rows:,} rows by {width:,} columns, more than the {max_cells:,} cells a "
                "sheet may have; remove the columns the job does not use, or save it as CSV"
            )


def measure_sheet(pieces: Iterable[bytes]) -> _Grid:
    """The grid of a sheet whose XML arrives in pieces cut anywhere, even inside a tag."""
    grid = _Grid()
    carry = b""
    for piece in pieces:
        text = carry + piece
        # Measure up to the last tag's start; the tag that runs on is measured with the next piece.
        cut = text.rfind(b"<")
        if cut <= 0 and len(text) < _CARRY_MAX:
            carry = text
            continue
        if cut <= 0:
            cut = len(text)
        grid.scan(text[:cut])
        carry = text[cut:]
    grid.scan(carry)
    return grid


def _scan_parts(archive: zipfile.ZipFile, budget: int, max_cells: int) -> dict[str, _Grid]:
    """Decompress every part against the budget; on the way, measure the grid of each worksheet and
    count the shared strings."""
    left = [budget, budget]
    grids: dict[str, _Grid] = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        if info.filename.endswith(".xml") and info.filename != "xl/sharedStrings.xml":
            grids[info.filename] = measure_sheet(_raw_pieces(archive, info, left))
        elif info.filename == "xl/sharedStrings.xml":
            entries, size, tail = 0, 0, b""
            for piece in _raw_pieces(archive, info, left):
                size += len(piece)
                if size > MAX_SHARED_STRINGS_BYTES:
                    raise incorrect_format(
                        f"its table of shared text is more than {MAX_SHARED_STRINGS_BYTES // (1024 * 1024)} MB; "
                        "save it as CSV"
                    )
                text = tail + piece
                entries += _count(_SHARED_ITEMS, text, tail)
                tail = text[-16:]
                if entries > max_cells:
                    raise incorrect_format(f"its table of shared text has more than {max_cells:,} entries")
        else:
            for _ in _raw_pieces(archive, info, left):
                pass
    return grids


def _count(pattern: re.Pattern[bytes], text: bytes, tail: bytes) -> int:
    return len(pattern.findall(text)) - (len(pattern.findall(tail)) if tail else 0)


def _column(reference: str) -> int:
    number = 0
    for ch in reference:
        if ch.isdigit():
            break
        number = number * 26 + ord(ch.upper()) - 64
    return number - 1


def _calamine_records(data: bytes) -> Iterator[Record]:
    from python_calamine import CalamineWorkbook

    with _calamine_errors():
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        top, left = (sheet.start or (0, 0)) if sheet.height else (0, 0)
        rows = iter(sheet.iter_rows())
    padding = [""] * left
    number = top
    while True:
        with _calamine_errors():
            row = next(rows, None)
        if row is None:
            return
        number += 1
        cells = [cell_text(value) for value in row]
        yield number, padding + cells if left else cells


@contextlib.contextmanager
def _calamine_errors() -> Iterator[None]:
    """What the Rust reader raises, as the published problem."""
    try:
        yield
    except FileRejected:
        raise
    except Exception as exc:
        raise incorrect_format(f"it is not a readable Excel workbook ({_calamine_reason(exc)})") from None
    except BaseException as exc:  # a panic in the Rust reader arrives as pyo3's PanicException
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise incorrect_format("it is not a readable Excel workbook") from None


def _calamine_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def cell_text(value: Any) -> str:
    """A cell as the text a person sees: dates as YYYY-MM-DD, times as HH:MM(:SS), whole numbers
    without ".0", yes/no for booleans."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds" if value.second or value.microsecond else "minutes")
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    return str(value)


# --- .xml --------------------------------------------------------------------------------------------


def read_xml(data: bytes, *, max_cells: int, max_rows: int = MAX_ROWS) -> Iterator[Record]:
    """XML Spreadsheet 2003 (the first worksheet) or ``<rows><row><name>value</name>…</row></rows>``,
    streamed: each row is read, turned into a record and dropped.

    Parsed with defusedxml: a DTD, entity declarations (billion laughs) and external entities are
    refused, never expanded; nesting deeper than a spreadsheet needs is refused as it is met.
    """
    with _xml_errors():
        root = next((element for _, element in _iterparse(data, ("start",))), None)
    if root is None:
        raise incorrect_format("it is not well-formed XML (no element)")
    if _local(root.tag) == "Workbook":
        return _spreadsheet_2003(data, max_cells, max_rows)
    if _local(root.tag) == "rows":
        return _plain_rows(data, max_cells, max_rows)
    raise incorrect_format(
        f"the XML's root element is <{_local(root.tag)[:50]}>; expected <rows> or an Excel XML Spreadsheet <Workbook>"
    )


def _iterparse(data: bytes, events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    return SafeElementTree.iterparse(  # type: ignore[no-any-return]
        io.BytesIO(data), events=events, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )


@contextlib.contextmanager
def _xml_errors() -> Iterator[None]:
    """What the XML parser raises, as the published problem."""
    try:
        yield
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
    except (ValueError, LookupError) as exc:
        # expat refuses an encoding it cannot read (UTF-7, Shift-JIS, a misspelt name) this way.
        raise incorrect_format(
            f"the XML declares an encoding that cannot be read ({str(exc)[:100]}); save it as UTF-8"
        ) from None


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


SS = f"{{{SPREADSHEET_NS}}}"
_INDEX = re.compile(r"[0-9]{1,12}")


def _index(value: str, what: str, at_most: int) -> int:
    """An ss:Index as a number within range; anything else is the incorrect file format."""
    value = value.strip()
    if not _INDEX.fullmatch(value) or not 1 <= int(value) <= at_most:
        raise incorrect_format(f"{what} in the XML is out of range: at most {at_most:,} are read")
    return int(value)


def _too_many_rows(rows: int, max_rows: int) -> FileRejected:
    return FileRejected(
        [
            Problem(
                TOO_MANY_ROWS,
                f"The file has too many rows: it has more than {rows:,}; at most {max_rows:,} data rows are "
                "read. Split it into smaller files.",
            )
        ]
    )


# Rows, blank ones included, an XML file may hold for each data row a kind reads.
XML_ROWS_PER_ROW = 20


def _spreadsheet_2003(data: bytes, max_cells: int, max_rows: int) -> Iterator[Record]:
    """The first worksheet's rows: each <Row> as its end arrives, then dropped from its table."""
    cells_seen = 0
    number = 0
    seen = 0
    most = min(MAX_ROWS, XML_ROWS_PER_ROW * max_rows + 1)
    depth = 0
    in_sheet = False
    table: Any = None
    row_tag, cell_tag, data_tag, index_key, type_key = (
        SS + "Row",
        SS + "Cell",
        SS + "Data",
        SS + "Index",
        SS + "Type",
    )
    with _xml_errors():
        for event, element in _iterparse(data, ("start", "end")):
            if event == "start":
                depth += 1
                if depth > MAX_XML_DEPTH:
                    raise incorrect_format(f"its elements are nested more than {MAX_XML_DEPTH} deep")
                if depth == 2 and element.tag == SS + "Worksheet":
                    in_sheet = True
                elif depth == 3 and in_sheet and element.tag == SS + "Table":
                    table = element
                continue
            depth -= 1
            if depth == 1 and in_sheet:
                return  # the first worksheet only
            if depth != 3 or table is None or element.tag != row_tag:
                continue
            seen += 1
            if seen > most:
                raise _too_many_rows(most, max_rows)
            index = element.get(index_key)
            if index is not None:
                at = _index(index, f"row index {index.strip()[:30]}", MAX_ROWS)
                if at <= number:
                    raise incorrect_format(f"row index {at} in the XML comes after row {number}")
                number = at
            else:
                number += 1
                if number > MAX_ROWS:
                    raise incorrect_format(f"it has more than {MAX_ROWS:,} rows")
            cells: list[str] = []
            for cell in element:
                if cell.tag != cell_tag:
                    continue
                at = cell.get(index_key)
                if at is not None:
                    column = _index(at, f"cell index {at.strip()[:30]} of row {number}", MAX_XML_COLUMNS)
                    if column <= len(cells):
                        raise incorrect_format(
                            f"cell index {column} of row {number} in the XML comes after cell {len(cells)}"
                        )
                    cells.extend([""] * (column - 1 - len(cells)))
                value = cell.find(data_tag)
                if value is None:
                    text = ""
                else:
                    text = "".join(value.itertext()) if len(value) else value.text or ""
                    if value.get(type_key) == "DateTime":
                        text = _xml_datetime(text)
                cells.append(text)
                if len(cells) > MAX_XML_COLUMNS:
                    raise incorrect_format(
                        f"row {number} has more than {MAX_XML_COLUMNS} cells; at most {MAX_XML_COLUMNS} columns are read"
                    )
            cells_seen += len(cells)
            if cells_seen > max_cells:
                raise incorrect_format(f"it has more than {max_cells:,} cells")
            table.remove(element)
            yield number, cells


def _xml_datetime(text: str) -> str:
    """ss:Type="DateTime" as the kinds read dates: 2026-03-12T00:00:00.000 is 2026-03-12."""
    text = text.strip()
    if text.endswith("T00:00:00.000") or text.endswith("T00:00:00"):
        return text[:10]
    if len(text) >= 19 and text[10] == "T":
        return f"{text[:10]} {text[11:19]}"
    return text


def _plain_rows(data: bytes, max_cells: int, max_rows: int) -> Iterator[Record]:
    """``<rows><row><user-id>U1</user-id>…</row></rows>``: the header is the element names, in the order
    they first appear (a first pass reads them); a row may leave any of them out."""
    names: dict[str, int] = {}
    rows = 0
    most = min(MAX_ROWS, XML_ROWS_PER_ROW * max_rows + 1)
    fields = 0
    for name, _ in _plain_fields(data):
        if name is None:
            rows += 1
            if rows > most:
                raise _too_many_rows(most, max_rows)
            continue
        fields += 1
        if fields > max_cells:
            raise incorrect_format(f"it has more than {max_cells:,} cells")
        if name not in names:
            names[name] = len(names)
            if len(names) > MAX_XML_COLUMNS:
                raise incorrect_format(f"its rows name more than {MAX_XML_COLUMNS} different columns")
    if not rows:
        return iter(())
    return _plain_records(data, names)


def _plain_records(data: bytes, names: dict[str, int]) -> Iterator[Record]:
    # Row numbers count the header as row 1, as in a spreadsheet; the n-th <row> is row n + 1.
    yield 1, list(names)
    cells = [""] * len(names)
    number = 1
    for name, text in _plain_fields(data):
        if name is None:
            number += 1
            yield number, cells
            cells = [""] * len(names)
        else:
            cells[names[name]] = text


def _plain_fields(data: bytes) -> Iterator[tuple[str | None, str]]:
    """(column name, text) of every field of every <row>, and (None, "") at the end of each row. It runs
    twice over every plain file, so the work per element is kept small (names converted once each)."""
    depth = 0
    root: Any = None
    names: dict[str, str] = {}
    with _xml_errors():
        for event, element in _iterparse(data, ("start", "end")):
            if event == "start":
                depth += 1
                if depth == 1:
                    root = element
                elif depth > MAX_XML_DEPTH:
                    raise incorrect_format(f"its elements are nested more than {MAX_XML_DEPTH} deep")
                continue
            depth -= 1
            if depth != 1:
                continue
            if _local(element.tag) == "row":
                for field in element:
                    tag = field.tag
                    name = names.get(tag)
                    if name is None:
                        name = names[tag] = re.sub(r"[-_]+", " ", _local(tag)).strip()
                    yield name, ("".join(field.itertext()) if len(field) else field.text or "").strip()
                yield None, ""
            root.clear()
