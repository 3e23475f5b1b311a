"""The direction of imports between layers (issue 17 §3), read from the source.

- ``leads/api/`` is the HTTP layer of the leads: pages, import, services and the
  integrations share the representations and input serializers of ``leads``
  (``leads.core.representations``, ``leads.core.inputs``), never the API's modules.
- ``leads`` is the lowest layer: nothing under ``leads/`` imports ``integrations``.

Every import counts, including those inside functions (where cycles hide). Tests are
left out: they drive the API on purpose.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("leads", "integrations", "leadmgmt")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, *, module: str, is_package: bool = False) -> set[str]:
    """Every module ``tree`` imports, absolute, wherever the import statement is.

    ``from a import b`` counts as ``a`` and ``a.b`` (``b`` may be a module).
    """
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def source_modules() -> dict[str, set[str]]:
    """{module: the modules it imports} for the app's code, tests left out."""
    graph = {}
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "tests" in path.relative_to(ROOT).parts:
                continue
            name = module_name(path)
            tree = ast.parse(path.read_text(), filename=str(path))
            graph[name] = imported_modules(tree, module=name, is_package=path.name == "__init__.py")
    return graph


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def is_http_layer(module: str) -> bool:
    """An API module: ``leads.api.*``, and the webhook endpoints in
    ``integrations.webhooks.api``, which are part of the same API (mounted under
    /api/v2 on the same base view, envelope, error shape and schema decorator)."""
    return "api" in module.split(".")


# The app's model registry (leads/models.py) imports every model module, the API's own
# (Idempotency-Key answers) included: Django finds an app's models only there.
REGISTERED_MODELS = {"leads.api.models", "leads.api.models.IdempotencyRecord"}


def test_only_the_http_layer_imports_the_leads_api():
    graph = source_modules()

    offenders = {
        module: sorted(
            name
            for name in imports
            if within(name, "leads.api") and not (module == "leads.models" and name in REGISTERED_MODELS)
        )
        for module, imports in graph.items()
        if not is_http_layer(module)
    }

    assert {module: names for module, names in offenders.items() if names} == {}
    # The check sees what is there: the API's own modules do import each other.
    assert "leads.api.envelope" in graph["leads.api.views"]


def test_nothing_under_leads_imports_integrations():
    graph = source_modules()

    offenders = {
        module: sorted(name for name in imports if within(name, "integrations"))
        for module, imports in graph.items()
        if within(module, "leads")
    }

    assert {module: names for module, names in offenders.items() if names} == {}


# --- the check can fail ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from leads.api.representations import lead_data", "leads.forms", "leads.api.representations"),
        ("from leads.api import views", "leads.forms", "leads.api.views"),
        ("import leads.api.errors", "integrations.crm.targets", "leads.api.errors"),
        (
            "def later():\n    from integrations.pipeline import lead_saved",
            "leads.core.services",
            "integrations.pipeline",
        ),
        ("from .api.schema import envelope", "leads.forms", "leads.api.schema"),
        ("from ..api import envelope", "leads.views.pages", "leads.api.envelope"),
    ],
)
def test_every_spelling_of_an_import_is_seen(source, module, expected):
    assert expected in imported_modules(ast.parse(source), module=module)


def test_a_package_init_resolves_relative_imports_from_itself():
    found = imported_modules(ast.parse("from .api import views"), module="leads", is_package=True)

    assert "leads.api.views" in found
