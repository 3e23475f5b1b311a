"""Sending one webhook: a signed JSON POST (``http_delivery``) over a session that
refuses to talk to a non-public address, checked on the socket it actually
connected, so DNS rebinding between our check and the connection does not help."""

from collections.abc import Callable

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
    # Whether a non-public peer is let through (a setting read at connect time).
    allows_private: Callable[[], bool] = staticmethod(private_targets_allowed)

    def _new_conn(self):
        sock = super()._new_conn()
        if not self.allows_private():
            problem = address_problem(sock.getpeername()[0].split("%")[0])
            if problem:
                sock.close()
                raise RefusedAddress(f"Connected to {problem}; only public addresses are allowed.")
        return sock


def _peer_checked_pools(allows_private: Callable[[], bool]) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pool classes whose connections check their peer, lifted by ``allows_private``."""

    class PeerCheckedHTTPConnection(_PeerCheckedConnection, HTTPConnection):
        pass

    class PeerCheckedHTTPSConnection(_PeerCheckedConnection, HTTPSConnection):
        pass

    PeerCheckedHTTPConnection.allows_private = PeerCheckedHTTPSConnection.allows_private = staticmethod(allows_private)

    class PeerCheckedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = PeerCheckedHTTPConnection

    class PeerCheckedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = PeerCheckedHTTPSConnection

    return {"http": PeerCheckedHTTPConnectionPool, "https": PeerCheckedHTTPSConnectionPool}


class PublicAddressesAdapter(HTTPAdapter):
    """An adapter whose connections check the address they reached before sending a byte."""

    def __init__(self, *args, allows_private: Callable[[], bool] = private_targets_allowed, **kwargs) -> None:
        self._pool_classes = _peer_checked_pools(allows_private)
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pool_classes)


def guarded_session(
    *, user_agent: str = USER_AGENT, allows_private: Callable[[], bool] = private_targets_allowed
) -> requests.Session:
    """A session for outbound calls to user-given URLs (webhook targets, push endpoints):
    no proxies from the environment (the checked peer must be the target itself) and
    every connection's address checked, unless ``allows_private()`` says otherwise
    (``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` by default)."""
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = user_agent
    adapter = PublicAddressesAdapter(max_retries=0, allows_private=allows_private)
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
