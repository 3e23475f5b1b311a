"""The one port between ``leads`` and the integrations.

``leads`` imports no integration. Each integration plugs in here from its
``AppConfig.ready()``:

- ``subscribe(name, handler, urgent=False)``: receive every committed lead event (``leads.events``;
  ``urgent``: a new or reassigned lead's events come first, ahead of the other subscribers);
- ``provide_lead_page_section(name, provider)``: show ``provider(lead)`` on a lead's page
  (``"crm_sync"``: where the CRM sync stands; ``"routing"``: ``{"template", ...}``, a card
  the page includes with the dict as ``section``, the lead's routing trace);
- ``provide_manager_notices(name, provider)``: warn managers on the dashboard with
  ``provider()``'s items (``"failing_jobs"``: periodic jobs whose last run failed);
- ``provide_lead_fields(name, provider, related=..., stamp=...)``: fields of the lead's API
  representation that an integration fills (``"win_probability"``: the model's chance to
  close). ``related`` names reverse one-to-one relations the lead reads join in (so the
  provider costs no query), ``stamp`` the columns whose change makes a cached lead stale.

A page shows an empty state where nothing is provided.
"""

from collections.abc import Callable
from typing import Any

from leads.events.services import subscribe

__all__ = [
    "lead_detail_relations",
    "lead_fields",
    "lead_page_section",
    "lead_stamp_fields",
    "manager_notices",
    "provide_lead_fields",
    "provide_lead_page_section",
    "provide_manager_notices",
    "subscribe",
]

_lead_page_sections: dict[str, Callable[[Any], Any]] = {}
_manager_notices: dict[str, Callable[[], list]] = {}
_lead_fields: dict[str, tuple[Callable[[Any], dict], tuple[str, ...], tuple[str, ...]]] = {}


def provide_lead_page_section(name: str, provider: Callable[[Any], Any]) -> None:
    _lead_page_sections[name] = provider


def lead_page_section(name: str, lead) -> Any:
    """The named section of the lead's page, or None when no integration provides it."""
    provider = _lead_page_sections.get(name)
    return provider(lead) if provider is not None else None


def provide_manager_notices(name: str, provider: Callable[[], list]) -> None:
    _manager_notices[name] = provider


def manager_notices(name: str) -> list:
    """The named notices for managers ([] when no integration provides them)."""
    provider = _manager_notices.get(name)
    return provider() if provider is not None else []


def provide_lead_fields(
    name: str, provider: Callable[[Any], dict], *, related: tuple[str, ...] = (), stamp: tuple[str, ...] = ()
) -> None:
    _lead_fields[name] = (provider, tuple(related), tuple(stamp))


def lead_fields(name: str, lead) -> dict | None:
    """The named fields of the lead's representation, or None when no integration provides them."""
    entry = _lead_fields.get(name)
    return entry[0](lead) if entry is not None else None


def lead_detail_relations() -> list[str]:
    """The relations every detailed lead read joins in for the providers of lead fields."""
    return [relation for _, related, _ in _lead_fields.values() for relation in related]


def lead_stamp_fields() -> list[str]:
    """Lookups (``relation__column``) whose change makes a cached lead representation stale."""
    return [field for _, _, stamp in _lead_fields.values() for field in stamp]
