"""How certdesk reads a cell and writes one back: the column parsers every kind shares, and the
neutralising of cells a spreadsheet would run as formulas."""

from __future__ import annotations

FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(cell: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    if cell and cell[0] in FORMULA_STARTS:
        return "'" + cell
    return cell
