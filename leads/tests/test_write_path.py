"""One write path: no module but ``leads.core.writes`` (new versions) and ``leads.core.bookkeeping``
(the after-save work's own columns) saves a Lead, Contact, Preferences or Timeline.

Read from the source, like Zulip's lint against bare lookups: a save, update, create or
delete reached from one of these models' managers, a ``.save()``/``.delete()`` on a
variable that holds one, or SQL that writes their tables, anywhere else fails here.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("leads", "integrations", "leadmgmt")
ALLOWED = {"leads/core/writes.py", "leads/core/bookkeeping.py"}
MODELS = {"Lead", "Contact", "Preferences", "Timeline"}
# Names that hold one of those rows in this code base (a lead and its parts).
INSTANCES = {"lead", "contact", "preferences", "timeline", "primary", "duplicate", "part"}
WRITE_METHODS = {
    "save",
    "delete",
    "update",
    "bulk_update",
    "bulk_create",
    "create",
    "get_or_create",
    "update_or_create",
}
SQL_WRITE = re.compile(
    r"\b(insert\s+into|update|delete\s+from)\s+\"?(leads_lead|leads_contact|leads_preferences|leads_timeline)\b",
    re.IGNORECASE,
)


def source_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "/migrations/" in relative or relative in ALLOWED:
                continue
            files.append(path)
    return files


def _root_name(node: ast.AST) -> str | None:
    """The name a chain like ``Lead.objects.filter(...).update`` starts from."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _holder_name(node: ast.AST) -> str | None:
    """``lead`` for ``lead.save``, ``contact`` for ``lead.contact.save``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def lead_writes_in(source: str) -> list[tuple[int, str]]:
    """The places in ``source`` that write one of the lead's rows: (line, what)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITE_METHODS:
            method, owner = node.func.attr, node.func.value
            through_manager = _root_name(owner) in MODELS and "objects" in ast.unparse(owner)
            on_instance = method in ("save", "delete") and _holder_name(owner) in INSTANCES
            if through_manager or on_instance:
                found.append((node.lineno, ast.unparse(node.func)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_WRITE.search(node.value):
            found.append((node.lineno, " ".join(node.value.split())[:60]))
    return found


def test_no_module_outside_the_write_path_writes_a_lead():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in source_files()
        for line, what in lead_writes_in(path.read_text())
    ]
    assert offenders == [], "write leads through leads.core.writes (or leads.core.bookkeeping):\n" + "\n".join(
        offenders
    )


@pytest.mark.parametrize(
    "source",
    [
        "Lead.objects.filter(pk=1).update(status='lost')",
        "Contact.objects.create(lead=lead, first_name='x')",
        "Preferences.objects.bulk_update(rows, ['min_price'])",
        "Timeline.objects.filter(lead=lead).delete()",
        "lead.save()",
        "lead.contact.save(update_fields=['email'])",
        "duplicate.delete()",
        "cursor.execute('UPDATE leads_lead SET status = %s', ['lost'])",
        "cursor.execute('insert into leads_contact (lead_id) values (1)')",
    ],
)
def test_the_lint_finds_each_way_of_writing_a_lead(source):
    assert lead_writes_in(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "Lead.objects.filter(pk=1).exists()",
        "lead.refresh_from_db()",
        "task.save(update_fields=['due_at'])",
        "Interaction.objects.create(lead=lead, summary='x')",
        "cursor.execute('SELECT status FROM leads_lead')",
        "record.save()",
    ],
)
def test_the_lint_leaves_other_code_alone(source):
    assert lead_writes_in(source) == []
