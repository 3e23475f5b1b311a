"""The one port between ``leads`` and the integrations.

``leads`` imports no integration. Each integration plugs in here from its
``AppConfig.ready()``:

- ``subscribe(name, handler)``: receive every committed lead event (``leads.events``);
- ``provide_lead_page_section(name, provider)``: show ``provider(lead)`` on a lead's page
  (``"crm_sync"``: where the CRM sync stands; ``"routing"``: ``{"template", ...}``, a card
  the page includes with the dict as ``section``, the lead's routing trace);
- ``provide_manager_notices(name, provider)``: warn managers on the dashboard with
  ``provider()``'s items (``"failing_jobs"``: periodic jobs whose last run failed).

A page shows an empty state where nothing is provided.
"""

from collections.abc import Callable
from typing import Any

from leads.events.services import subscribe

__all__ = [
    "lead_page_section",
    "manager_notices",
    "provide_lead_page_section",
    "provide_manager_notices",
    "subscribe",
]

_lead_page_sections: dict[str, Callable[[Any], Any]] = {}
_manager_notices: dict[str, Callable[[], list]] = {}


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
