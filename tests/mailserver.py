"""A real SMTP server for the tests (aiosmtpd), and what it received."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

BASE_URL = "https://certdesk.example.test"


@dataclass
class Delivered:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message it accepts, and refuses the addresses in ``refuse``
    as a real server refuses an unknown mailbox (550)."""

    messages: list[Delivered] = field(default_factory=list)
    port: int = 0
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings) -> Iterator[Collector]:
    """A real SMTP server on 127.0.0.1, and Django pointed at it."""
    collector = Collector()
    collector.port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=collector.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = collector.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    settings.CERTDESK_BASE_URL = BASE_URL
    try:
        yield collector
    finally:
        controller.stop()


def body_of(delivered: Delivered) -> str:
    return delivered.message.get_body(preferencelist=("plain",)).get_content()
