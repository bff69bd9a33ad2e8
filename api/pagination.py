"""The API's pages: ``?page=`` is a whole number from 1, or the request is refused."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class Pages(PageNumberPagination):
    def get_page_number(self, request: Request, paginator: Paginator[Any]) -> int | str:
        given = request.query_params.get(self.page_query_param)
        if given is None:
            return 1
        if not (given.isascii() and given.isdigit() and 0 < int(given) < 2**63):
            raise ValidationError({"page": [f"page must be a whole number from 1, not '{given}'."]})
        return int(given)
