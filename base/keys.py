"""How a key typed in a file (a User ID, a username, a code) finds its record: one rule for every kind.

The key matches exactly first. A key that matches nothing exactly but is the key of exactly one record
in another case ("jdoe" for "JDoe") matches that record, and the match is noted ("taken as"), because
keys typed by hand differ in case. A key that matches several records in another case ("sam.lee" for
"Sam.Lee" and "SAM.LEE") matches none: it is ambiguous, and its candidates are named.

Set-based: one query for a batch's keys, and one more only for the keys that found nothing exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import connection

from .sql import fetch, in_values, value_set

T = TypeVar("T")


@dataclass
class Matches(Generic[T]):
    """What a batch's keys matched: key -> the record's values, and what matched in another case."""

    found: dict[str, T] = field(default_factory=dict)
    # key -> the record's own key, when it matched in another case ("jdoe" -> "JDoe")
    taken_as: dict[str, str] = field(default_factory=dict)
    # key -> the keys it could mean, sorted, when several records match it in another case
    ambiguous: dict[str, list[str]] = field(default_factory=dict)

    def note(self, key: str, what: str) -> str:
        """ "'jdoe' was taken as the username 'JDoe'." for a key matched in another case, else ""."""
        taken = self.taken_as.get(key)
        return taken_note(key, what, taken) if taken is not None else ""

    def candidates(self, key: str) -> str:
        """The records an ambiguous key could mean, as a message names them: "'SAM.LEE', 'Sam.Lee'"."""
        return ", ".join(f"'{value}'" for value in self.ambiguous.get(key, []))


def taken_note(key: str, what: str, taken: str) -> str:
    """What a row whose key matched in another case is told: "'jdoe' was taken as the username 'JDoe'."."""
    return f"'{key}' was taken as the {what} '{taken}'."


def exact_keys(
    keys: Iterable[str], select: str, column: str, params: Sequence[Any] = ()
) -> dict[str, tuple[Any, ...]]:
    """Key -> the record's other values, for the keys that match a record exactly: one query.

    ``select`` is "SELECT {column}, … FROM table", its first value the key; ``params`` are those of
    its own placeholders.
    """
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    if connection.vendor == "postgresql":
        named, param = in_values(column, wanted, "text")
        sql = f"{select.format(column=column)} WHERE {named}"
    else:
        # A join reads the keys in one pass; "IN (subquery)" first sorts them into a temporary index.
        keys_sql, param = value_set(wanted, "text")
        sql = f"{select.format(column=column)} JOIN ({keys_sql}) wanted ON wanted.value = {column}"
    return {key: tuple(rest) for key, *rest in fetch(sql, [*params, param])}


def match_keys(
    keys: Iterable[str], select: str, column: str, params: Sequence[Any] = ()
) -> Matches[tuple[Any, ...]]:
    """Match a batch's keys against a table by the rule above: exact, then in another case.

    ``select`` and ``params`` as for ``exact_keys``; each match is the record's other values.
    """
    wanted = set(keys)
    matches: Matches[tuple[Any, ...]] = Matches(found=exact_keys(wanted, select, column, params))
    missing = _missing(wanted, matches)
    if not missing:
        return matches
    folded, folded_param = in_values(f"LOWER({column})", sorted(missing), "text")
    records = fetch(f"{select.format(column=column)} WHERE {folded}", [*params, folded_param])
    _settle(matches, missing, ((key, tuple(rest)) for key, *rest in records))
    return matches


def match_among(keys: Iterable[str], known: Mapping[str, T]) -> Matches[T]:
    """Match keys by the rule above against records already in memory (a small table read whole),
    ``known`` mapping each record's key to it."""
    wanted = set(keys)
    matches: Matches[T] = Matches(found={key: known[key] for key in wanted if key in known})
    missing = _missing(wanted, matches)
    if missing:
        _settle(matches, missing, ((key, value) for key, value in known.items() if key.lower() in missing))
    return matches


def _missing(keys: set[str], matches: Matches[Any]) -> dict[str, list[str]]:
    """Lowered key -> the keys of the batch that found nothing exactly and lower to it."""
    missing: dict[str, list[str]] = {}
    for key in keys - matches.found.keys():
        missing.setdefault(key.lower(), []).append(key)
    return missing


def _settle(matches: Matches[T], missing: dict[str, list[str]], records: Iterable[tuple[str, T]]) -> None:
    """Give each missing key the one record it matches in another case, or its candidates."""
    candidates: dict[str, list[tuple[str, T]]] = {}
    for key, value in records:
        candidates.setdefault(key.lower(), []).append((key, value))
    for lowered, found in candidates.items():
        for key in missing.get(lowered, []):
            if len(found) == 1:
                matches.found[key], matches.taken_as[key] = found[0][1], found[0][0]
            else:
                matches.ambiguous[key] = sorted(record_key for record_key, _ in found)
