"""The address rule on its own: which IP addresses and URLs a webhook may go to."""

import pytest

from integrations.webhooks.url_safety import address_problem, target_url_problem


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:81b::200e"])
def test_public_addresses_are_allowed(address):
    assert address_problem(address) is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address, kind):
    assert kind in address_problem(address)


def test_any_private_address_among_a_hosts_addresses_refuses_it(settings):
    # localhost resolves to loopback only; a name that resolved to a public and a
    # private address would be refused the same way (every address is checked).
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    assert "loopback" in target_url_problem("https://localhost/hook")


def test_the_setting_lifts_only_the_address_rule(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    assert target_url_problem("http://10.0.0.1/hook") is None
    assert target_url_problem("ftp://10.0.0.1/hook") == "Use an http:// or https:// URL."
