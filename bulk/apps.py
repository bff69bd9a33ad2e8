from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BulkConfig(AppConfig):
    name = "bulk"
    verbose_name = "Bulk jobs"

    def ready(self) -> None:
        # The handler loads the kinds, which import models: only possible once the app registry is ready.
        from .kind_permissions import create_kind_permissions

        # After bulk's own migrations (and auth's permissions for them), so only what is missing is created.
        post_migrate.connect(create_kind_permissions, sender=self, dispatch_uid="bulk.kind_permissions")
