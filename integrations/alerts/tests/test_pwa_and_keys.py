"""The installable app (manifest, service worker at the root, offline page, icons) and
the VAPID keys (from the settings, or made once per machine into a file)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import reverse

from integrations.alerts import pwa, vapid
from integrations.alerts.checks import vapid_keys_check

pytestmark = pytest.mark.django_db


def test_the_service_worker_is_served_from_the_root_as_javascript(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    script = response.content.decode()
    for listener in ("install", "activate", "fetch", "push", "notificationclick"):
        assert f'addEventListener("{listener}"' in script
    assert f'var CACHE_NAME = "lead-desk-shell-{pwa.shell_version()}";' in script
    shell = json.loads(script.split("var SHELL_URLS = ", 1)[1].split(";", 1)[0])
    assert "/static/css/app.css" in shell and "/offline/" in shell
    for url in shell:  # every file the worker caches on install exists
        assert client.get(url).status_code == 200, url


def test_the_manifest_names_the_app_its_colours_and_icons(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "Lead desk" and manifest["display"] == "standalone"
    assert (manifest["start_url"], manifest["scope"]) == ("/", "/")
    assert (manifest["theme_color"], manifest["background_color"]) == ("#141b2d", "#f4f6fb")
    css = Path(finders.find("css/app.css")).read_text()
    assert "--sidebar: #141b2d;" in css and "--bg: #f4f6fb;" in css
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        png = b"".join(client.get(icon["src"]).streaming_content)
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and f"{width}x{height}" == icon["sizes"]


def test_every_page_links_the_manifest_and_the_worker(client, agent):
    client.force_login(agent)
    page = client.get(reverse("leads:dashboard")).content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<meta name="service-worker" content="/sw.js">' in page
    assert 'href="/notifications/"' in page
    login = client.__class__().get("/accounts/login/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in login


def test_the_offline_page_needs_no_sign_in(client):
    response = client.get("/offline/")
    assert response.status_code == 200 and "You are offline" in response.content.decode()


def test_keys_from_the_settings_make_a_pair(settings):
    keys = vapid.generate_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY, settings.WEBPUSH_VAPID_PUBLIC_KEY = keys.private_key, ""
    assert vapid.configured_keys() == keys  # the public key is derived when left out
    assert len(vapid.b64url_decode(keys.public_key)) == 65 and vapid.b64url_decode(keys.public_key)[0] == 4
    settings.WEBPUSH_VAPID_PUBLIC_KEY = vapid.generate_keys().public_key
    (error,) = vapid_keys_check(None)
    assert error.id == "alerts.E001" and "not the public key" in error.msg
    settings.WEBPUSH_VAPID_PRIVATE_KEY, settings.WEBPUSH_VAPID_PUBLIC_KEY = "not-a-key", ""
    (error,) = vapid_keys_check(None)
    assert "not a VAPID private key" in error.msg


def test_without_keys_a_pair_is_made_once_into_the_key_file(settings, tmp_path):
    key_file = tmp_path / ".vapid_key"
    settings.WEBPUSH_VAPID_PRIVATE_KEY, settings.WEBPUSH_VAPID_KEY_FILE = "", str(key_file)
    first = vapid.configured_keys()
    assert key_file.read_text().strip() == first.private_key
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    vapid.configured_keys.cache_clear()  # another process
    assert vapid.configured_keys() == first
    settings.WEBPUSH_VAPID_KEY_FILE = ""  # production: no file, no keys, no push
    assert vapid.configured_keys() is None


def test_the_command_prints_a_usable_pair():
    out = StringIO()
    call_command("vapid_keys", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    keys = vapid.keys_from_private(lines["WEBPUSH_VAPID_PRIVATE_KEY"])
    assert keys.public_key == lines["WEBPUSH_VAPID_PUBLIC_KEY"]
