"""Checks shared by the API tests: the v2 envelope, the one error shape, and
"the request changed nothing"."""

from leads.models import Contact, Interaction, Lead, Preferences, StatusChange, Timeline

API_METADATA = {"source": "crm", "version": "2.0"}
LEADS_URL = "/api/v2/leads"


def lead_url(lead_id: str, *, interactions: bool = False) -> str:
    return f"{LEADS_URL}/{lead_id}/interactions" if interactions else f"{LEADS_URL}/{lead_id}"


def assert_envelope(body: dict) -> None:
    assert body["metadata"] == API_METADATA
    assert isinstance(body["processing_time"], float)
    assert 0 <= body["processing_time"] < 60


def assert_error(response, status: int, code: str, *, details: set[str] = frozenset()) -> dict:
    """The response is the API's one error shape with this status and code; returns ``error``.

    ``details``: the error-specific keys this error carries besides code, message and fields.
    """
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "metadata", "processing_time"}
    assert_envelope(body)
    error = body["error"]
    assert set(error) - {"code", "message", "fields"} == set(details)
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.content.decode()
    for name, messages in error.get("fields", {}).items():
        assert isinstance(name, str)
        assert messages and all(isinstance(message, str) for message in messages)
    return error


def db_snapshot() -> dict[str, list[dict]]:
    """Every row of the lead tables, to prove a rejected request wrote nothing."""
    models = (Lead, Contact, Preferences, Timeline, Interaction, StatusChange)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}
