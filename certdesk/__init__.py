"""certdesk: bulk certification, enrolment and licence changes for learning platforms."""

# Loaded with Django, so that starting a job can send it to Celery from any process.
from .celery import app as celery_app

__all__ = ["celery_app"]
