"""A signed JSON webhook.

Each request carries ``X-Leads-Timestamp`` (Unix seconds) and ``X-Leads-Signature:
sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` under the shared secret,
so a receiver can check the sender and refuse replays of old requests; and an
``Idempotency-Key`` that stays the same for every retry of one lead version.
"""

import requests
from django.conf import settings

from integrations.http_delivery import Timeouts, send, signed_json

USER_AGENT = "leadmgmt-crm-sync/1"


class WebhookClient:
    def __init__(self, *, url: str, secret: str, timeouts: Timeouts):
        self.url = url
        self.secret = secret
        self.timeouts = timeouts
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    @classmethod
    def from_settings(cls) -> "WebhookClient":
        return cls(
            url=settings.CRM_WEBHOOK_URL,
            secret=settings.CRM_WEBHOOK_SECRET,
            timeouts=Timeouts(connect=settings.CRM_WEBHOOK_CONNECT_TIMEOUT, read=settings.CRM_WEBHOOK_READ_TIMEOUT),
        )

    def close(self) -> None:
        self.session.close()

    def post_event(self, *, payload: dict, idempotency_key: str) -> None:
        """POST ``payload`` as signed JSON; raises a ``DeliveryError`` unless the answer is 2xx."""
        body, headers = signed_json(payload, secret=self.secret)
        headers["Idempotency-Key"] = idempotency_key
        send(self.session, "POST", self.url, timeouts=self.timeouts, data=body, headers=headers)
