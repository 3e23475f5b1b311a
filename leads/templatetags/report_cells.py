"""A report's figure as the exports write it (``leads.reports.exports.cell_text``)."""

from django import template

from leads.reports.exports import cell_text

register = template.Library()


@register.filter
def cell(row: dict, column) -> str:
    """``{{ row|cell:column }}``: the row's value of a report column, formatted by kind."""
    key, kind = (column.key, column.kind) if hasattr(column, "key") else (column["key"], column.get("kind", "int"))
    return cell_text(row.get(key), kind)
