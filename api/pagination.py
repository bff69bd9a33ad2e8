"""The API's pages: ``?page=`` is a whole number from 1, or the request is refused."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from base.paging import Paginator


class Pages(PageNumberPagination):
    """Numbered pages whose ``count`` is exact up to CERTDESK_EXACT_COUNT_ROWS (``count_exact`` says
    so); for a longer list it is a lower bound that still reaches a few pages past the one asked."""

    django_paginator_class = Paginator

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data = {
            "count": response.data["count"],
            "count_exact": getattr(self.page, "paginator", None) is None or self.page.paginator.exact,  # type: ignore[union-attr]
            **response.data,
        }
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        answer = super().get_paginated_response_schema(schema)
        answer["properties"] = {
            "count": answer["properties"]["count"],
            "count_exact": {
                "type": "boolean",
                "description": "False when the list is longer than the count, which then stops at a bound.",
            },
            **answer["properties"],
        }
        answer["required"] = [*answer.get("required", []), "count_exact"]
        return answer

    def get_page_number(self, request: Request, paginator: Any) -> int | str:
        given = request.query_params.get(self.page_query_param)
        if given is None:
            return 1
        if not (given.isascii() and given.isdigit() and 0 < int(given) < 2**63):
            raise ValidationError({"page": [f"page must be a whole number from 1, not '{given}'."]})
        return int(given)
