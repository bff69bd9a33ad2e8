"""The permission each registered kind declares, created when it does not exist yet.

The four first kinds' permissions came with migrations (``Job.Meta``, the credentials models); a kind
added later needs none: after ``migrate`` (and after a test database is flushed) every permission a
kind names is created, on the Job content type for ``bulk.…`` and on a model of the app it names
otherwise. Existing permissions are left as they are.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, router

from .models import Job
from .registry import all_kinds


def create_kind_permissions(using: str = DEFAULT_DB_ALIAS, apps: Apps = global_apps, **kwargs: Any) -> int:
    """Create the missing permissions of the registered kinds; returns how many were created."""
    try:
        permission_model = apps.get_model("auth", "Permission")
        content_type_model = apps.get_model("contenttypes", "ContentType")
    except LookupError:  # a migration plan without auth or contenttypes: nothing to grant yet
        return 0
    if not router.allow_migrate_model(using, permission_model):
        return 0
    wanted = {}
    for kind in all_kinds():
        app_label, _, codename = kind.permission.partition(".")
        wanted[(app_label, codename)] = kind.permission_name or kind.tool_name
    existing = set(
        permission_model.objects.using(using)
        .filter(codename__in={codename for _, codename in wanted})
        .values_list("content_type__app_label", "codename")
    )
    missing = [
        permission_model(
            codename=codename,
            name=name[:255],
            content_type=content_type_model.objects.db_manager(using).get_for_model(_model_of(app_label)),
        )
        for (app_label, codename), name in wanted.items()
        if (app_label, codename) not in existing
    ]
    permission_model.objects.using(using).bulk_create(missing)
    return len(missing)


def _model_of(app_label: str) -> type:
    """The model whose content type carries a new permission of ``app_label``."""
    if app_label == Job._meta.app_label:
        return Job
    try:
        models = list(global_apps.get_app_config(app_label).get_models())
    except LookupError:
        models = []
    if not models:
        raise ImproperlyConfigured(
            f"A job kind's permission names the app '{app_label}', which is not an installed app with models."
        )
    return models[0]
