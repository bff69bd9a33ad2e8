"""The filters of the licence list and of a certification's awarded users, one FilterSet each, shared
by the page and its API endpoint. What a user may see at all is narrowed before (``licences_in_reach``,
``awarded_users``); these only narrow further."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from access.policy import Scope, subtree_ids, within
from base.filters import FilterSet, IdFilter
from base.search import SHORTEST_INDEXED, printable
from people.search import PEOPLE_SEARCH, people_matching

from .models import LICENCE_NUMBER_SEARCH, Award, License

# A licence's state on a day; "expiring" within the ``days`` given beside it.
LICENCE_STATUSES = {"current": "Current", "expiring": "Expiring within", "expired": "Expired", "all": "All"}
EXPIRING_DAYS = 30

# An award's state: removed awards are kept, so "current" means held (active), expired or not.
AWARD_STATUSES = {
    "current": "Current holders (active and expired)",
    "active": "Active",
    "expiring": "Expiring within",
    "expired": "Expired",
    "removed": "Removed (unassigned)",
    "all": "All",
}


class DaysFilter(django_filters.Filter):
    field_class = forms.IntegerField


class _DatedFilterSet(FilterSet):
    """Statuses read against a day: today unless the caller gives the one it shows."""

    def __init__(self, *args: Any, today: dt.date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()


class LicenseFilter(_DatedFilterSet):
    """Licences of a type, of a user, in a state (expiring within some days), of the users of an org
    unit and its sub-units, or whose user's name or number contains a text."""

    license_code = django_filters.CharFilter(
        field_name="license_type__code", label="license_code", strip=False
    )
    username = django_filters.CharFilter(field_name="user__username", label="username", strip=False)
    status = django_filters.ChoiceFilter(
        label="status", choices=list(LICENCE_STATUSES.items()), method="in_state"
    )
    # Read by ``status`` ("expiring"); narrows nothing by itself.
    days = DaysFilter(label="days", min_value=1, max_value=3650, method="read_by_status")
    unit = IdFilter(label="unit", method="in_unit")
    search = django_filters.CharFilter(label="search", method="matching")

    class Meta:
        model = License
        fields: list[str] = []

    def in_state(self, licences: QuerySet[License], name: str, status: str) -> QuerySet[License]:
        today = self.today
        if status == "current":
            return licences.filter(Q(expiration_date__isnull=True) | Q(expiration_date__gte=today))
        if status == "expiring":
            days = self.form.cleaned_data.get("days") or EXPIRING_DAYS
            return licences.filter(
                expiration_date__gte=today, expiration_date__lte=today + dt.timedelta(days=days)
            )
        if status == "expired":
            return licences.filter(expiration_date__lt=today)
        return licences

    def read_by_status(self, licences: QuerySet[License], name: str, days: int) -> QuerySet[License]:
        return licences

    def in_unit(self, licences: QuerySet[License], name: str, unit_id: int) -> QuerySet[License]:
        # As EXISTS over each licence's holder's units, not a join: a join repeats a licence per unit
        # and needs DISTINCT, which sorts every licence of a division before the page.
        units = Scope(everywhere=False, units=frozenset(subtree_ids({unit_id})), groups=frozenset())
        return licences.filter(within(units, "user"))

    def matching(self, licences: QuerySet[License], name: str, text: str) -> QuerySet[License]:
        text = printable(text)
        if len(text) < SHORTEST_INDEXED:
            return licences.filter(people_matching(text, "user") | Q(number__icontains=text))
        # One set of ids, the holders' licences and the numbers' united: PostgreSQL plans an OR of two
        # IN subqueries as a scan of every licence.
        people, numbers = PEOPLE_SEARCH.ids_matching(text), LICENCE_NUMBER_SEARCH.ids_matching(text)
        union = f"SELECT id FROM {License._meta.db_table} WHERE user_id IN ({people.sql}) UNION {numbers.sql}"
        # both statements are the indexes' own; the text is a parameter
        matched = RawSQL(union, [*people.params, *numbers.params])  # noqa: S611
        return licences.filter(pk__in=matched)


class AwardFilter(_DatedFilterSet):
    """Awards in a state, or whose holder's User ID, username, first or last name contains a text."""

    status = django_filters.ChoiceFilter(
        label="status", choices=list(AWARD_STATUSES.items()), method="in_state"
    )
    # Read by ``status`` ("expiring"); narrows nothing by itself.
    days = DaysFilter(label="days", min_value=1, max_value=3650, method="read_by_status")
    search = django_filters.CharFilter(label="search", method="matching")

    class Meta:
        model = Award
        fields: list[str] = []

    def in_state(self, awards: QuerySet[Award], name: str, status: str) -> QuerySet[Award]:
        if status in ("current", "active", "expiring", "expired"):
            awards = awards.filter(status=Award.Status.ACTIVE)
        if status == "active":
            return awards.filter(Q(expiration_date__isnull=True) | Q(expiration_date__gte=self.today))
        if status == "expiring":
            days = self.form.cleaned_data.get("days") or EXPIRING_DAYS
            return awards.filter(
                expiration_date__gte=self.today, expiration_date__lte=self.today + dt.timedelta(days=days)
            )
        if status == "expired":
            return awards.filter(expiration_date__lt=self.today)
        if status == "removed":
            return awards.filter(status=Award.Status.REMOVED)
        return awards

    def read_by_status(self, awards: QuerySet[Award], name: str, days: int) -> QuerySet[Award]:
        return awards

    def matching(self, awards: QuerySet[Award], name: str, text: str) -> QuerySet[Award]:
        return awards.filter(people_matching(text, "user"))
