"""HTTP for the CRM clients: one place that sends a request and sorts what can go
wrong into "try again later" (transient) and "this will never work" (permanent)."""

from dataclasses import dataclass
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

    Redirects are not followed: a CRM endpoint that moved is a configuration error.
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
