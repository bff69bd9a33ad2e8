"""A bounded property test of the intake's spreadsheet readers: a small valid .xlsx or XML file built
from strategies, then mutated — elements dropped, duplicated, renamed or nested deeper, attributes
removed or set to arbitrary text and huge numbers, text replaced, bytes of a part truncated or
flipped, the zip itself cut or flipped or lying about its sizes — is either read into rows or
refused with published problems. No other exception.

Calls ``bulk.intake.parse_upload``, the intake's public entry for a whole file. Derandomised and
without an example database, so a run tests the same examples every time: it cannot fail by chance
on one run and pass on the next.
"""

from __future__ import annotations

import zipfile

from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from base.problems import PUBLISHED_MESSAGES, FileRejected
from bulk.intake import parse_upload
from bulk.registry import get_kind

from .hostile import (
    DATE_STYLE,
    KIND_SLUGS,
    TOO_MANY_ROWS,
    XML_2003_PROLOG,
    XML_DECLARATION,
    Cell,
    KindSpec,
    Node,
    patch_entry,
    plain_xml_tree,
    workbook_tree,
    xml_2003_tree,
    zip_parts,
)

ALLOWED_CODES = frozenset(PUBLISHED_MESSAGES) | {TOO_MANY_ROWS}
SPREADSHEET_KINDS = [slug for slug in KIND_SLUGS if ".xlsx" in get_kind(slug).extensions]
XML_KINDS = [slug for slug in KIND_SLUGS if ".xml" in get_kind(slug).extensions]
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # No shrinking: one failure could spend minutes there. The failing example and its
    # @reproduce_failure blob are printed; shrink it locally by adding Phase.shrink back.
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TAGS = [
    "row", "c", "v", "is", "t", "si", "sst", "sheetData", "worksheet", "sheet", "sheets", "workbook",
    "Relationship", "Relationships", "numFmt", "numFmts", "xf", "cellXfs", "f", "r", "rPh", "dimension",
    "mergeCell", "Row", "Cell", "Data", "Table", "Worksheet", "Workbook", "rows", "username", "x:row",
]  # fmt: skip
ATTRIBUTES = [
    "r", "t", "s", "numFmtId", "formatCode", "Target", "Id", "Type", "r:id", "sheetId", "name", "count",
    "spans", "ref", "xml:space", "xmlns", "ss:Index", "ss:Type", "ss:MergeAcross", "ss:Name",
]  # fmt: skip
HOSTILE_VALUES = [
    "", "0", "-1", "1", "2", "1e10", "1e308", "1e309", "inf", "-inf", "nan", "NaN", "²", "٣", "١٢",
    "99999999999999999999", "1048576", "1048577", "16384", "XFD1048576", "A0", "A1048577", "ZZZZ1",
    "-A1", "A-1", "s", "str", "inlineStr", "b", "e", "d", "n", "DateTime", "Number", "String",
    "yyyy-mm-dd", "yyyy", "[h]:mm", "/xl/worksheets/sheet1.xml", "../../etc/passwd", "worksheets/",
    "rId1", "rId9", "1:16384", "A1:XFD1048576", "&", "<", "]]>", "\x00", "\r", "\t=1+1", "=cmd|' /C calc'!A0",
]  # fmt: skip

plain_text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12)
values = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(repr),
    st.from_regex(r"\A[A-Z]{1,4}[0-9]{1,9}\Z"),
    st.text(max_size=10),  # anything at all, control characters and lone surrogates' neighbours included
)
cells = st.one_of(
    plain_text,
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: Cell(repr(f))),
    st.integers(min_value=-1000, max_value=3_000_000).map(lambda n: Cell(str(n), s=DATE_STYLE)),
    st.sampled_from([Cell("1", "b"), Cell("#N/A", "e"), Cell("text", "str")]),
)


def table_for(slug: str, cell: st.SearchStrategy) -> st.SearchStrategy:
    header = list(KindSpec.of(slug).header)
    return st.tuples(
        st.permutations(header),
        st.lists(st.lists(cell, max_size=len(header) + 1), min_size=1, max_size=4),
    ).map(lambda t: [list(t[0]), *t[1]])


def mutate(draw: st.DrawFn, root: Node) -> None:
    """One structural change somewhere in the tree."""
    nodes = list(root.walk())
    parent, index, node = nodes[draw(st.integers(0, len(nodes) - 1))]
    op = draw(st.sampled_from(["drop", "duplicate", "rename", "set", "unset", "text", "deepen"]))
    if op == "drop" and parent is not None:
        parent.children.pop(index)
    elif op == "duplicate" and parent is not None:
        parent.children.insert(index, node.clone())
    elif op == "rename":
        node.tag = draw(st.one_of(st.sampled_from(TAGS), st.from_regex(r"\A[A-Za-z_][A-Za-z0-9._-]{0,8}\Z")))
    elif op == "set":
        node.attrs[draw(st.sampled_from(sorted({*ATTRIBUTES, *node.attrs})))] = draw(values)
    elif op == "unset" and node.attrs:
        del node.attrs[draw(st.sampled_from(sorted(node.attrs)))]
    elif op == "text":
        node.text = draw(values)
    elif op == "deepen":
        depth = draw(st.sampled_from([2, 50, 500]))
        inner = Node(node.tag, children=node.children)
        for _ in range(depth - 1):
            inner = Node(draw(st.sampled_from(["r", "t", "row", "x"])), children=[inner])
        node.children = [inner]


def mutate_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """Maybe cut the bytes short, flip some of them, or splice in a few."""
    op = draw(st.sampled_from(["keep", "keep", "truncate", "flip", "splice"]))
    if op == "keep" or not data:
        return data
    at = draw(st.integers(0, len(data) - 1))
    if op == "truncate":
        return data[:at]
    if op == "flip":
        out = bytearray(data)
        for offset in draw(st.lists(st.integers(0, 64), min_size=1, max_size=4)):
            out[(at + offset) % len(out)] ^= draw(st.integers(1, 255))
        return bytes(out)
    return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]


def read_or_refuse(data: bytes, slug: str, filename: str) -> None:
    """The property: rows, or FileRejected whose problems all have published codes and a message."""
    kind = get_kind(slug)
    try:
        table = parse_upload(
            data, kind.columns, limit=kind.max_bytes, filename=filename, extensions=kind.extensions
        )
    except FileRejected as rejected:
        event(f"refused: {sorted({p.code for p in rejected.problems})}")
        assert rejected.problems, "refused without a problem"
        for problem in rejected.problems:
            assert problem.code in ALLOWED_CODES, problem
            assert problem.message.strip(), problem
        return
    event("read")
    assert table.rows, "read, but without rows"


@FUZZ
@given(data=st.data())
def test_a_mutated_workbook_is_read_or_refused_with_published_problems(data):
    draw = data.draw
    slug = draw(st.sampled_from(SPREADSHEET_KINDS))
    parts: dict[str, Node | bytes] = dict(
        workbook_tree(draw(table_for(slug, cells)), shared=draw(st.booleans()))
    )
    for _ in range(draw(st.integers(0, 4))):
        part = parts[draw(st.sampled_from(sorted(parts)))]
        assert isinstance(part, Node)
        mutate(draw, part)
    rendered = {name: (XML_DECLARATION + part.render()).encode() for name, part in parts.items()}  # type: ignore[union-attr]
    target = draw(st.sampled_from(sorted(rendered)))
    rendered[target] = mutate_bytes(draw, rendered[target])
    if draw(st.booleans()):
        del rendered[draw(st.sampled_from(sorted(rendered)))]
    workbook = zip_parts(
        dict(rendered), compression=draw(st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]))
    )
    zip_op = draw(st.sampled_from(["keep", "keep", "bytes", "lie"]))
    if zip_op == "bytes":
        workbook = mutate_bytes(draw, workbook)
    elif zip_op == "lie" and rendered:
        workbook = patch_entry(
            workbook,
            draw(st.sampled_from(sorted(rendered))),
            file_size=draw(st.sampled_from([0, 1, 1000, 2**31, 2**32 - 1])),
        )

    read_or_refuse(workbook, slug, "fuzzed.xlsx")


@FUZZ
@given(data=st.data())
def test_a_mutated_xml_spreadsheet_2003_is_read_or_refused_with_published_problems(data):
    draw = data.draw
    slug = draw(st.sampled_from(XML_KINDS))
    tree = xml_2003_tree(draw(table_for(slug, plain_text)))
    for _ in range(draw(st.integers(0, 4))):
        mutate(draw, tree)
    content = mutate_bytes(draw, (XML_2003_PROLOG + tree.render()).encode())

    read_or_refuse(content, slug, "fuzzed.xml")


@FUZZ
@given(data=st.data())
def test_a_mutated_plain_xml_is_read_or_refused_with_published_problems(data):
    draw = data.draw
    slug = draw(st.sampled_from(XML_KINDS))
    table = draw(table_for(slug, plain_text))
    tree = plain_xml_tree(table[0], table[1:])
    for _ in range(draw(st.integers(0, 4))):
        mutate(draw, tree)
    content = mutate_bytes(draw, (XML_DECLARATION + tree.render()).encode())

    read_or_refuse(content, slug, "fuzzed.xml")
