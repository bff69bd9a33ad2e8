"""Permissions held through roles, for Django's ``user.has_perm``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from .models import Grant


class RoleBackend(BaseBackend):
    """A user holds every permission granted to one of their roles, whatever the grant's constraint;
    constraints narrow what the permission shows (``access.policy``), not whether it is held."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_role_perm_cache"):
            held = Grant.objects.filter(role__members=user_obj).values_list(
                "permission__content_type__app_label", "permission__codename"
            )
            user_obj._role_perm_cache = {f"{app}.{codename}" for app, codename in held}
        return set(user_obj._role_perm_cache)

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)
