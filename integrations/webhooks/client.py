"""Sending one webhook: a signed JSON POST (``http_delivery``) over a session that
refuses to talk to a non-public address, checked on the socket it actually
connected, so DNS rebinding between our check and the connection does not help."""

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from integrations.http_delivery import PermanentDeliveryError, Timeouts, TransientDeliveryError, send, signed_json
from integrations.webhooks.url_safety import (
    address_problem,
    address_rule_problem,
    private_targets_allowed,
    url_shape_problem,
)

USER_AGENT = "leadmgmt-webhooks/1"


class RefusedAddress(Exception):
    """The connection reached a non-public address. Deliberately not an ``OSError``,
    so neither urllib3 nor requests retries it or mistakes it for a network fault."""


class _PeerCheckedConnection:
    def _new_conn(self):
        sock = super()._new_conn()
        if not private_targets_allowed():
            problem = address_problem(sock.getpeername()[0].split("%")[0])
            if problem:
                sock.close()
                raise RefusedAddress(f"Connected to {problem}; webhooks only go to public addresses.")
        return sock


class _PeerCheckedHTTPConnection(_PeerCheckedConnection, HTTPConnection):
    pass


class _PeerCheckedHTTPSConnection(_PeerCheckedConnection, HTTPSConnection):
    pass


class _PeerCheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _PeerCheckedHTTPConnection


class _PeerCheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _PeerCheckedHTTPSConnection


class PublicAddressesAdapter(HTTPAdapter):
    """An adapter whose connections check the address they reached before sending a byte."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PeerCheckedHTTPConnectionPool,
            "https": _PeerCheckedHTTPSConnectionPool,
        }


def guarded_session() -> requests.Session:
    """A session for webhook targets: no proxies from the environment (the checked peer
    must be the target itself) and every connection's address checked."""
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    adapter = PublicAddressesAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def post_webhook(*, url: str, secret: str, payload: dict, headers: dict[str, str]) -> int:
    """POST ``payload`` as signed JSON with ``headers`` added; returns the 2xx status.

    Raises a ``http_delivery.DeliveryError``: permanent when the URL is (now) refused,
    transient when its host does not resolve right now.
    """
    try:
        problem = url_shape_problem(url) or address_rule_problem(url)
    except OSError as error:
        raise TransientDeliveryError(f"Could not resolve the host of {url}: {error}") from error
    if problem:
        raise PermanentDeliveryError(f"Refused {url}: {problem}")
    body, signed_headers = signed_json(payload, secret=secret)
    timeouts = Timeouts(connect=settings.WEBHOOKS_CONNECT_TIMEOUT, read=settings.WEBHOOKS_READ_TIMEOUT)
    with guarded_session() as session:
        try:
            response = send(session, "POST", url, timeouts=timeouts, data=body, headers={**headers, **signed_headers})
        except RefusedAddress as error:
            raise PermanentDeliveryError(f"Refused {url}: {error}") from error
    return response.status_code
