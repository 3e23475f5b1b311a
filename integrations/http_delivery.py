"""Outbound HTTP shared by the outbox's deliveries (CRM sync, webhooks): one place
that sends a request and sorts what can go wrong into "try again later"
(transient) and "this will never work" (permanent), signs JSON bodies, and
spaces out retries (the row life cycle is ``integrations.outbox``)."""

import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests

ERROR_TEXT_LIMIT = 2000
# Failures no retry can fix: the configured URL itself is unusable.
CONFIGURATION_ERRORS = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
)


class DeliveryError(Exception):
    """A target did not accept a delivery."""

    transient = False

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: int | None = None):
        super().__init__(message[:ERROR_TEXT_LIMIT])
        self.status_code = status_code
        self.retry_after = retry_after


class TransientDeliveryError(DeliveryError):
    """Timeouts, connection errors, 408, 429 and 5xx: the same request may work later."""

    transient = True


class PermanentDeliveryError(DeliveryError):
    """Other 4xx answers and answers we cannot use: retrying the same data won't help."""


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float

    def as_requests(self) -> tuple[float, float]:
        return (self.connect, self.read)


def send(session: requests.Session, method: str, url: str, *, timeouts: Timeouts, **kwargs: Any) -> requests.Response:
    """The 2xx response to the request; raises a ``DeliveryError`` otherwise.

    Redirects are not followed: an endpoint that moved is a configuration error.
    """
    try:
        response = session.request(method, url, timeout=timeouts.as_requests(), allow_redirects=False, **kwargs)
    except requests.Timeout as exc:
        raise TransientDeliveryError(f"Timed out: {exc}") from exc
    except requests.ConnectionError as exc:
        raise TransientDeliveryError(f"Connection failed: {exc}") from exc
    except CONFIGURATION_ERRORS as exc:
        raise PermanentDeliveryError(f"Request could not be made, check the target's URL: {exc}") from exc
    except requests.RequestException as exc:  # e.g. the connection dropped mid-answer
        raise TransientDeliveryError(f"Request failed: {exc}") from exc
    if 200 <= response.status_code < 300:
        return response
    raise error_for(response)


def error_for(response: requests.Response) -> DeliveryError:
    """The delivery error a non-2xx response stands for, with the response text."""
    message = f"HTTP {response.status_code} from {response.request.method} {response.url}: {response.text}"
    if response.status_code in (408, 429) or response.status_code >= 500:
        return TransientDeliveryError(message, status_code=response.status_code, retry_after=_retry_after(response))
    return PermanentDeliveryError(message, status_code=response.status_code)


def _retry_after(response: requests.Response) -> int | None:
    """Seconds from a Retry-After header given in seconds (HTTP dates are ignored)."""
    value = response.headers.get("Retry-After", "").strip()
    return int(value) if value.isdigit() else None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_json(payload: dict, *, secret: str) -> tuple[bytes, dict[str, str]]:
    """The compact JSON body and the headers that let a receiver check it: ``X-Leads-Timestamp``
    (Unix seconds, so it can refuse old replays) and ``X-Leads-Signature: sha256=<hex>``."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Leads-Timestamp": timestamp,
        "X-Leads-Signature": f"sha256={signature(secret, timestamp, body)}",
    }
    return body, headers


def backoff_delay(
    attempts: int, *, base_seconds: float, max_seconds: float, retry_after: int | None = None
) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: ``base_seconds * 2^(attempts-1)``
    capped at ``max_seconds``, with jitter (between half and all of the step) so failures
    don't retry in step; never shorter than the target's Retry-After (itself capped)."""
    step = min(max_seconds, base_seconds * 2 ** max(attempts - 1, 0))
    seconds = random.uniform(step / 2, step)
    if retry_after:
        seconds = max(seconds, min(retry_after, max_seconds))
    return timedelta(seconds=seconds)
