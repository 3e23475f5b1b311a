"""What the schemathesis run (test_api_fuzz.py) found, pinned as plain tests.

A batch item whose invalid input held a NUL character was echoed in the item's error
(``"x\\u0000" is not valid``, ``Keys not allowed: k\\u0000``, ``metadata.k\\u0000``);
with an Idempotency-Key that answer is stored, and PostgreSQL's jsonb refuses NUL:
a 500. Error field names and messages now show control characters as U+FFFD.
"""

import pytest

from leads.tests.api_assertions import LEADS_URL, assert_error

pytestmark = pytest.mark.django_db

CONTACT = {"first_name": "Nul", "email": "nul@example.com"}
ECHOING_INPUT = [
    {"contact": CONTACT, "lead_type": "x\u0000"},
    {"contact": CONTACT, "lead_type": "buyer", "metadata": {"k\u0000": "v"}},
    {"contact": CONTACT, "lead_type": "buyer", "metadata": {"k\u0000": 5}},
]


def assert_no_control_characters(fields: dict) -> None:
    for name, messages in fields.items():
        for text in (name, *messages):
            assert not any(ord(character) < 32 or ord(character) == 127 for character in text), text


@pytest.mark.parametrize("item", ECHOING_INPUT, ids=["choice", "metadata-key", "metadata-value"])
def test_a_batch_with_nul_in_invalid_items_is_answered_and_replayed(api_client, agent, item):
    client = api_client(agent)
    key = {"HTTP_IDEMPOTENCY_KEY": "nul-in-an-error-message"}

    first = client.post(f"{LEADS_URL}/batch", {"leads": [item]}, format="json", **key)
    replay = client.post(f"{LEADS_URL}/batch", {"leads": [item]}, format="json", **key)

    assert first.status_code == 200, first.content
    result = first.json()["results"][0]
    assert result["status"] == "error"
    assert_no_control_characters(result["errors"])
    assert "\ufffd" in "".join(name + "".join(messages) for name, messages in result["errors"].items())
    assert replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["results"] == first.json()["results"]


@pytest.mark.parametrize("item", ECHOING_INPUT, ids=["choice", "metadata-key", "metadata-value"])
def test_a_validation_error_never_echoes_control_characters(api_client, agent, item):
    response = api_client(agent).post(LEADS_URL, item, format="json")

    error = assert_error(response, 400, "validation_error")
    assert_no_control_characters(error["fields"])
