"""Finding jobs: the one set of filters the job list offers in the pages, the API and the CLI."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

from base.filters import DayFilter, FilterSet, OneOfFilter

from .models import Job

OUT_OF_ORDER = "The start date must not be after the end date."


class JobFilterForm(forms.Form):
    # The pages refuse a range that ends before it starts; the API and the CLI answer it with no jobs.
    dates_in_order = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("created_after"), cleaned.get("created_before")
        if self.dates_in_order and since and until and since > until:
            self.add_error("created_before", OUT_OF_ORDER)
        return cleaned


class JobFilter(FilterSet):
    """Jobs of a kind, in a state, with a title containing a text, created within inclusive dates
    (in the server's time zone). The API's parameter names; a page or the CLI passes its own values
    under them, with ``labels`` for how it calls them."""

    kind = django_filters.CharFilter(label="kind", strip=False)
    status = OneOfFilter(label="status", choices=Job.Status.values)
    search = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label="search")
    created_after = DayFilter(field_name="created_at", lookup_expr="gte", label="created_after")
    created_before = DayFilter(field_name="created_at", lookup_expr="lte", label="created_before")

    # A bad date has always been told before a bad status.
    problems_first = ("created_after", "created_before")

    class Meta:
        model = Job
        form = JobFilterForm
        fields: list[str] = []

    def __init__(self, *args: Any, dates_in_order: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dates_in_order = dates_in_order

    def get_form_class(self) -> type[forms.Form]:
        form_class: type[JobFilterForm] = super().get_form_class()
        form_class.dates_in_order = self.dates_in_order
        return form_class
