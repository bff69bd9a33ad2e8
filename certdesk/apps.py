from django.apps import AppConfig


class CertdeskConfig(AppConfig):
    name = "certdesk"
    verbose_name = "certdesk"

    def ready(self) -> None:
        # Django's way to connect signal receivers: once the apps are loaded (axes' models with them).
        from . import signin  # noqa: F401
