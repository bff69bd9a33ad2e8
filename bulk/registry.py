"""The registry of job kinds: the classes named in ``CERTDESK_JOB_KINDS``, imported on first use.

Nothing here imports a kind, so the engine can use the registry without pulling in the domain; a kind
module imports the engine and its domain services, never the other way round.

The kinds are loaded once per value of the setting: a test that overrides ``CERTDESK_JOB_KINDS`` gets its
own kinds on the next call, and the usual ones back when the setting is restored, with nothing to reset.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from .kind import JobKind


class UnknownKind(LookupError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"Unknown job kind '{slug}'. Known kinds: {', '.join(sorted(registry()))}.")


@cache
def _load(paths: tuple[str, ...]) -> dict[str, JobKind]:
    kinds: dict[str, JobKind] = {}
    for path in paths:
        kind = import_string(path)()
        if not isinstance(kind, JobKind):
            raise TypeError(f"{path} in CERTDESK_JOB_KINDS is not a JobKind")
        kinds[kind.slug] = kind
    return kinds


def registry() -> dict[str, JobKind]:
    """Slug -> kind, in the order of CERTDESK_JOB_KINDS (a test may change the setting)."""
    return _load(tuple(settings.CERTDESK_JOB_KINDS))


def all_kinds() -> list[JobKind]:
    return list(registry().values())


def get_kind(slug: str) -> JobKind:
    try:
        return registry()[slug]
    except KeyError:
        raise UnknownKind(slug) from None
