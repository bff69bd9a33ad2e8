from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Importing the receivers connects them; they need the models, which exist only once apps are ready.
        from . import receivers  # noqa: F401
