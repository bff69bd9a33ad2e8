"""``certdesk serve``: the web server, with a job worker thread inside it (the embedded default)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.core.wsgi import get_wsgi_application
from gunicorn.app.base import BaseApplication

from bulk.runner import ThreadRunner, install
from certdesk.schedule import schedules


def _start_worker_thread(worker: Any) -> None:
    # The embedded worker runs the schedule too: renewal reminders go out with nothing else installed.
    runner = ThreadRunner(schedules())
    install(runner)
    runner.start()


class EmbeddedServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Loaded in the server's worker process, after it forks, as gunicorn expects.
        return get_wsgi_application()


class Command(BaseCommand):
    help = "Serve certdesk on http://HOST:PORT with an in-process job worker and schedule (when CERTDESK_RUNNER=thread, the default)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8, help="Request threads (default 8).")

    def handle(self, *args: Any, host: str, port: int, threads: int, **options: Any) -> None:
        config: dict[str, Any] = {
            "bind": f"{host}:{port}",
            "workers": 1,  # one process: the job worker thread lives in it
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "timeout": 120,
        }
        if settings.CERTDESK_RUNNER == "thread":
            config["post_worker_init"] = _start_worker_thread
        self.stdout.write(f"certdesk on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs/)")
        EmbeddedServer(config).run()
