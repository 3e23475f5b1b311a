"""Where webhooks may go: http(s) URLs whose host resolves to public addresses only.

A subscription pointing at loopback, a private network, link-local (cloud metadata
at 169.254.169.254), multicast, reserved or unspecified addresses would let an API
user make the server call its own network (SSRF). Checked when a subscription is
saved, again before each delivery, and once more on the connected socket itself
(``client``), so a host that resolves differently at delivery time (DNS rebinding)
is still refused. ``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` lifts the address rule (local
development, tests, receivers on the same private network).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from leads.errors import ValidationFailed

ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def private_targets_allowed() -> bool:
    return bool(settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)


def address_problem(address: str | IPAddress) -> str | None:
    """Why a webhook may not go to this IP address, or None when it is public."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        # The IPv4 address hidden in an IPv6 one (::ffff:10.0.0.1, 6to4, Teredo) is the one reached.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return address_problem(embedded)
    for kind, flagged in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flagged:
            return f"{ip} is a {kind} address"
    if not ip.is_global:  # e.g. shared address space (100.64.0.0/10)
        return f"{ip} is not a public address"
    return None


def url_shape_problem(url: str) -> str | None:
    """Why ``url`` is not a usable http(s) URL, or None; no network involved."""
    if len(url) > MAX_URL_LENGTH:
        return f"Use at most {MAX_URL_LENGTH} characters."
    if not url.isprintable() or any(character.isspace() for character in url):
        return "Enter a valid URL (no spaces or control characters)."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return "Use an http:// or https:// URL."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username is not None or parts.password is not None:
        return "Leave credentials out of the URL: receivers check the signature instead."
    return None


def address_rule_problem(url: str) -> str | None:
    """Why the host of ``url`` (a usable URL) may not receive webhooks, or None: every
    address it resolves to must be public, unless private targets are allowed.

    Raises ``OSError`` when the host cannot be resolved (a blocking DNS lookup).
    """
    if private_targets_allowed():
        return None
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    for address in resolve(parts.hostname, port):
        problem = address_problem(address)
        if problem:
            return f"The host {parts.hostname} resolves to {problem}; webhooks only go to public addresses."
    return None


def target_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a webhook target, or None when it can."""
    problem = url_shape_problem(url)
    if problem:
        return problem
    try:
        return address_rule_problem(url)
    except OSError:
        return f"The host {urlsplit(url).hostname} could not be resolved."


def check_target_url(url: str) -> None:
    """Raises ``ValidationFailed`` on the ``url`` field unless ``url`` may be a webhook target."""
    problem = target_url_problem(url)
    if problem:
        raise ValidationFailed(fields={"url": [problem]})


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the literal itself for an IP address)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0].split("%")[0] for info in infos})  # drop an IPv6 zone ("fe80::1%eth0")
