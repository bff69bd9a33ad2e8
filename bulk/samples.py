"""The template (header only) and example files offered for each job kind."""

from __future__ import annotations

import csv
import io

from .kind import JobKind


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def template_csv(kind: JobKind) -> bytes:
    return _csv([[c.name for c in kind.columns]])


def example_csv(kind: JobKind) -> bytes:
    return _csv([[c.name for c in kind.columns], *kind.example_rows()])


def template_filename(kind: JobKind) -> str:
    return f"{kind.slug}-template.csv"


def example_filename(kind: JobKind) -> str:
    return f"{kind.slug}-example.csv"


# The formats a template or example can be downloaded in, for the kinds that take them.
SAMPLE_FORMATS = {
    "csv": (".csv", "text/csv; charset=utf-8"),
    "txt": (".txt", "text/plain; charset=utf-8"),
    "xml": (".xml", "application/xml"),
    "xml-2003": (".xml", "application/xml"),
    "xlsx": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def sample_formats(kind: JobKind) -> list[str]:
    """The sample formats a kind takes: CSV always, and each other format its extensions allow."""
    offered = []
    for name, (extension, _) in SAMPLE_FORMATS.items():
        if extension in kind.extensions:
            offered.append(name)
    return offered


def sample_file(kind: JobKind, fmt: str, *, example: bool) -> tuple[bytes, str, str]:
    """The template (header only) or example of a kind in one format: (content, filename, content type)."""
    extension, content_type = SAMPLE_FORMATS[fmt]
    header = [c.name for c in kind.columns]
    rows = [header, *kind.example_rows()] if example else [header]
    stem = f"{kind.slug}-{'example' if example else 'template'}{'-2003' if fmt == 'xml-2003' else ''}"
    if fmt == "csv":
        content = _csv(rows)
    elif fmt == "txt":
        buffer = io.StringIO()
        csv.writer(buffer, delimiter="\t", lineterminator="\r\n").writerows(rows)
        content = buffer.getvalue().encode("utf-8")
    elif fmt == "xml":
        content = _plain_xml(header, rows[1:])
    elif fmt == "xml-2003":
        content = _spreadsheet_2003(rows)
    else:
        content = _xlsx(rows)
    return content, stem + extension, content_type


def _tag(name: str) -> str:
    return "-".join(name.lower().split())


def _plain_xml(header: list[str], rows: list[list[str]]) -> bytes:
    from xml.sax.saxutils import escape

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<rows>"]
    for row in rows or [[""] * len(header)]:
        fields = "".join(f"<{_tag(h)}>{escape(v)}</{_tag(h)}>" for h, v in zip(header, row, strict=False))
        lines.append(f"  <row>{fields}</row>")
    lines.append("</rows>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _spreadsheet_2003(rows: list[list[str]]) -> bytes:
    from xml.sax.saxutils import escape

    body = "".join(
        "<Row>" + "".join(f'<Cell><Data ss:Type="String">{escape(v)}</Data></Cell>' for v in row) + "</Row>"
        for row in rows
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<?mso-application progid="Excel.Sheet"?>\n'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">'
        f'<Worksheet ss:Name="Sheet1"><Table>{body}</Table></Worksheet></Workbook>\n'
    ).encode()


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sheet1")
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
