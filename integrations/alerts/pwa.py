"""The installable web app: its manifest, its service worker (served from the site's
root so its scope is the whole site) and the page it shows offline.

The worker (``templates/alerts/sw.js``) shows each push as a notification with its
actions, opens or focuses the lead (or the action's URL: Claim, Call) when tapped, and
keeps the app shell (styles, scripts, icons, the offline page) in a cache named after
the shell's contents, so a deploy that changes them replaces the cache."""

import hashlib
import json
from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET

from integrations.alerts.payloads import MAX_ACTIONS

NAME, SHORT_NAME = "Lead desk", "Leads"
THEME_COLOR, BACKGROUND_COLOR = "#141b2d", "#f4f6fb"  # the sidebar and the page (static/css/app.css)
SHELL_FILES = (
    "css/app.css",
    "js/app.js",
    "js/notifications.js",
    "vendor/htmx.min.js",
    "icons/icon-192.png",
    "icons/badge-96.png",
)
ICONS = (
    ("icons/icon-192.png", "192x192", "any"),
    ("icons/icon-512.png", "512x512", "any"),
    ("icons/maskable-512.png", "512x512", "maskable"),
)


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    body = {
        "name": NAME,
        "short_name": SHORT_NAME,
        "description": "Work your leads, and get new ones on your phone in seconds.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [
            {"src": static(path), "sizes": sizes, "type": "image/png", "purpose": purpose}
            for path, sizes, purpose in ICONS
        ],
    }
    response = HttpResponse(json.dumps(body, indent=2), content_type="application/manifest+json")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The worker script, at /sw.js: never cached by the browser's HTTP cache, so an update is seen at once."""
    context = {
        "cache_name": f"lead-desk-shell-{shell_version()}",
        "shell_urls": json.dumps([static(path) for path in SHELL_FILES] + [reverse("offline")]),
        "offline_url": json.dumps(reverse("offline")),
        "icon_url": json.dumps(static("icons/icon-192.png")),
        "badge_url": json.dumps(static("icons/badge-96.png")),
        "claim_path": json.dumps("/leads/{lead_id}/claim/"),
        "max_actions": MAX_ACTIONS,
    }
    response = render(request, "alerts/sw.js", context, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """What the worker shows when a page cannot be loaded (no network)."""
    return render(request, "alerts/offline.html")


@cache
def shell_version() -> str:
    """A short digest of the shell files and of the worker's own template."""
    digest = hashlib.sha256(get_template("alerts/sw.js").template.source.encode())
    for path in SHELL_FILES:
        found = finders.find(path)
        if found:
            with open(found, "rb") as shell_file:
                digest.update(shell_file.read())
    return digest.hexdigest()[:12]
