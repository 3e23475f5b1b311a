"""Routing writes. See the module docstrings of ``engine`` (routing a lead),
``offers`` (first to claim) and ``pond`` for the rules; this module is the public
face the API, the pages, the tasks and the admin call."""

from integrations.routing.arrivals import plan_routes, route_pending  # noqa: F401
from integrations.routing.engine import ensure_catch_all, route_lead  # noqa: F401
from integrations.routing.offers import (  # noqa: F401
    claim_offer,
    claim_offer_by_token,
    claim_token,
    expire_offers,
    offer_from_token,
    pass_offer,
    withdraw_unavailable_offers,
)
from integrations.routing.pond import take_from_pond  # noqa: F401
from integrations.routing.rules import (  # noqa: F401
    profile_update,
    rule_delete,
    rule_save,
    rules_reorder,
)
from integrations.routing.sla import handle_sla_breaches, on_sla_breach  # noqa: F401
