"""A real S3 endpoint for the tests: moto's standalone server, in a process of its own speaking HTTP on
127.0.0.1, and certdesk's default storage pointed at a fresh bucket in it.

moto is a dev dependency, so it is always installed: a server that does not start fails the tests
that need it, it never skips them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from certdesk.filestorage import s3_storage

from .mailserver import free_port

START_SECONDS = 30
REGION = "us-east-1"
# moto accepts any credentials; these are only what boto3 signs with.
ACCESS_KEY = "certdesk-test-key"
SECRET_KEY = "certdesk-test-secret"
PREFIX = "certdesk"


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen[bytes]
    log: Any

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(signature_version="s3v4"),
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@dataclass
class Bucket:
    """A bucket certdesk's default storage writes to, with what a certdesk process needs to do the same."""

    name: str
    server: S3Server

    def objects(self) -> list[str]:
        """The keys of every object in the bucket."""
        listing = self.server.client().list_objects_v2(Bucket=self.name)
        return sorted(entry["Key"] for entry in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.server.client().get_object(Bucket=self.name, Key=key)["Body"].read()

    def env(self) -> dict[str, str]:
        """The environment that points a certdesk process (a worker, the CLI) at this bucket."""
        return {
            "CERTDESK_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": self.server.endpoint_url,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "CERTDESK_S3_PREFIX": PREFIX,
        }


def _start_once() -> S3Server | None:
    """Start moto's server on a free port; None when the port was taken before the server bound it."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by stop(), with the server)
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = S3Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if "Address already in use" in server.output():
                log.close()
                return None
            pytest.fail(f"moto's S3 server exited with {process.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=2) as answer:  # noqa: S310 - our own server on 127.0.0.1
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet
        time.sleep(0.05)
    stop(server)
    pytest.fail(f"moto's S3 server did not answer within {START_SECONDS} s:\n{server.output()}")


def start() -> S3Server:
    for _ in range(5):
        server = _start_once()
        if server is not None:
            return server
    pytest.fail("moto's S3 server found no free port on 127.0.0.1 in five tries")


def stop(server: S3Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    server.log.close()


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server for the module's tests; stopped when the module is done."""
    server = start()
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture
def s3_bucket(s3_server: S3Server, settings) -> Bucket:
    """A new bucket, and certdesk's default storage in it (under the key prefix PREFIX).

    Setting STORAGES through the ``settings`` fixture sends ``setting_changed``, and Django's own
    receiver (django.test.signals.storages_changed) then empties the cache of storage backends and
    resets ``default_storage``; the fixture's undo at the end of the test does the same again."""
    bucket = Bucket(f"certdesk-{uuid.uuid4().hex[:12]}", s3_server)
    s3_server.client().create_bucket(Bucket=bucket.name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage(
            bucket=bucket.name,
            endpoint_url=s3_server.endpoint_url,
            region=REGION,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            prefix=PREFIX,
            max_memory_bytes=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
        ),
    }
    settings.CERTDESK_STORAGE = "s3"
    return bucket
