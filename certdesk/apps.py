from django.apps import AppConfig


class CertdeskConfig(AppConfig):
    name = "certdesk"
    verbose_name = "certdesk"
