"""A report as CSV (its table, and the stuck leads or the funnel's breakdown) and as
PDF (title, filters, table and notes; drawn by fpdf2)."""

import csv
import io
from decimal import Decimal
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from leads.reports.base import Column, Report, plain


def cell_text(value: Any, kind: str) -> str:
    """A figure as the pages show it."""
    if value is None:
        return "\u2013"  # an en dash
    if kind == "percent":
        return f"{value:.1f}%"
    if kind == "money":
        return f"${Decimal(value):,.2f}"
    if kind == "ratio":
        return f"{Decimal(value):.2f}x"
    if kind == "int":
        return f"{value:,}"
    return str(value)


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"# {report.title}", report.filters.describe()])
    writer.writerow([column.label for column in report.columns])
    for row in report.rows:
        writer.writerow([_csv_value(row.get(column.key)) for column in report.columns])
    if report.name == "funnel":
        columns = report.extra["breakdown_columns"]
        writer.writerow([])
        writer.writerow([column["label"] for column in columns])
        for row in report.extra["breakdown"]:
            writer.writerow([_csv_value(row.get(column["key"])) for column in columns])
    if report.name == "stages":
        writer.writerow([])
        writer.writerow(["Stuck lead", "Lead id", "Status", "Agent", "In stage since (UTC)", "Days"])
        for row in report.extra["stuck"]:
            writer.writerow([_csv_value(row[key]) for key in ("name", "lead_id", "status", "agent", "since", "days")])
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    value = plain(value)
    text = "" if value is None else str(value)
    # A cell a spreadsheet would run as a formula is written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_pdf(report: Report) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(report.title)
    pdf.set_creator("Lead desk")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _latin(report.filters.describe()), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _table(pdf, report.columns, report.rows)
    if report.name == "funnel" and report.extra["breakdown"]:
        pdf.ln(4)
        columns = [
            Column(column["key"], column["label"], column["kind"]) for column in report.extra["breakdown_columns"]
        ]
        _table(pdf, columns, report.extra["breakdown"])
    if report.name == "stages" and report.extra["stuck"]:
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 8, f"Stuck leads ({report.extra['stuck_total']})", new_x="LMARGIN", new_y="NEXT")
        columns = [
            Column("name", "Lead", "text"),
            Column("status", "Status", "text"),
            Column("agent", "Agent", "text"),
            Column("days", "Days in stage"),
        ]
        _table(pdf, columns, report.extra["stuck"])
    pdf.ln(4)
    pdf.set_font("Helvetica", "I", 9)
    for note in report.notes:
        pdf.multi_cell(0, 5, _latin(note), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _table(pdf: FPDF, columns: list[Column], rows: list[dict]) -> None:
    pdf.set_font("Helvetica", "", 8)
    aligns = tuple("LEFT" if column.kind == "text" else "RIGHT" for column in columns)
    with pdf.table(headings_style=FontFace(emphasis="BOLD", fill_color=(230, 234, 245)), text_align=aligns) as table:
        heading = table.row()
        for column in columns:
            heading.cell(_latin(column.label))
        for row in rows:
            cells = table.row()
            for column in columns:
                cells.cell(_latin(cell_text(row.get(column.key), column.kind)))


def _latin(text: str) -> str:
    """The core PDF fonts speak Latin-1: other characters become their nearest."""
    text = text.replace("\u2013", "-").replace("\u00f7", "/")
    return text.encode("latin-1", "replace").decode("latin-1")
