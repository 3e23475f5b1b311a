"""HubSpot CRM v3 contacts, authenticated with a private app's access token.

A contact is found in this order: by the id HubSpot gave us last time (so a changed
email updates the same contact), else upserted by email (safe to repeat), else
created (a lead reachable by phone only).
"""

import requests
from django.conf import settings

from integrations.http_delivery import PermanentDeliveryError, Timeouts, send

CONTACTS_PATH = "/crm/v3/objects/contacts"
USER_AGENT = "leadmgmt-crm-sync/1"


class HubSpotClient:
    def __init__(self, *, base_url: str, access_token: str, timeouts: Timeouts):
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {access_token}", "Accept": "application/json", "User-Agent": USER_AGENT}
        )

    @classmethod
    def from_settings(cls) -> "HubSpotClient":
        return cls(
            base_url=settings.HUBSPOT_BASE_URL,
            access_token=settings.HUBSPOT_ACCESS_TOKEN,
            timeouts=Timeouts(connect=settings.HUBSPOT_CONNECT_TIMEOUT, read=settings.HUBSPOT_READ_TIMEOUT),
        )

    def close(self) -> None:
        self.session.close()

    def save_contact(self, *, properties: dict[str, str], contact_id: str = "") -> str:
        """Create or update the contact; returns its HubSpot id."""
        if contact_id:
            found = self.update_contact(contact_id, properties=properties)
            if found is not None:
                return found
        if properties.get("email"):
            return self.upsert_contact_by_email(properties=properties)
        return self.create_contact(properties=properties)

    def update_contact(self, contact_id: str, *, properties: dict[str, str]) -> str | None:
        """PATCH the contact; None when HubSpot no longer has it (deleted or merged away)."""
        try:
            response = self._call("PATCH", f"{CONTACTS_PATH}/{contact_id}", {"properties": properties})
        except PermanentDeliveryError as exc:
            if exc.status_code == 404:
                return None
            raise
        return _contact_id(response)

    def upsert_contact_by_email(self, *, properties: dict[str, str]) -> str:
        body = {"inputs": [{"id": properties["email"], "idProperty": "email", "properties": properties}]}
        response = self._call("POST", f"{CONTACTS_PATH}/batch/upsert", body)
        payload = _json(response)
        errors = payload.get("errors") or []
        results = payload.get("results") or []
        if errors or not results:
            raise PermanentDeliveryError(f"HubSpot upsert did not save the contact: {response.text}")
        return _contact_id(response, results[0])

    def create_contact(self, *, properties: dict[str, str]) -> str:
        return _contact_id(self._call("POST", CONTACTS_PATH, {"properties": properties}))

    def _call(self, method: str, path: str, body: dict) -> requests.Response:
        return send(self.session, method, f"{self.base_url}{path}", timeouts=self.timeouts, json=body)


def _json(response: requests.Response) -> dict:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise PermanentDeliveryError(f"HubSpot answered with something other than a JSON object: {response.text}")
    return payload


def _contact_id(response: requests.Response, item: dict | None = None) -> str:
    item = _json(response) if item is None else item
    contact_id = item.get("id") if isinstance(item, dict) else None
    if not contact_id:
        raise PermanentDeliveryError(f"HubSpot did not return a contact id: {response.text}")
    return str(contact_id)
