"""Loopback servers playing a browser's push service and the SMS provider, browsers
with their own keys, and the settings that point the alerts at them. Nothing here
talks to anything off the machine.

The push service does what a real one does before it takes a message: it checks the
VAPID header (``Authorization: vapid t=<JWT>,k=<public key>``; the JWT's ES256
signature under ``k``, its audience and expiry) and refuses a bad one with 401. It
then decrypts the aes128gcm body (RFC 8291) with the private key of the browser the
endpoint belongs to, and answers from a script (201 by default)."""

import base64
import json
import os
import time
from dataclasses import dataclass

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from integrations.alerts.vapid import generate_keys
from integrations.crm.tests.conftest import Reply
from integrations.sms.tests.conftest import LoopbackJsonServer, SmsProvider, point_sms_at


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Browser:
    """A browser's push subscription: its own P-256 key pair and auth secret."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.p256dh, self.auth_secret = b64url(public), os.urandom(16)

    def subscription_json(self) -> dict:
        """What ``PushSubscription.toJSON()`` gives a page."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth_secret)},
        }

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm")


@dataclass
class Push:
    path: str
    headers: dict[str, str]
    claims: dict
    payload: dict  # the decrypted JSON


def vapid_problems(authorization: str, *, expected_key: str, audience: str) -> tuple[list[str], dict]:
    """What a push service objects to in a VAPID header (RFC 8292), and the JWT's claims."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        return [f"scheme {scheme!r} is not vapid"], {}
    parts = dict(part.split("=", 1) for part in params.split(",") if "=" in part)
    token, key = parts.get("t", ""), parts.get("k", "")
    problems = [] if key == expected_key else ["k is not the application server key the browser subscribed with"]
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header, claims = json.loads(unb64url(header_b64)), json.loads(unb64url(claims_b64))
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        signature = unb64url(signature_b64)
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        public_key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return [*problems, "the JWT's signature does not verify under k"], {}
    except (ValueError, KeyError, TypeError) as error:
        return [*problems, f"malformed JWT: {error}"], {}
    if header.get("alg") != "ES256":
        problems.append(f"alg {header.get('alg')!r} is not ES256")
    if claims.get("aud") != audience:
        problems.append(f"aud {claims.get('aud')!r} is not {audience!r}")
    if not (time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600):
        problems.append("exp is not within the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        problems.append("sub is not a mailto: or https: URL")
    return problems, claims


class PushService(LoopbackJsonServer):
    """A push service on loopback for the browsers it made (``browser()``)."""

    def __init__(self, vapid_public_key: str):
        super().__init__()
        self.vapid_public_key = vapid_public_key
        self.browsers: dict[str, Browser] = {}
        self.pushes: list[Push] = []
        self.refused: list[list[str]] = []

    def browser(self) -> Browser:
        browser = Browser(f"{self.base_url}/push/{len(self.browsers) + 1}")
        self.browsers[f"/push/{len(self.browsers) + 1}"] = browser
        return browser

    def handle(self, handler, body: bytes):
        headers = {name.lower(): value for name, value in handler.headers.items()}
        problems, claims = vapid_problems(
            headers.get("authorization", ""), expected_key=self.vapid_public_key, audience=self.base_url
        )
        for name, expected in (("content-encoding", "aes128gcm"), ("urgency", "high")):
            if headers.get(name) != expected:
                problems.append(f"{name} is {headers.get(name)!r}, not {expected!r}")
        if not headers.get("ttl", "").isdigit():
            problems.append("no TTL")
        browser = self.browsers.get(handler.path)
        if browser is None:
            return 404, {"error": "no such subscription"}, {}
        if problems:
            self.refused.append(problems)
            return 401, {"error": problems}, {}
        payload = json.loads(browser.decrypt(body))
        self.pushes.append(Push(path=handler.path, headers=headers, claims=claims, payload=payload))
        reply = self.next_reply(Reply(201, {}))
        time.sleep(reply.delay)
        return reply.status, reply.body, reply.headers


@pytest.fixture
def vapid_keys(settings):
    keys = generate_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY, settings.WEBPUSH_VAPID_PUBLIC_KEY = keys.private_key, keys.public_key
    settings.WEBPUSH_VAPID_SUBJECT = "mailto:ops@leads.example.com"
    return keys


@pytest.fixture
def alert_settings(settings, vapid_keys):
    """Push endpoints on loopback allowed, short timeouts, two attempts per channel."""
    settings.WEBPUSH_ALLOW_PRIVATE_ENDPOINTS = True
    settings.WEBPUSH_CONNECT_TIMEOUT = settings.WEBPUSH_READ_TIMEOUT = 1.0
    settings.ALERTS_MAX_ATTEMPTS = 2
    settings.ALERTS_BACKOFF_SECONDS = 5
    settings.SITE_URL = "https://leads.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


@pytest.fixture
def push_service(alert_settings, vapid_keys):
    server = PushService(vapid_keys.public_key)
    yield server
    server.stop()


@pytest.fixture
def sms_provider(alert_settings):
    server = SmsProvider()
    point_sms_at(alert_settings, server)
    yield server
    server.stop()


def subscribe(user, browser: Browser):
    """The browser subscribed to ``user``'s pushes, as the Notifications page does."""
    from integrations.alerts import subscriptions

    keys = browser.subscription_json()["keys"]
    return subscriptions.push_subscribe(
        user=user, endpoint=browser.endpoint, p256dh=keys["p256dh"], auth=keys["auth"], user_agent="Test browser"
    )


def prefer(user, order: str, *, sms_number: str = "", sms_opt_in: bool = False):
    """The user's channels, as the Notifications page saves them."""
    from integrations.alerts import subscriptions

    return subscriptions.preference_update(user=user, order=order, sms_number=sms_number, sms_opt_in=sms_opt_in)
