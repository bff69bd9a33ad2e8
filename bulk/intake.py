"""Reading uploaded files: size cap, encoding, delimiter, header matching, typed values.

Everything here is independent of the job kind except the columns the kind declares. Problems
are collected, never raised one at a time, so the administrator sees all of them at once.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from . import formats
from .problems import (
    EMPTY_FILE,
    FILE_TOO_LARGE,
    INCORRECT_FORMAT,
    INVALID_COLUMNS,
    INVALID_DATA_FORMATS,
    FileRejected,
    Problem,
    format_size,
)

DELIMITERS = (",", ";", "\t")
# More columns than any job reads: a wider header is a wrong file, and every row would be padded to it.
MAX_COLUMNS = 200
READ_BLOCK = 64 * 1024
# Cells a spreadsheet's first sheet may hold: far beyond any upload limit's rows, far below a bomb's.
MAX_CELLS = 2_000_000


@dataclass(frozen=True)
class Column:
    """A column a job kind reads. ``parse`` turns the stripped text into a value or raises ValueError."""

    name: str
    required: bool = True
    blank_ok: bool = False
    max_length: int = 200
    parse: Callable[[str], Any] | None = None
    help: str = ""

    @property
    def key(self) -> str:
        return normalise_header(self.name)


@dataclass(slots=True)
class Row:
    seq: int
    row_number: int
    cells: list[str]
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Table:
    header: list[str]
    rows: list[Row]
    warnings: list[str]


def normalise_header(name: str) -> str:
    """Header names match case- and space-insensitively: 'Certification ID' == ' certification  id'."""
    return re.sub(r"[\s_]+", "", name.replace("\ufeff", "")).casefold()


def read_capped(stream: IO[bytes] | Iterable[bytes], limit: int) -> bytes:
    """Read at most ``limit`` bytes; a longer stream is rejected without being read to its end."""
    chunks: list[bytes] = []
    size = 0
    if hasattr(stream, "read"):
        blocks: Iterable[bytes] = iter(lambda: stream.read(READ_BLOCK), b"")  # type: ignore[union-attr]
    else:
        blocks = stream
    for block in blocks:
        size += len(block)
        if size > limit:
            raise too_large(limit)
        chunks.append(block)
    return b"".join(chunks)


def too_large(limit: int) -> FileRejected:
    return FileRejected(
        [Problem(FILE_TOO_LARGE, f"The file size must be {format_size(limit)} or less.")], size_limit=limit
    )


def decode(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), UTF-16 (with BOM, or without it when plainly UTF-16) or
    Windows-1252. Binary files (spreadsheets, archives, images) are the incorrect file format."""
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    elif _looks_like_bomless_utf16(data):
        encodings = ["utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"]
    else:
        if b"\x00" in data:
            raise _incorrect_format("it contains binary data, not text")
        encodings = ["utf-8", "cp1252"]
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise _incorrect_format("it contains binary data, not text")
        return text
    raise _incorrect_format("its text is not in UTF-8, UTF-16 or Windows-1252")


def _looks_like_bomless_utf16(data: bytes) -> bool:
    sample = data[:200]
    if len(sample) < 4:
        return False
    zeros_odd = sample[1::2].count(0)
    zeros_even = sample[0::2].count(0)
    half = len(sample) // 2
    return zeros_odd > 0.8 * half or zeros_even > 0.8 * half


def _incorrect_format(why: str) -> FileRejected:
    return FileRejected([Problem(INCORRECT_FORMAT, f"The file is the incorrect file format: {why}.")])


def sniff_delimiter(first_line: str) -> str:
    """The delimiter the header row uses most (outside quotes): comma, semicolon or tab."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_upload(
    data: bytes,
    columns: list[Column],
    *,
    limit: int,
    filename: str = "",
    extensions: tuple[str, ...] = (".csv",),
    max_cells: int = MAX_CELLS,
) -> Table:
    """Read an upload in whichever format it is — CSV or tab-delimited text, .xlsx, XML — decided from
    its content; a name that says otherwise, or a format the kind does not take, is refused."""
    if len(data) > limit:
        raise too_large(limit)
    found = formats.detect(data)
    formats.check_extension(filename, found, extensions)
    if found == formats.XLSX:
        return table_from_records(formats.read_xlsx(data, max_cells=max_cells), columns)
    if found == formats.XML:
        return table_from_records(formats.read_xml(data, max_cells=max_cells), columns)
    return parse_csv(data, columns, limit=limit)


def parse_csv(data: bytes, columns: list[Column], *, limit: int) -> Table:
    """Turn an upload into a table of typed rows, or reject it for a file-level problem.

    Row-level problems (a blank or malformed value) stay on their rows: the kind's policy decides
    whether they reject the whole file or only their row.
    """
    if len(data) > limit:
        raise too_large(limit)
    if data[:4] == b"PK\x03\x04":
        raise _incorrect_format("it is a spreadsheet or archive; save it as CSV (comma-separated values)")
    text = decode(data)
    if not text.strip():
        raise FileRejected([Problem(EMPTY_FILE, "The file is empty.")])

    # The header is the first line with something on it; blank lines before it say nothing.
    first_line = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
    delimiter = sniff_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)

    records: list[tuple[int, list[str]]] = []
    try:
        records = list(enumerate(reader, start=1))
    except csv.Error as exc:
        raise FileRejected(
            [
                Problem(
                    INCORRECT_FORMAT,
                    f"The file is the incorrect file format: row {reader.line_num} is not valid CSV ({exc}).",
                    row=reader.line_num,
                )
            ]
        ) from exc
    return table_from_records(records, columns)


def table_from_records(records: list[tuple[int, list[str]]], columns: list[Column]) -> Table:
    """Match the header row to the kind's columns and turn the other records into typed rows, whatever
    format they were read from. Blank records are ignored."""
    records = [(number, cells) for number, cells in records if "".join(cells).strip()]
    if not records:
        raise FileRejected([Problem(EMPTY_FILE, "The file is empty.")])

    header_number, header = records[0]
    header = [h.strip() for h in header]
    while header and not header[-1]:
        header.pop()  # trailing separators, as spreadsheets often save them
    if len(header) > MAX_COLUMNS:
        raise FileRejected(
            [
                Problem(
                    INVALID_COLUMNS,
                    f"The file has invalid columns: its header has {len(header):,} columns; "
                    f"at most {MAX_COLUMNS} are read.",
                    row=header_number,
                )
            ]
        )
    positions, warnings = _match_columns(header, columns, header_row=header_number)
    if len(records) == 1:
        raise FileRejected([Problem(EMPTY_FILE, "The file is empty: it has a header row but no data rows.")])

    rows: list[Row] = []
    width = len(header)
    placed = [(column, positions.get(column.key)) for column in columns]
    for seq, (row_number, cells) in enumerate(records[1:]):
        row = Row(seq, row_number, cells)
        extra = [c for c in cells[width:] if c.strip()] if len(cells) > width else None
        if extra:
            row.problems.append(
                Problem(
                    INVALID_DATA_FORMATS,
                    f"The row has {len(cells)} values but the header has {width} columns.",
                    row=row_number,
                    value=extra[0],
                )
            )
        values = row.values
        for column, index in placed:
            raw = cells[index].strip() if index is not None and index < len(cells) else ""
            if raw and column.parse is None and len(raw) <= column.max_length:
                values[column.name] = raw  # the common case, without a call per cell
            else:
                values[column.name] = _convert(column, raw, row)
        rows.append(row)
    return Table(header=header, rows=rows, warnings=warnings)


def _convert(column: Column, raw: str, row: Row) -> Any:
    if not raw:
        if not column.blank_ok:
            row.problems.append(
                Problem(
                    INVALID_DATA_FORMATS,
                    f"{column.name} is empty.",
                    row=row.row_number,
                    column=column.name,
                    value="",
                )
            )
        return None
    if len(raw) > column.max_length:
        row.problems.append(
            Problem(
                INVALID_DATA_FORMATS,
                f"{column.name} is longer than {column.max_length} characters.",
                row=row.row_number,
                column=column.name,
                value=raw[:50] + "…",
            )
        )
        return None
    if column.parse is None:
        return raw
    try:
        return column.parse(raw)
    except ValueError as exc:
        row.problems.append(
            Problem(INVALID_DATA_FORMATS, str(exc), row=row.row_number, column=column.name, value=raw)
        )
        return None


def _match_columns(
    header: list[str], columns: list[Column], *, header_row: int
) -> tuple[dict[str, int], list[str]]:
    wanted = {c.key: c for c in columns}
    positions: dict[str, int] = {}
    problems: list[Problem] = []
    warnings: list[str] = []
    unnamed = 0
    for index, name in enumerate(header):
        key = normalise_header(name)
        if key in wanted:
            if key in positions:
                problems.append(
                    Problem(
                        INVALID_COLUMNS,
                        f"The file has invalid columns: {wanted[key].name} appears more than once.",
                        row=header_row,
                        column=wanted[key].name,
                        value=name,
                    )
                )
            else:
                positions[key] = index
        elif key:
            warnings.append(f"Column '{name}' is not used by this job and was ignored.")
        else:
            unnamed += 1
    if unnamed:
        warnings.append(f"{unnamed} column(s) without a name were ignored.")
    expected = ", ".join(c.name for c in columns if c.required)
    for column in columns:
        if column.required and column.key not in positions:
            problems.append(
                Problem(
                    INVALID_COLUMNS,
                    f"The file has invalid columns: {column.name} is missing (expected {expected}).",
                    row=header_row,
                    column=column.name,
                )
            )
    if problems:
        raise FileRejected(problems)
    return positions, warnings


FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(cell: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    if cell and cell[0] in FORMULA_STARTS:
        return "'" + cell
    return cell
