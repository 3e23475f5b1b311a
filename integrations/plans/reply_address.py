"""The Reply-To of plan emails: ``reply+<lead token>@PLANS_REPLY_DOMAIN``.

The token is the lead's public id and an HMAC of it (the project's secret, a salt of its
own), in lower-case hex only: mail systems may fold the case of an address's local part.
The inbound-mail webhook (``inbound``) reads the lead back from the address a reply was
sent to; a token that does not verify names no lead.
"""

import re

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

SALT = "integrations.plans.reply_address"
_ADDRESS = re.compile(r"reply\+(lead_[0-9a-f]{24})\.([0-9a-f]{32})@", re.IGNORECASE)


def _mac(public_id: str) -> str:
    return salted_hmac(SALT, public_id, algorithm="sha256").hexdigest()[:32]


def reply_address(public_id: str) -> str:
    return f"reply+{public_id}.{_mac(public_id)}@{settings.PLANS_REPLY_DOMAIN}"


def lead_id_from(addresses: str) -> str | None:
    """The lead public id of the first signed reply address in ``addresses`` (a To/Cc
    header's text), or None when none verifies."""
    for match in _ADDRESS.finditer(addresses or ""):
        public_id, mac = match.group(1).lower(), match.group(2).lower()
        if constant_time_compare(mac, _mac(public_id)):
            return public_id
    return None
