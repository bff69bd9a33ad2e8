"""Reading uploaded files: size cap, encoding, delimiter, header matching, typed values.

Everything here is independent of the job kind except the columns the kind declares. Problems
are collected, never raised one at a time, so the administrator sees all of them at once.

A file is read as a stream: records come from the bytes as they are parsed, rows go to the kind in
batches, and nothing holds an object per row for the whole file. What bounds memory is the size
limit (the bytes themselves), the kind's row cap (counted as the rows stream in) and the batch.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import IO, Any

from django.conf import settings

from base.problems import (
    CONTROL_CHARACTERS_CLASS,
    EMPTY_FILE,
    FILE_TOO_LARGE,
    INCORRECT_FORMAT,
    INVALID_COLUMNS,
    INVALID_DATA_FORMATS,
    TOO_MANY_ROWS,
    FileRejected,
    Problem,
    format_size,
)

from . import formats

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma-separated", ";": "semicolon-separated", "\t": "tab-separated"}
# More columns than any job reads: a wider header is a wrong file, and every row would be padded to it.
MAX_COLUMNS = 200
READ_BLOCK = 64 * 1024
DECODE_BLOCK = 1024 * 1024
# Cells a spreadsheet's first sheet may hold: far beyond any upload limit's rows, far below a bomb's.
MAX_CELLS = formats.MAX_CELLS
# Blank rows cost no memory, only the time to read them: a file may have this many per data row allowed.
BLANK_ROWS_PER_ROW = 20
# How much more like a language (charset-normalizer's coherence, in points) a detected encoding's
# reading must be than any other clean reading before it is believed.
DETECTION_MARGIN = 10
# Readings whose mess (charset-normalizer's chaos, in points) is within this of the cleanest are rivals.
CHAOS_MARGIN = 3
# Of the bytes at the start of a file, the share that may be control characters before it is binary.
BINARY_SHARE = 0.02
# Characters no cell may hold: C0 controls but tab, line feed and carriage return; DEL; and the lone
# surrogates that stand for bytes which are not UTF-8 (decoded with "surrogateescape").
BAD_TEXT = re.compile(f"[{CONTROL_CHARACTERS_CLASS}\udc80-\udcff]")
UNDECODED = re.compile("[\udc80-\udcff]")
VALID_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")
# Windows-1252 read from a file in another legacy encoding shows itself by symbols where letters
# belong (Latin-2's Š is ©, ł is ³) or a capital after a small letter (Mac Roman's é is Ž: "HŽlne").
NOT_CP1252_TEXT = re.compile(
    "[^\x00-\x7f\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0152\u0153\u0160\u0161\u017d\u017e\u0178"
    "\u2019\u201c\u201d\u2013\u2014\u20ac\u00a3\u00b0\u00b7\u2026\u00a0]"
    "|[a-z\u00df-\u00f6\u00f8-\u00ff][\u00c0-\u00d6\u00d8-\u00de\u0152\u0160\u017d\u0178]"
)
ENCODING_NAMES = {
    "utf_8": "UTF-8",
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "cp1252": "Windows-1252",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
    "iso8859_2": "ISO-8859-2 (Latin-2)",
    "latin_1": "ISO-8859-1 (Latin-1)",
    "iso8859_15": "ISO-8859-15",
    "mac_roman": "Mac Roman",
    "mac_latin2": "Mac Central European",
    "cp932": "Shift-JIS",
    "shift_jis": "Shift-JIS",
    "euc_jp": "EUC-JP",
    "gb18030": "GB18030",
    "gb2312": "GB2312",
    "big5": "Big5",
    "euc_kr": "EUC-KR",
    "cp949": "EUC-KR",
    "koi8_r": "KOI8-R",
}


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


# The "format" of rows certdesk built itself (``services.submit_rows``): no file was read.
BUILT = "rows"


@dataclass
class Reading:
    """How a file was read: its format and, for text, the encoding and delimiter used."""

    format: str
    encoding: str = ""
    delimiter: str = ""
    note: str = ""

    def describe(self) -> str:
        """'Read as Windows-1252, semicolon-separated', as the job page and the API say it."""
        if self.format == BUILT:
            text = "Built by certdesk from the users picked; no file was uploaded"
        elif self.format == formats.XLSX:
            text = "Read as an Excel workbook (.xlsx), first sheet"
        elif self.format == formats.XML:
            text = "Read as XML"
        else:
            text = f"Read as {self.encoding or 'UTF-8'}, {DELIMITER_NAMES.get(self.delimiter, 'comma-separated')}"
        return f"{text} ({self.note})" if self.note else text

    def as_dict(self) -> dict[str, str]:
        return {
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "description": self.describe(),
        }


@dataclass
class Table:
    header: list[str]
    rows: list[Row]
    warnings: list[str]
    reading: Reading | None = None


@dataclass
class Upload:
    """A file whose header has been read and matched; its rows stream from ``batches``.

    Problems found further in (too many rows, a broken quote at row 90,000) are raised as
    FileRejected by the iterator, so whoever consumes it must be ready to undo what it did.
    """

    header: list[str]
    warnings: list[str]
    reading: Reading
    rows: Iterator[Row]

    def batches(self, size: int | None = None) -> Iterator[list[Row]]:
        size = size or settings.CERTDESK_INTAKE_BATCH_ROWS
        while batch := list(islice(self.rows, size)):
            yield batch

    def table(self) -> Table:
        """Every row at once: for small files and tests, never for an upload of unknown size."""
        return Table(header=self.header, rows=list(self.rows), warnings=self.warnings, reading=self.reading)


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


def _incorrect_format(why: str, row: int | None = None) -> FileRejected:
    return FileRejected(
        [Problem(INCORRECT_FORMAT, f"The file is the incorrect file format: {why}.", row=row)]
    )


# --- text: encodings ---------------------------------------------------------------------------------


@dataclass
class Encoding:
    codec: str
    label: str
    # "surrogateescape" keeps bytes that are not UTF-8 as marks, so their rows can be named.
    errors: str = "strict"
    note: str = ""


def choose_encoding(data: bytes) -> Encoding:
    """Which encoding the text is in, told rather than guessed.

    UTF-8 (with or without BOM) and UTF-16 are read as they say. A UTF-8 file with a few bytes that
    are not UTF-8 stays UTF-8, and those rows are named. A file with no UTF-8 at all is read as
    Windows-1252 when that gives plausible text, else in the encoding charset-normalizer detects when
    it is sure; otherwise it is refused with the rows that cannot be read.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _utf8(data, "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strictly(data, Encoding("utf-16", "UTF-16"))
    if _looks_like_bomless_utf16(data):
        codec = "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
        return _strictly(data, Encoding(codec, "UTF-16"))
    sample = data[:8192]
    controls = sum(sample.count(bytes([b])) for b in (*range(0, 9), 11, 12, *range(14, 32)))
    if controls > max(BINARY_SHARE * len(sample), 16):
        raise _incorrect_format("it contains binary data, not text")
    return _utf8(data, "utf-8")


def _utf8(data: bytes, codec: str) -> Encoding:
    invalid, non_ascii = _scan_utf8(data)
    if not invalid:
        return Encoding(codec, "UTF-8")
    if non_ascii >= invalid or codec == "utf-8-sig":
        # Real UTF-8 around a few bad bytes (a row pasted from another file): keep the rest right.
        return Encoding(codec, "UTF-8", "surrogateescape")
    return _legacy(data)


def _scan_utf8(data: bytes) -> tuple[int, int]:
    """(bytes that are not UTF-8, characters beyond ASCII that are), without holding the decoded text
    of the whole file. Real UTF-8 with a bad row has many of the second; another multi-byte encoding
    (Shift-JIS) read as UTF-8 has a few by chance among many of the first."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    invalid = non_ascii = 0
    for start in range(0, len(data), DECODE_BLOCK):
        text = decoder.decode(data[start : start + DECODE_BLOCK], final=start + DECODE_BLOCK >= len(data))
        invalid += len(UNDECODED.findall(text))
        non_ascii += len(VALID_NON_ASCII.findall(text))
    return invalid, non_ascii


def _decodes(data: bytes, codec: str, check: re.Pattern[str] | None = None) -> bool:
    """Whether the whole file decodes in ``codec`` (and, with ``check``, gives no implausible text)."""
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        for start in range(0, len(data), DECODE_BLOCK):
            text = decoder.decode(data[start : start + DECODE_BLOCK], final=start + DECODE_BLOCK >= len(data))
            if check is not None and check.search(text):
                return False
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _strictly(data: bytes, encoding: Encoding) -> Encoding:
    if not _decodes(data, encoding.codec):
        raise _incorrect_format(f"its text is not valid {encoding.label}")
    return encoding


def _legacy(data: bytes) -> Encoding:
    if _decodes(data, "cp1252", NOT_CP1252_TEXT):
        return Encoding("cp1252", "Windows-1252")
    from charset_normalizer import from_bytes

    # A sample cut at a line end is enough to tell; the whole file is then checked to decode.
    sample = data[: 256 * 1024]
    if len(sample) < len(data) and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]
    matches = from_bytes(sample)
    best = matches.best()
    candidates: list[str] = []
    if best is not None and best.percent_chaos < 10:
        # Every encoding that reads the sample about as cleanly, and what each makes of it.
        close = [m for m in matches if m.percent_chaos <= best.percent_chaos + CHAOS_MARGIN]
        # Of those, the one that reads most like a language (cp949 may be cleaner, cp932 is Japanese).
        best = max(close, key=lambda m: m.percent_coherence)
        best_text = str(best)
        rivals = [m for m in close if str(m) != best_text]
        candidates = list(dict.fromkeys(ENCODING_NAMES.get(m.encoding, m.encoding) for m in close))
        # Sure means: no other clean reading, or none that looks nearly as much like a language.
        sure = all(best.percent_coherence >= m.percent_coherence + DETECTION_MARGIN for m in rivals)
        if sure and not _looks_garbled(best_text) and _decodes(data, best.encoding):
            label = ENCODING_NAMES.get(best.encoding, best.encoding.replace("_", "-").upper())
            return Encoding(best.encoding, label, note="detected")
    could_be = f" (it could be {' or '.join(candidates[:3])})" if len(candidates) > 1 else ""
    problems = [
        Problem(
            INCORRECT_FORMAT,
            "The file is the incorrect file format: its text is not UTF-8, and which encoding it is in cannot "
            f"be told for certain{could_be}. Save it as CSV UTF-8 and upload it again.",
        )
    ]
    listed, total = _rows_beyond_ascii(data, settings.CERTDESK_MAX_LISTED_PROBLEMS)
    problems += [
        Problem(
            INCORRECT_FORMAT, "This row has characters that cannot be read as UTF-8.", row=row, value=value
        )
        for row, value in listed
    ]
    raise FileRejected(problems, total=total + 1)


def _looks_garbled(text: str) -> bool:
    """Whether a reading puts symbols where letters belong (a superscript three for an ł): the mark of a file
    read in the wrong single-byte encoding. Letters of any script, and punctuation between words,
    are what names and references are made of."""
    for found in BEYOND_ASCII.finditer(text):
        char = found.group()
        if unicodedata.category(char)[0] in "LM":
            continue
        at = found.start()
        before = text[at - 1] if at else " "
        after = text[at + 1] if at + 1 < len(text) else " "
        if before.isalpha() or after.isalpha():
            return True
    return False


BEYOND_ASCII = re.compile("[^\x00-\x7f]")


def _rows_beyond_ascii(data: bytes, keep: int) -> tuple[list[tuple[int, str]], int]:
    """The lines holding bytes beyond ASCII (line number, the line as best it reads), and how many."""
    listed: list[tuple[int, str]] = []
    total, line, at, last_line = 0, 1, 0, 0
    for found in re.finditer(rb"[\x80-\xff]", data):
        line += data.count(b"\n", at, found.start())
        at = found.start()
        if line == last_line:
            continue
        last_line = line
        total += 1
        if len(listed) < keep:
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            text = data[start : end if end >= 0 else len(data)][:100].decode("utf-8", errors="replace")
            listed.append((line, text.strip()))
    return listed, total


def _looks_like_bomless_utf16(data: bytes) -> bool:
    sample = data[:200]
    if len(sample) < 4:
        return False
    zeros_odd = sample[1::2].count(0)
    zeros_even = sample[0::2].count(0)
    half = len(sample) // 2
    return zeros_odd > 0.8 * half or zeros_even > 0.8 * half


def decode(data: bytes) -> str:
    """The whole text of a small file, decoded as ``choose_encoding`` says."""
    encoding = choose_encoding(data)
    return data.decode(encoding.codec, errors=encoding.errors)


def sniff_delimiter(first_line: str) -> str:
    """The delimiter the header row uses most (outside quotes): comma, semicolon or tab."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


# --- text: records -----------------------------------------------------------------------------------


class _Lines:
    """The lines of the text, remembering the line number and start of the record being read, so that
    a quote that never closes is reported where it opened, not where parsing gave up.

    Empty lines between records are counted here and not handed to the csv reader: a file of millions
    of them costs a comparison each, and is refused once there are more than ``max_blank``."""

    def __init__(self, stream: Iterable[str], max_blank: int, max_rows: int) -> None:
        self.stream = iter(stream)
        self.line = 0
        self.record_line = 1
        self.record_start = ""
        self.starting = True
        self.skipped = 0
        self.blank = 0
        self.max_blank = max_blank
        self.max_rows = max_rows

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        text = next(self.stream)
        self.line += 1
        if self.starting:
            while text in EMPTY_LINES:
                self.skipped += 1
                self.blank += 1
                if self.blank > self.max_blank:
                    raise _too_many_rows(self.max_rows, self.line, blank=True)
                text = next(self.stream)
                self.line += 1
            self.record_line, self.record_start, self.starting = self.line, text[:1000], False
        return text


EMPTY_LINES = frozenset({"\n", "\r\n", "\r"})


def text_records(data: bytes, max_rows: int = formats.MAX_ROWS) -> tuple[Reading, Iterator[formats.Record]]:
    """The records of a CSV or tab-delimited text file, decoded as they are read."""
    if data[:4] == b"PK\x03\x04":
        raise _incorrect_format("it is a spreadsheet or archive; save it as CSV (comma-separated values)")
    encoding = choose_encoding(data)
    first_line = ""
    for line in _text_stream(data, encoding):
        if line.strip():
            first_line = line[:65536]
            break
    if not first_line:
        raise FileRejected([Problem(EMPTY_FILE, "The file is empty.")])
    delimiter = sniff_delimiter(first_line)
    reading = Reading(formats.TEXT, encoding=encoding.label, delimiter=delimiter, note=encoding.note)
    return reading, _csv_records(_text_stream(data, encoding), delimiter, max_rows)


def _text_stream(data: bytes, encoding: Encoding) -> Iterator[str]:
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding.codec, errors=encoding.errors, newline="")
    try:
        yield from stream
    except UnicodeDecodeError as exc:  # checked before, so only a file that changed underneath
        raise _incorrect_format(f"its text is not valid {encoding.label} ({exc.reason})") from None


def _csv_records(stream: Iterator[str], delimiter: str, max_rows: int) -> Iterator[formats.Record]:
    max_cell = settings.CERTDESK_MAX_CELL_CHARS
    csv.field_size_limit(max_cell)
    lines = _Lines(stream, BLANK_ROWS_PER_ROW * max_rows, max_rows)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    number = 0
    while True:
        lines.starting = True
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _csv_error(str(exc), number + lines.skipped + 1, lines, max_cell) from None
        # Empty lines the reader never saw still count as rows, as a spreadsheet numbers them.
        number += lines.skipped + 1
        lines.skipped = 0
        yield number, cells


def _csv_error(error: str, row: int, lines: _Lines, max_cell: int) -> FileRejected:
    opened = '"' in lines.record_start
    where = f"row {row}" + (f" (line {lines.record_line})" if lines.record_line != row else "")
    if opened and ("end of data" in error or "field larger" in error or "new-line" in error):
        why = f"{where} opens a quoted value that is never closed"
    elif "field larger" in error:
        return FileRejected(
            [
                Problem(
                    INVALID_DATA_FORMATS,
                    f"The file has invalid data formats: {where} has a value longer than {max_cell:,} characters.",
                    row=row,
                )
            ]
        )
    else:
        why = f"{where} is not valid CSV ({error})"
    return _incorrect_format(why, row=row)


# --- all formats: header and rows ---------------------------------------------------------------------


def open_upload(
    data: bytes,
    columns: list[Column],
    *,
    limit: int,
    filename: str = "",
    extensions: tuple[str, ...] = (".csv",),
    max_rows: int | None = None,
    max_cells: int = MAX_CELLS,
) -> Upload:
    """Open an upload in whichever format it is — CSV or tab-delimited text, .xlsx, XML — decided from
    its content, read its header and match it to the kind's columns; the rows stream from the result.
    A name that says otherwise, or a format the kind does not take, is refused."""
    if len(data) > limit:
        raise too_large(limit)
    found = formats.detect(data)
    formats.check_extension(filename, found, extensions)
    max_rows = max_rows or formats.MAX_ROWS
    records: Iterator[formats.Record]
    if found == formats.XLSX:
        reading = Reading(formats.XLSX)
        records = formats.read_xlsx(data, max_cells=max_cells, max_rows=max_rows)
    elif found == formats.XML:
        reading = Reading(formats.XML)
        records = formats.read_xml(data, max_cells=max_cells, max_rows=max_rows)
    else:
        reading, records = text_records(data, max_rows)
    return records_upload(records, columns, reading=reading, max_rows=max_rows)


def parse_upload(data: bytes, columns: list[Column], **options: Any) -> Table:
    """Every row of an upload at once (see ``open_upload``): for small files and tests."""
    return open_upload(data, columns, **options).table()


def parse_csv(data: bytes, columns: list[Column], *, limit: int, max_rows: int | None = None) -> Table:
    """A CSV upload as a table of typed rows, or a rejection for a file-level problem.

    Row-level problems (a blank or malformed value) stay on their rows: the kind's policy decides
    whether they reject the whole file or only their row.
    """
    if len(data) > limit:
        raise too_large(limit)
    max_rows = max_rows or formats.MAX_ROWS
    reading, records = text_records(data, max_rows)
    return records_upload(records, columns, reading=reading, max_rows=max_rows).table()


def table_from_records(records: Iterable[formats.Record], columns: list[Column]) -> Table:
    """Match the header row to the kind's columns and type every other record, whatever format they
    were read from."""
    return records_upload(iter(records), columns, reading=Reading(formats.TEXT)).table()


def records_upload(
    records: Iterator[formats.Record],
    columns: list[Column],
    *,
    reading: Reading,
    max_rows: int = formats.MAX_ROWS,
) -> Upload:
    """Read the header (the first record with something on it), match it, and stream typed rows.
    Blank records are ignored, but counted: a file of a million blank lines is not a small file."""
    blank = 0
    for header_number, header in records:
        if "".join(header).strip():
            break
        blank += 1
        if blank > BLANK_ROWS_PER_ROW * max_rows:
            raise _too_many_rows(max_rows, header_number, blank=True)
    else:
        raise FileRejected([Problem(EMPTY_FILE, "The file is empty.")])

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
    for index, name in enumerate(header):
        if BAD_TEXT.search(name):
            raise FileRejected(
                [
                    Problem(
                        INVALID_COLUMNS,
                        f"The file has invalid columns: the name of column {index + 1} {_bad_text_reason(name)}.",
                        row=header_number,
                        value=BAD_TEXT.sub("?", name)[:50],
                    )
                ]
            )
    positions, warnings = _match_columns(header, columns, header_row=header_number)
    rows = _typed_rows(records, header, columns, positions, max_rows=max_rows, blank=blank)
    first = next(rows, None)
    if first is None:
        raise FileRejected([Problem(EMPTY_FILE, "The file is empty: it has a header row but no data rows.")])
    return Upload(header=header, warnings=warnings, reading=reading, rows=chain([first], rows))


def built_upload(records: Iterable[formats.Record], header: list[str], *, max_rows: int) -> Upload:
    """Rows certdesk built from what it has checked itself, in ``header``'s column order, as an upload
    whose rows keep their cells only: they are not typed again. The row cap holds as for a file."""

    def rows() -> Iterator[Row]:
        for seq, (row_number, cells) in enumerate(records):
            if seq >= max_rows:
                raise _too_many_rows(max_rows, row_number)
            yield Row(seq, row_number, list(cells))

    return Upload(header=header, warnings=[], reading=Reading(BUILT), rows=rows())


def _too_many_rows(max_rows: int, row: int, *, blank: bool = False) -> FileRejected:
    what = (
        f"more than {BLANK_ROWS_PER_ROW * max_rows:,} of its rows are blank"
        if blank
        else f"at most {max_rows:,} data rows are read"
    )
    return FileRejected(
        [Problem(TOO_MANY_ROWS, f"The file has too many rows: {what}. Split it into smaller files.", row=row)]
    )


def _bad_text_reason(text: str) -> str:
    found = BAD_TEXT.search(text)
    assert found is not None
    char = found.group()
    if "\udc80" <= char <= "\udcff":
        return f"has a byte (0x{ord(char) - 0xDC00:02X}) that is not UTF-8 text"
    return f"contains a control character (U+{ord(char):04X}), which is not accepted"


def _typed_rows(
    records: Iterator[formats.Record],
    header: list[str],
    columns: list[Column],
    positions: dict[str, int],
    *,
    max_rows: int,
    blank: int,
) -> Iterator[Row]:
    width = len(header)
    placed = [(column, positions.get(column.key)) for column in columns]
    max_cell = settings.CERTDESK_MAX_CELL_CHARS
    bad_text = BAD_TEXT.search
    seq = 0
    for row_number, cells in records:
        joined = "".join(cells)
        if not joined.strip():
            blank += 1
            if blank > BLANK_ROWS_PER_ROW * max_rows:
                raise _too_many_rows(max_rows, row_number, blank=True)
            continue
        if seq >= max_rows:
            raise _too_many_rows(max_rows, row_number)
        if len(joined) > max_cell:
            _check_cell_lengths(cells, header, row_number, max_cell)
        row = Row(seq, row_number, cells if len(cells) <= width else cells[:width])
        seq += 1
        if len(cells) > width:
            extra = [c for c in cells[width:] if c.strip()]
            if extra:
                row.problems.append(
                    Problem(
                        INVALID_DATA_FORMATS,
                        f"The row has {len(cells):,} values but the header has {width} columns.",
                        row=row_number,
                        value=extra[0][:50],
                    )
                )
        clean = True
        if bad_text(joined):
            _flag_bad_text(row, header)
            clean = False
        values = row.values
        for column, index in placed:
            raw = cells[index].strip() if index is not None and index < len(cells) else ""
            if clean and raw and column.parse is None and len(raw) <= column.max_length:
                values[column.name] = raw  # the common case, without a call per cell
            else:
                values[column.name] = _convert(column, raw, row)
        yield row


def _check_cell_lengths(cells: list[str], header: list[str], row_number: int, max_cell: int) -> None:
    for index, cell in enumerate(cells):
        if len(cell) > max_cell:
            column = header[index] if index < len(header) else f"column {index + 1}"
            raise FileRejected(
                [
                    Problem(
                        INVALID_DATA_FORMATS,
                        f"The file has invalid data formats: a value of {len(cell):,} characters; "
                        f"at most {max_cell:,} are read.",
                        row=row_number,
                        column=column,
                        value=cell[:50] + "…",
                    )
                ]
            )


def _flag_bad_text(row: Row, header: list[str]) -> None:
    """A cell with a control character or bytes that are not text: the row's problem, and the stored
    cell without it, so the results file says what was wrong and stays readable."""
    for index, cell in enumerate(row.cells):
        if BAD_TEXT.search(cell):
            column = header[index] if index < len(header) else f"column {index + 1}"
            row.problems.append(
                Problem(
                    INVALID_DATA_FORMATS,
                    f"{column} {_bad_text_reason(cell)}.",
                    row=row.row_number,
                    column=column,
                    value=BAD_TEXT.sub("?", cell)[:50],
                )
            )
    row.cells = [BAD_TEXT.sub("\ufffd", cell) for cell in row.cells]


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
    if BAD_TEXT.search(raw):
        return None  # already the row's problem
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
            warnings.append(f"Column '{name[:100]}' is not used by this job and was ignored.")
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
