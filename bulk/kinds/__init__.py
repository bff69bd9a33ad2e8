"""The registry of job kinds. Adding a kind is one module here and one line below."""

from __future__ import annotations

from .base import JobKind
from .certification_award import CertificationAward
from .certification_removal import CertificationRemoval
from .license_import import LicenseImport
from .unenrolment import Unenrolment

KINDS: dict[str, JobKind] = {
    kind.slug: kind for kind in (CertificationRemoval(), Unenrolment(), CertificationAward(), LicenseImport())
}


class UnknownKind(LookupError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"Unknown job kind '{slug}'. Known kinds: {', '.join(sorted(KINDS))}.")


def get_kind(slug: str) -> JobKind:
    try:
        return KINDS[slug]
    except KeyError:
        raise UnknownKind(slug) from None
