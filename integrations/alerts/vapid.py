"""The VAPID key pair that signs every push (RFC 8292) and that browsers subscribe with.

From the settings ``WEBPUSH_VAPID_PRIVATE_KEY`` (base64url of the raw 32-byte P-256
private key) and ``WEBPUSH_VAPID_PUBLIC_KEY`` (base64url of the 65-byte uncompressed
public point, the browser's ``applicationServerKey``; derived from the private key when
left out). ``manage.py vapid_keys`` prints a new pair.

Without them, on the embedded default, a pair is made once per machine and kept in
``WEBPUSH_VAPID_KEY_FILE`` (``.vapid_key``, git-ignored), as the secret key is, so pushes
work out of the box. Production leaves the file off: every app server and worker must
sign with the same key, so it comes from the environment, and without it push is off.
Browsers subscribed under one key must subscribe again when it changes.
"""

import base64
import os
from dataclasses import dataclass
from email.utils import parseaddr
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from py_vapid import Vapid


@dataclass(frozen=True)
class VapidKeys:
    private_key: str  # base64url, raw 32 bytes
    public_key: str  # base64url, uncompressed point (65 bytes)

    def signer(self) -> Vapid:
        return Vapid.from_raw(self.private_key.encode())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_keys() -> VapidKeys:
    """A new random key pair."""
    return keys_from_private(_private_raw(ec.generate_private_key(ec.SECP256R1())))


def keys_from_private(private_key: str) -> VapidKeys:
    """The pair of a base64url raw private key; ``ValueError`` when it is not one."""
    try:
        raw = b64url_decode(private_key.strip())
    except (ValueError, TypeError) as error:
        raise ValueError("not base64url") from error
    if len(raw) != 32:
        raise ValueError("a raw P-256 private key is 32 bytes")
    key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return VapidKeys(private_key=b64url(raw), public_key=b64url(public))


def _private_raw(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


@cache
def configured_keys() -> VapidKeys | None:
    """The site's key pair: from the settings, else from (or made into) the key file;
    None when push is off (no keys and no key file). Raises ``ImproperlyConfigured`` when
    the settings' keys are malformed or do not make a pair."""
    private_key = settings.WEBPUSH_VAPID_PRIVATE_KEY.strip()
    if private_key:
        try:
            keys = keys_from_private(private_key)
        except ValueError as error:
            raise ImproperlyConfigured(f"WEBPUSH_VAPID_PRIVATE_KEY is not a VAPID private key: {error}.") from error
        public_key = settings.WEBPUSH_VAPID_PUBLIC_KEY.strip()
        if public_key and public_key.rstrip("=") != keys.public_key:
            raise ImproperlyConfigured("WEBPUSH_VAPID_PUBLIC_KEY is not the public key of WEBPUSH_VAPID_PRIVATE_KEY.")
        return keys
    if settings.WEBPUSH_VAPID_KEY_FILE:
        return keys_from_private(_read_or_make_key_file(Path(settings.WEBPUSH_VAPID_KEY_FILE)))
    return None


def _read_or_make_key_file(path: Path) -> str:
    """The private key kept in ``path``, written there first if the file is missing
    (created exclusively: two processes starting at once end up with the same key)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as key_file:
        key_file.write(generate_keys().private_key + "\n")
    return path.read_text().strip()


def subject() -> str:
    """The ``sub`` claim push services contact us by: ``WEBPUSH_VAPID_SUBJECT`` (a
    ``mailto:`` or ``https:`` URL), else ``mailto:`` the address of DEFAULT_FROM_EMAIL."""
    return settings.WEBPUSH_VAPID_SUBJECT or f"mailto:{parseaddr(settings.DEFAULT_FROM_EMAIL)[1]}"


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs) -> None:
    if setting.startswith("WEBPUSH_VAPID"):
        configured_keys.cache_clear()
