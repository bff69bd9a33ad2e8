"""What every list's FilterSet shares: parameters named as each surface names them, dates written one
way only, ids and exact values taken as given, and the first problem as the answer.

A list has one FilterSet (``bulk.filters.JobFilter``, ``credentials.filters.LicenseFilter``, …) used by
its page, its API endpoint and the CLI alike. Each surface hands it the parameters it offers, under the
FilterSet's names; ``labels`` says how that surface calls them, so that a problem reads "Start date
must be …" on the page, "created_after must be …" in the API and "--since must be …" in the CLI.
What a user may see at all (their scope) is narrowed before, by the caller; a FilterSet only narrows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.utils import timezone

# The largest id a query parameter may name: a bigint.
MAX_ID = 2**63 - 1


class BadFilter(ValueError):
    """A list's parameter that cannot be understood; the message names it as the caller wrote it."""

    def __init__(self, message: str, parameter: str = "") -> None:
        super().__init__(message)
        self.parameter = parameter


class IsoDateField(forms.Field):
    """A date written as YYYY-MM-DD and nothing else: day and month in another order read differently
    in different countries."""

    def to_python(self, value: Any) -> dt.date | None:
        # Absent is no date; given empty, it is not one either (a page passes None for a blank box).
        if value is None:
            return None
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(
                "%(label)s must be a date as YYYY-MM-DD, not '%(value)s'.",
                code="invalid",
                params={"label": self.label, "value": value},
            ) from None


class DayFilter(django_filters.Filter):
    """A date narrowing a datetime column to the days from it (``lookup_expr="gte"``) or up to it,
    inclusive (``"lte"``), in the server's time zone.

    Written as a range on the column itself, not on its date, so that an index on the column serves it.
    """

    field_class = IsoDateField

    def filter(self, qs: QuerySet[Any], value: dt.date | None) -> QuerySet[Any]:
        if value is None:
            return qs
        tz = timezone.get_current_timezone()
        if self.lookup_expr == "gte":
            return qs.filter(
                **{f"{self.field_name}__gte": dt.datetime.combine(value, dt.time.min, tzinfo=tz)}
            )
        following = dt.datetime.combine(value + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        return qs.filter(**{f"{self.field_name}__lt": following})


class IdField(forms.Field):
    """A row's id: a whole number from 1. Given empty, it is no id either (absent, it is no filter)."""

    def to_python(self, value: Any) -> int | None:
        if value is None:
            return None
        text = str(value)
        number = int(text) if text.isascii() and text.isdigit() and len(text) < 20 else 0
        if not 0 < number <= MAX_ID:
            raise ValidationError(
                "'%(value)s' is not an id (a whole number from 1).", code="invalid", params={"value": text}
            )
        return number


class IdFilter(django_filters.Filter):
    field_class = IdField

    def filter(self, qs: QuerySet[Any], value: int | None) -> QuerySet[Any]:
        return qs if value is None else super().filter(qs, value)


class ExactFilter(django_filters.Filter):
    """Rows whose field is the parameter exactly, as given (an empty parameter matches an empty value);
    absent, no narrowing."""

    field_class = forms.Field

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value is None:
            return qs
        return self.get_method(qs)(**{f"{self.field_name}__{self.lookup_expr}": value})


class OneOfField(forms.Field):
    """A value from a fixed list, exactly as listed; anything else, empty too, is a problem that names
    the choices (absent, it is no filter)."""

    def __init__(self, *, choices: list[str], **kwargs: Any) -> None:
        self.choices = choices
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str | None:
        if value is None:
            return None
        if value not in self.choices:
            raise ValidationError(
                "%(label)s must be one of %(choices)s, not '%(value)s'.",
                code="invalid_choice",
                params={"label": self.label, "choices": ", ".join(self.choices), "value": value},
            )
        return str(value)


class OneOfFilter(ExactFilter):
    field_class: type[forms.Field] = OneOfField


class FilterSet(django_filters.FilterSet):
    """A django-filter FilterSet whose problems name its parameters as the calling surface does."""

    # Parameters whose problems are told before the others', whatever order the filters apply in.
    problems_first: tuple[str, ...] = ()

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        queryset: QuerySet[Any] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__(data, queryset, request=request, prefix=prefix)
        for name, label in (labels or {}).items():
            self.filters[name].label = label
            # A field made before the label changed (a schema generator may have asked) would keep the old one.
            self.filters[name].__dict__.pop("_field", None)

    def problems(self) -> list[tuple[str, str]]:
        """(parameter, message) for everything wrong with the parameters: ``problems_first``, then in
        the order the filters are declared, then what concerns several of them."""
        errors = self.errors
        names = dict.fromkeys([*self.problems_first, *self.filters, NON_FIELD_ERRORS])
        return [(name, str(message)) for name in names for message in errors.get(name, [])]

    def narrowed(self) -> QuerySet[Any]:
        """The rows the parameters leave, or BadFilter with the first problem."""
        problems = self.problems()
        if problems:
            name, message = problems[0]
            raise BadFilter(message, name)
        return self.qs
