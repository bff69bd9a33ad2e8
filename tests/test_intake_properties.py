"""Properties of the reader that no list of examples covers: any bytes at all are either read or
rejected with a published problem, and any cell text survives quoting, delimiters and encodings."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from base.problems import PUBLISHED_MESSAGES, FileRejected
from bulk.intake import Column, parse_csv

from .factories import make_csv

COLUMNS = [Column("Certification ID"), Column("User ID")]
LIMIT = 1024 * 1024

# Control characters (but tab, line feed and carriage return) are refused in cells: tested on their own.
CONTROLS = "".join(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127])
cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=CONTROLS),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_are_read_or_rejected_with_a_published_problem(data):
    try:
        table = parse_csv(data, COLUMNS, limit=LIMIT)
    except FileRejected as rejected:
        assert rejected.problems
        assert all(p.code in PUBLISHED_MESSAGES for p in rejected.problems)
        assert rejected.headlines
    else:
        assert table.rows, "a file that is read has at least one data row"


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(cell_text, cell_text), min_size=1, max_size=20),
    delimiter=st.sampled_from([",", ";", "\t"]),
    line_ending=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-bom", "utf-16"]),
)
def test_every_cell_comes_back_as_written_whatever_the_quoting_delimiter_and_encoding(
    rows, delimiter, line_ending, encoding
):
    data = make_csv(
        rows,
        delimiter=delimiter,
        line_ending=line_ending,
        encoding="utf-8" if encoding == "utf-8-bom" else encoding,
        bom=encoding == "utf-8-bom",
    )

    table = parse_csv(data, COLUMNS, limit=LIMIT)

    assert [(r.values["Certification ID"], r.values["User ID"]) for r in table.rows] == [
        (a.strip(), b.strip()) for a, b in rows
    ]
    assert [r.row_number for r in table.rows] == list(range(2, len(rows) + 2))
