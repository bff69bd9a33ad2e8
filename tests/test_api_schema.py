"""The published API schema is the API: schemathesis sends generated requests to every operation
and checks each answer against the schema (status code, content type, body, headers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from base.problems import PUBLISHED_MESSAGES
from people.models import User

from .test_demo import demo_loaded

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()
# The same requests on every run (about 1,900, some 20 seconds): a failure is reproduced by running again.
schema.config.generation.update(deterministic=True, database="none")


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with demo_loaded(django_db_blocker):
        yield


# The superuser, who reaches every operation, and a division administrator, whose answers include
# the 403s and 404s of what is outside her permissions and her division.
@pytest.fixture(params=["admin", "alice"])
def token(request, demo, db) -> Iterator[str]:  # type: ignore[no-untyped-def]
    # As Django's test client does: a request's end must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield Token.objects.get_or_create(user=User.objects.get(username=request.param))[0].key
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# Refusals of input the schema allows that it cannot state: what a file holds (its format, columns and
# rows), whether a User ID, a licence type or an activity exists, whether the certification or the
# licence type needs an expiration date or a number, whether anybody was picked at all, and the rules
# across fields (an expiration date after the issue date, never with always valid; external training
# names its activity; a job is validated only or started, not both). Every other 400 to schema-valid input is a constraint the schema should state,
# and fails the test.
FACTS_OF_THE_DATA = {
    *PUBLISHED_MESSAGES,
    "unknown_user",
    "unknown_license",
    "unknown_external_activity",
    "nobody_picked",
    "number_required",
    "expiration_required",
    "expiration_before_issue",
    "expiration_with_always_valid",
    "external_activity_required",
    "validate_only_with_start",
}


@schema.parametrize()
@settings(
    max_examples=20, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_every_operation_answers_as_its_schema_says(case, token):  # type: ignore[no-untyped-def]
    answer = case.call_and_validate(
        headers={"Authorization": f"Token {token}"}, excluded_checks=[positive_data_acceptance]
    )
    if case.meta is not None and case.meta.generation.mode.is_positive and answer.status_code == 400:
        refused = {error["code"] for error in answer.json()["errors"] if error["row"] is None}
        assert refused <= FACTS_OF_THE_DATA, f"schema-valid input refused: {answer.json()['detail']}"
