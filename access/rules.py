"""Who may do what: each rule that is more than one permission, written once.

A page's decorator (``web.permissions.allowed``), the API's permission classes (``api.permissions``)
and the CLI ask these same functions, so that a page and its endpoint cannot disagree. A rule is any
``user -> bool``; a permission name on its own is a rule too (``as_rule``). Rules that depend on the
job kinds (who may manage jobs, who may pick people) are the engine's: ``bulk.visibility``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .permissions import (
    IMPORT_LICENSES,
    IMPORT_UNENROLMENTS,
    MANAGE_LICENSES,
    VIEW_CATALOGUE,
    VIEW_CERTIFICATIONS,
)
from .policy import has_permission

Rule = Callable[[Any], bool]


def may_view_catalogue(user: Any) -> bool:
    """The catalogue (activities, enrolments): granted by "view activities" or "import unenrolments"."""
    return has_permission(user, VIEW_CATALOGUE) or has_permission(user, IMPORT_UNENROLMENTS)


def may_see_licences(user: Any) -> bool:
    """Learners' licences and the licence types: granted by "manage licences" or "import licences".
    Whose licences, is ``credentials.licences.licences_in_reach``."""
    return has_permission(user, MANAGE_LICENSES) or has_permission(user, IMPORT_LICENSES)


def may_see_certifications(user: Any) -> bool:
    """The certifications and their awarded users: granted by "view certifications"."""
    return has_permission(user, VIEW_CERTIFICATIONS)


def as_rule(rule_or_permission: Rule | str) -> Rule:
    """A rule as given, or the rule "holds this permission" for a permission name."""
    if isinstance(rule_or_permission, str):
        permission = rule_or_permission
        return lambda user: has_permission(user, permission)
    return rule_or_permission
