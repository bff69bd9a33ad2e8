from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "credentials"
    verbose_name = "Certifications and licences"

    def ready(self) -> None:
        # The receiver of learning's completions connects when its module is imported, which can
        # only be once the app registry is ready (it imports models).
        from . import completions  # noqa: F401
