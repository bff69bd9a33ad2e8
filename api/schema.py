"""The API's published description (drf-spectacular): each operation lists every status it can
answer with, the refusals included, in the shapes ``api.errors`` gives them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from base.problems import CONTROL_CHARACTERS_CLASS


class ProblemSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="What is wrong, for programs: unknown_user, invalid_date, …")
    message = serializers.CharField(help_text="What is wrong, for people")
    row = serializers.IntegerField(allow_null=True, help_text="The file's row (1 is the header), if any")
    column = serializers.CharField(allow_null=True, help_text="The column or field, if any")
    value = serializers.CharField(allow_null=True, help_text="The value refused, if any")


class ProblemsSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="The problems in one sentence")
    # DRF removes declared fields from the class, so this does not shadow Serializer.errors at run time.
    errors = ProblemSerializer(  # type: ignore[assignment]
        many=True, help_text="Every problem, up to CERTDESK_MAX_LISTED_PROBLEMS"
    )
    errors_total = serializers.IntegerField(help_text="How many problems were found")
    errors_not_shown = serializers.IntegerField(help_text="How many of them are not listed")


class RefusalSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


PROBLEMS = "The request, or its file, cannot stand: every problem with its row, column and value."
REFUSALS = {
    "401": "Not signed in: send `Authorization: Token <key>` (POST /api/v1/auth/token/) or a session.",
    "403": "Signed in, but without the permission this needs.",
    "404": "Nothing with this address within your reach (also: a page number past the last page).",
    "415": "The body's Content-Type is not one this operation reads.",
}
RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again"}
}


class CertdeskAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code, answer in self.refusals().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(answer, code, direction=direction)
        if "429" in responses:
            responses["429"].setdefault("headers", {}).update(RETRY_AFTER)
        return responses

    def refusals(self) -> dict[str, OpenApiResponse]:
        """The refusals this operation can meet; the view's own answers (409 and the like) are its own."""
        codes = {"400": OpenApiResponse(ProblemsSerializer, description=PROBLEMS)}
        public = all(isinstance(p, AllowAny) for p in self.view.get_permissions())
        wanted = [] if public else ["401", "403"]
        if "{" in self.path or (self.method == "GET" and self._is_list_view() and self._get_paginator()):
            wanted.append("404")
        if self.method in ("POST", "PUT", "PATCH"):
            wanted.append("415")
        codes.update(
            {code: OpenApiResponse(RefusalSerializer, description=REFUSALS[code]) for code in wanted}
        )
        codes["429"] = OpenApiResponse(
            RefusalSerializer, description="Too many requests (or sign-ins locked out): see Retry-After."
        )
        return codes


# What the request middleware refuses in any text (base.problems.CONTROL_CHARACTERS), as a pattern that
# reads the same in Python and in a JSON Schema (ECMA) regular expression.
CONTROL = "".join(c if c == "-" else f"\\u{ord(c):04x}" for c in CONTROL_CHARACTERS_CLASS)
NO_CONTROL_CHARACTERS = f"^[^{CONTROL}]*$"
LARGEST_ID = 2**63 - 1


def describe_inputs(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing: the rules every input meets, written into the schema.

    Text holds no control character; an id or page number is a whole number from 1 that fits a
    bigint; a request body takes only the fields it names (the API refuses the others).
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
            for field in component.get("properties", {}).values():
                _constrain(field)
    for operation in (op for item in result.get("paths", {}).values() for op in item.values()):
        for parameter in operation.get("parameters", []):
            _constrain(parameter.get("schema", {}))
        for media in operation.get("requestBody", {}).get("content", {}).values():
            body = media.get("schema", {})
            if body.get("type") == "object":
                body["additionalProperties"] = False
                for field in body.get("properties", {}).values():
                    _constrain(field)
    return result


def _constrain(schema: dict[str, Any]) -> None:
    if schema.get("type") == "array":
        _constrain(schema.get("items", {}))
    elif schema.get("type") == "string" and "format" not in schema and "enum" not in schema:
        schema.setdefault("pattern", NO_CONTROL_CHARACTERS)
    elif schema.get("type") == "integer":
        schema["minimum"] = max(schema.get("minimum", 1), 1)
        schema["maximum"] = min(schema.get("maximum", LARGEST_ID), LARGEST_ID)
