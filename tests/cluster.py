"""The scale-out path for real: Celery worker and beat processes started by the tests, against this
machine's Redis and RabbitMQ (or a redis-server a test starts on its own port), the test database
and a real SMTP server.

A service that cannot be reached skips its tests with the reason, except under ``CI=true``, where it
fails them: CI must show this path working, never skip it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from celery import Celery

from bulk import runner

from .mailserver import free_port
from .processes import CERTDESK, cli_env

CELERY = CERTDESK.parent / "celery"

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("CERTDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
RABBITMQ_URL = os.environ.get("CERTDESK_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
WAIT_SECONDS = 120
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

# Short enough that a test sees a dead worker replaced in seconds; the ratios are the defaults'.
FAST = {
    "CERTDESK_HEARTBEAT_SECONDS": "0.3",
    "CERTDESK_WORKER_ALIVE_SECONDS": "1.5",
    "CERTDESK_LEASE_SECONDS": "3",
    "CERTDESK_BROKER_VISIBILITY_SECONDS": "6",
    "CERTDESK_RESEND_AFTER_SECONDS": "2",
    "CERTDESK_WORKER_POLL_SECONDS": "0.2",
    "LOG_LEVEL": "INFO",
}


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    default_port = {"redis": 6379, "amqp": 5672}.get(parts.scheme, 0)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require(url: str, what: str) -> None:
    if reachable(url):
        return
    message = f"{what} is not reachable at {url.split('@')[-1]}"
    if IN_CI:
        pytest.fail(f"{message}: under CI=true the scale-out tests must run")
    pytest.skip(message)


def wait_for(predicate: Callable[[], object], what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}")


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test can stop and start again.
    Like the machine's, it keeps nothing on disk: a restart loses every message."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: reachable(self.url), "the test's redis-server to accept connections", 20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


@dataclass
class Cluster:
    """Celery workers and schedulers in subprocesses, all on one broker and one queue prefix."""

    broker_url: str
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def environment(self, **extra: str) -> dict[str, str]:
        return cli_env(
            CERTDESK_RUNNER="celery",
            CELERY_BROKER_URL=self.broker_url,
            CERTDESK_QUEUE_PREFIX=self.prefix,
            **FAST,
            **self.env,
            **extra,
        )

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, name: str, *args: str, program: Path = CERTDESK, **extra: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(
                [str(program), *args],
                env=self.environment(**extra),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stopped with its pool processes
            )
        self.processes[name] = process
        return process

    def start_worker(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        return self.start(name, "worker", "--name", f"{name}-{self.prefix}@%h", **extra)

    def start_celery_worker(self, name: str) -> subprocess.Popen[bytes]:
        """The plain ``celery -A certdesk worker`` an operator who knows Celery would run."""
        queues = ",".join(f"{self.prefix}.{q}" for q in ("jobs", "large", "schedule"))
        return self.start(
            name,
            "-A",
            "certdesk",
            "worker",
            "-Q",
            queues,
            "-c",
            "1",
            "-n",
            f"{name}-{self.prefix}@%h",
            program=CELERY,
        )

    def start_scheduler(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        return self.start(name, "scheduler", "--state", str(self.logs / f"{name}.state"), **extra)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def sender(self) -> Celery:
        """A Celery app of the test process's own, sending to this cluster's broker."""
        app = Celery("certdesk-tests", broker=self.broker_url)
        app.conf.broker_connection_timeout = 2
        return app


@pytest.fixture
def celery_cluster_factory(settings, tmp_path: Path) -> Iterator[Callable[[str], Cluster]]:
    """Make a cluster on a broker; the test process starts jobs through the Celery runner too."""
    made: list[Cluster] = []
    settings.CERTDESK_RUNNER = "celery"
    settings.CERTDESK_WORKER_ALIVE_SECONDS = float(FAST["CERTDESK_WORKER_ALIVE_SECONDS"])
    settings.CERTDESK_RESEND_AFTER_SECONDS = int(FAST["CERTDESK_RESEND_AFTER_SECONDS"])

    def make(broker_url: str) -> Cluster:
        logs = tmp_path / f"cluster-{len(made)}"
        logs.mkdir()
        cluster = Cluster(broker_url, logs)
        settings.CERTDESK_QUEUE_PREFIX = cluster.prefix
        runner.install(runner.CeleryRunner(cluster.sender()))
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.stop_all()
        runner.install(runner.NoRunner())
