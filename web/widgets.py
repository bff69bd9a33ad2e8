"""Form widgets the pages share."""

from __future__ import annotations

from typing import Any

from django import forms

# Dates are typed and shown as the tables show them, YYYY-MM-DD, whatever the browser's language:
# a browser's date picker shows 03/04/2026, which reads as two different days in different countries.
ISO_DATE_ATTRS = {
    "type": "text",
    "inputmode": "numeric",
    "pattern": r"\d{4}-\d{2}-\d{2}",
    "placeholder": "YYYY-MM-DD",
    "autocomplete": "off",
}


class IsoDateInput(forms.DateInput):
    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={**ISO_DATE_ATTRS, **(attrs or {})}, format="%Y-%m-%d")
