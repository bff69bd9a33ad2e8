from django.apps import AppConfig


class CertdeskConfig(AppConfig):
    name = "certdesk"
    verbose_name = "certdesk"

    def ready(self) -> None:
        from . import signin  # noqa: F401  (connects the sign-in audit receivers)
