"""How certdesk reads a cell and writes one back: the column parsers every kind shares, and the
neutralising of cells a spreadsheet would run as formulas.

A parser gets a cell's stripped, non-empty text and returns its value or raises ValueError with the
message the row's user reads; the intake never calls one for an empty cell.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable

FORMULA_STARTS = frozenset("=+-@\t\r")
YES = frozenset({"yes", "y", "true"})
NO = frozenset({"no", "n", "false"})
MONTHS = {
    m: n
    for n, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
    )
}
ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
WORDY_DATE = re.compile(r"^(\d{1,2})[ -]([A-Za-z]{3})[A-Za-z]*[ ,-]*(\d{4})$")


def neutralise(cell: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    if cell and cell[0] in FORMULA_STARTS:
        return "'" + cell
    return cell


@functools.lru_cache(maxsize=4096)
def parse_date(text: str) -> dt.date:
    """YYYY-MM-DD (also with / or a time after it, as spreadsheets save it) or "12 Mar 2026".

    Day and month written as numbers in another order (03/12/2026) are refused: they read differently
    in different countries.
    """
    text = text.strip()
    iso = ISO_DATE.match(text)
    wordy = WORDY_DATE.match(text)
    try:
        if iso:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        if wordy and wordy[2].lower() in MONTHS:
            return dt.date(int(wordy[3]), MONTHS[wordy[2].lower()], int(wordy[1]))
    except ValueError:
        raise ValueError(f"'{text}' is not a date in the calendar.") from None
    raise ValueError(f"'{text}' is not a date: write it as YYYY-MM-DD, e.g. 2026-03-12.")


def _yes_no(refusal: str) -> Callable[[str], bool]:
    @functools.lru_cache(maxsize=64)
    def parse(text: str) -> bool:
        folded = text.strip().casefold()
        if folded in YES:
            return True
        if folded in NO:
            return False
        raise ValueError(refusal.format(text=text))

    return parse


def yes_no(column: str) -> Callable[[str], bool]:
    """The parser of a Yes/No column that must be filled in: Yes or No in any case, Y/N and True/False
    too. The column takes blanks (``blank_ok``) so that the kind can say ``yes_no_missing``."""
    return _yes_no(f"{column} must be Yes or No, not '{{text}}'.")


def yes_no_missing(column: str) -> str:
    """What a row whose Yes/No column is empty is told."""
    return f"{column} must be Yes or No; it is empty."


def yes_no_blank(column: str) -> Callable[[str], bool]:
    """The parser of a Yes/No column that may be left empty (the kind then decides)."""
    return _yes_no(f"{column} must be Yes, No or empty, not '{{text}}'.")
