"""Production: everything from leadmgmt.settings, hardened for HTTPS.

Passes ``manage.py check --deploy --fail-level WARNING`` (a test runs it). Set:
DJANGO_SECRET_KEY (50+ random characters), SITE_URL (the address users reach the site
at, which links in emails are built on), ALLOWED_HOSTS, DATABASE_URL, REDIS_URL.
Behind a proxy that terminates TLS and sets ``X-Forwarded-Proto``, set BEHIND_TLS_PROXY=true
so Django knows the request was HTTPS (and does not redirect it forever). If the proxy
already redirects HTTP to HTTPS, SECURE_SSL_REDIRECT=false leaves that to it.
"""

from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()
env.escape_proxy = True

# Checked before the base settings load: without a key they would make a per-machine key
# file, which is right on a laptop and wrong on a server. Django's own rule for a strong
# key (check --deploy, security.W009): 50+ characters, 5+ distinct, no "django-insecure-".
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'."
    )

# The base settings default to the laptop's address, and every emailed link (unsubscribe,
# lead pages) would point there. (check --deploy also warns about a loopback SITE_URL.)
_site_url = urlsplit(env.str("SITE_URL", default="").strip())
if _site_url.scheme not in ("http", "https") or not _site_url.hostname:
    raise ImproperlyConfigured(
        "SITE_URL must be set to the absolute http(s) address users reach this site at, e.g. "
        "https://leads.example.com: the links in the emails it sends are built on it."
    )

from leadmgmt.settings import *  # noqa: E402, F403

DEBUG = False
# Every app server and worker must sign pushes with one VAPID key: from the environment,
# never a per-machine file (without the keys, push is off).
WEBPUSH_VAPID_KEY_FILE = ""
WHITENOISE_USE_FINDERS = False

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
