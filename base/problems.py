"""The one shape every validation problem takes, in pages, JSON, the CLI and results files."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

# The characters no text certdesk takes may hold, whether a cell, a title or a query parameter: C0
# controls but tab, line feed and carriage return, and DEL. PostgreSQL cannot store NUL; nobody means
# any of them. Written once here, used by the intake, the services and the request middleware.
CONTROL_CHARACTERS_CLASS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
CONTROL_CHARACTERS = re.compile(f"[{CONTROL_CHARACTERS_CLASS}]")

# The file-level errors, in the Certification Removal Tool's published wording.
FILE_TOO_LARGE = "file_too_large"
INCORRECT_FORMAT = "incorrect_format"
EMPTY_FILE = "empty_file"
INVALID_COLUMNS = "invalid_columns"
INVALID_DATA_FORMATS = "invalid_data_formats"
INVALID_USERS = "invalid_users"
INVALID_CERTIFICATION = "invalid_certification"
TOO_MANY_ROWS = "too_many_rows"

PUBLISHED_MESSAGES = {
    FILE_TOO_LARGE: "The file size must be {limit} or less",
    INCORRECT_FORMAT: "The file is the incorrect file format",
    EMPTY_FILE: "The file is empty",
    INVALID_COLUMNS: "The file has invalid columns",
    INVALID_DATA_FORMATS: "The file has invalid data formats",
    INVALID_USERS: "User IDs included in the file are invalid or the users are not enrolled in the certification",
    INVALID_CERTIFICATION: "The Certification ID included in the file is invalid",
    TOO_MANY_ROWS: "The file has too many rows",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: what, where (row and column, when it applies) and the value."""

    code: str
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"Row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def located(self, nowhere: str = "") -> str:
        """The problem as an administrator reads it: where, what value, what is wrong ("Row 3, column
        User ID, value 'x': …"); ``nowhere`` names the place of a problem without row or column."""
        where = []
        if self.row is not None:
            where.append(f"Row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        if not where and nowhere:
            where.append(nowhere)
        if self.value is not None and self.value != "":
            where.append(f"value '{self.value}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


@dataclass(frozen=True)
class Listing:
    """The problems shown of those found: the first ``limit`` of them, and how many are not shown."""

    listed: list[Problem]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.listed)


def listing(problems: list[Problem], limit: int, total: int | None = None) -> Listing:
    """The first ``limit`` problems; ``total`` says how many were found when only the first
    ``problems`` were kept."""
    return Listing(problems[:limit], max(total or 0, len(problems)))


def format_size(n_bytes: int) -> str:
    """1048576 -> '1MB', as the published message writes it."""
    if n_bytes % (1024 * 1024) == 0:
        return f"{n_bytes // (1024 * 1024)}MB"
    if n_bytes % 1024 == 0:
        return f"{n_bytes // 1024}KB"
    return f"{n_bytes} bytes"


def headline(code: str, **fmt: str) -> str:
    """The published message for a problem code."""
    return PUBLISHED_MESSAGES.get(code, code).format(**fmt)


class InputProblems(ValueError):
    """Input that cannot stand (a title, an award's terms, a licence): every problem at once, each in
    the one error shape."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(" ".join(p.message for p in problems))


class FileRejected(Exception):
    """A file that will not become a job. Carries every problem found, not only the first."""

    def __init__(
        self, problems: list[Problem], *, size_limit: int | None = None, total: int | None = None
    ) -> None:
        self.problems = problems
        self.size_limit = size_limit
        # How many problems were found; ``problems`` may hold only the first of them.
        self.total = max(total or 0, len(problems))
        super().__init__("; ".join(self.headlines))

    @property
    def headlines(self) -> list[str]:
        """The distinct published messages, in the order their problems first appear."""
        seen: dict[str, None] = {}
        for problem in self.problems:
            fmt = {"limit": format_size(self.size_limit)} if self.size_limit else {"limit": "1MB"}
            seen.setdefault(headline(problem.code, **fmt), None)
        return list(seen)


def report(
    problems: list[Problem], headlines: list[str], limit: int, total: int | None = None
) -> dict[str, Any]:
    """The JSON shape of a rejection: every problem up to ``limit``, and how many more there are
    (``total`` when only the first ``problems`` were kept)."""
    shown = listing(problems, limit, total)
    detail = "; ".join(headlines)
    if shown.more:
        detail += f" ({shown.total} problems; the first {len(shown.listed)} are listed, {shown.more} more not shown)"
    return {
        "detail": detail,
        "errors": [p.as_dict() for p in shown.listed],
        "errors_total": shown.total,
        "errors_not_shown": shown.more,
    }


class ProblemLog:
    """The problems of a file as validation finds them: the first ``keep`` with row, column and value,
    and a count of all, so that a file with a million bad rows costs no more memory than one with a
    thousand."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.items: list[Problem] = []
        self.total = 0

    def add(self, problem: Problem) -> None:
        self.total += 1
        if len(self.items) < self.keep:
            self.items.append(problem)

    def extend(self, problems: list[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def __bool__(self) -> bool:
        return self.total > 0

    def rejected(self) -> FileRejected:
        return FileRejected(sorted(self.items, key=lambda p: p.row or 0), total=self.total)
