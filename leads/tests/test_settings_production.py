"""leadmgmt.settings_production: passes Django's deployment checks, refuses to start
without a strong secret or an absolute SITE_URL, reads the proxy setting, and answers
requests refused before any view in the API's error shape; an empty DATABASE_URL means
the default database. Each case boots Django in a subprocess with its own environment."""

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

STRONG_SECRET = secrets.token_urlsafe(64)
SITE_URL = "https://leads.example.com"


# Not passed on: the deployment's own settings, and DJANGO_ALLOW_ASYNC_UNSAFE, which the
# browser tests set in this process and check --deploy rightly refuses (async.E001).
NOT_INHERITED = {
    "DJANGO_SECRET_KEY",
    "SITE_URL",
    "ALLOWED_HOSTS",
    "BEHIND_TLS_PROXY",
    "SECURE_SSL_REDIRECT",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_settings(*names: str, **env: str) -> dict[str, object]:
    """The named settings as leadmgmt.settings_production computes them under ``env``."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}))"
    )
    result = run_production_python("-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_production_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``run_python`` under the production settings with a strong secret and SITE_URL
    (``env`` may replace them)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "leadmgmt.settings_production",
        "DJANGO_SECRET_KEY": STRONG_SECRET,
        "SITE_URL": SITE_URL,
        **env,
    }
    return run_python(*args, **env)


def check_deploy(**env: str) -> subprocess.CompletedProcess:
    return run_production_python(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", ALLOWED_HOSTS="leads.example.com", **env
    )


def test_production_settings_pass_check_deploy_with_no_warnings():
    result = check_deploy()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "site_url",
    [None, "", "leads.example.com", "/leads", "ftp://leads.example.com", "https://"],
    ids=["missing", "empty", "no scheme", "a path", "not http", "no host"],
)
def test_production_settings_refuse_a_missing_or_relative_site_url(site_url):
    env = {"DJANGO_SETTINGS_MODULE": "leadmgmt.settings_production", "DJANGO_SECRET_KEY": STRONG_SECRET}
    if site_url is not None:
        env["SITE_URL"] = site_url

    result = run_python("manage.py", "check", **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SITE_URL must be set to the absolute http(s) address" in result.stderr


@pytest.mark.parametrize(
    "site_url", ["http://127.0.0.1:8000", "http://localhost:8000", "https://leads.localhost", "http://[::1]:8000"]
)
def test_check_deploy_warns_when_site_url_points_at_this_machine(site_url):
    result = check_deploy(SITE_URL=site_url)

    assert result.returncode != 0
    assert "leadmgmt.W002" in result.stderr and "points at this machine" in result.stderr


def test_the_site_url_check_is_quiet_while_debugging_on_a_laptop():
    result = run_python("manage.py", "check", "--deploy", DJANGO_DEBUG="true", SITE_URL="http://127.0.0.1:8000")

    assert "leadmgmt.W002" not in result.stdout + result.stderr
    assert "System check identified" in result.stdout + result.stderr


def test_requests_refused_before_any_view_answer_in_the_api_error_shape():
    # A Host outside ALLOWED_HOSTS, and a URL too long for the HTTPS redirect: both are
    # refused by SecurityMiddleware, the first middleware, before the API's own.
    code = (
        "import json, django; django.setup(); from django.test import Client; client = Client(); "
        "answers = [client.get('/api/v2/leads', HTTP_HOST='evil.example'), "
        "client.post('/api/v2/leads', '{}', content_type='application/json', HTTP_HOST='evil.example'), "
        "client.get('/api/v2/leads/' + 'a' * 20000)]; "
        "print(json.dumps([[answer.status_code, answer['Content-Type'], answer.content.decode()] "
        "for answer in answers]))"
    )

    result = run_production_python("-c", code, ALLOWED_HOSTS="leads.example.com,testserver")

    assert result.returncode == 0, result.stderr
    for status, content_type, body in json.loads(result.stdout):
        assert (status, content_type) == (400, "application/json")
        assert json.loads(body)["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    "secret",
    [None, "", "too-short-" * 4, "a" * 60, "django-insecure-" + secrets.token_urlsafe(50)],
    ids=["missing", "empty", "short", "repetitive", "django-insecure"],
)
def test_production_settings_refuse_a_missing_or_weak_secret(secret):
    env = {"DJANGO_SETTINGS_MODULE": "leadmgmt.settings_production", "SITE_URL": SITE_URL}
    if secret is not None:
        env["DJANGO_SECRET_KEY"] = secret

    result = run_python("manage.py", "check", **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_redirects_to_https_and_marks_cookies_secure():
    values = production_settings(
        "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "DEBUG"
    )

    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 60 * 60 * 24 * 365
    assert values["DEBUG"] is False


def test_behind_a_tls_proxy_the_forwarded_proto_header_is_trusted_only_when_asked():
    direct = production_settings("SECURE_PROXY_SSL_HEADER")
    proxied = production_settings(
        "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY="true", SECURE_SSL_REDIRECT="false"
    )

    assert direct["SECURE_PROXY_SSL_HEADER"] is None
    assert proxied["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert proxied["SECURE_SSL_REDIRECT"] is False


def test_an_empty_database_url_means_the_default_database():
    code = "import django; django.setup(); from django.db import connection; print(connection.vendor)"

    result = run_python("-c", code, DJANGO_SETTINGS_MODULE="leadmgmt.settings", DATABASE_URL="")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sqlite"


def test_db_pool_max_size_turns_on_psycopgs_pool_for_postgresql():
    url = "postgres://postgres@127.0.0.1:5432/leadmgmt"

    pooled = production_settings("DATABASES", DATABASE_URL=url, DB_POOL_MAX_SIZE="4")["DATABASES"]["default"]
    plain = production_settings("DATABASES", DATABASE_URL=url)["DATABASES"]["default"]

    assert pooled["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 10}
    assert pooled["CONN_MAX_AGE"] == 0
    assert "pool" not in plain.get("OPTIONS", {})


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_pool_serves_real_queries_on_postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    db = connection.settings_dict  # the test database, which exists now
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    code = (
        "import django; django.setup(); from django.db import connection; "
        "connection.ensure_connection(); print(type(connection.pool).__name__, "
        "connection.cursor().execute('SELECT 1') is not None)"
    )

    result = run_python("-c", code, DJANGO_SETTINGS_MODULE="leadmgmt.settings", DATABASE_URL=url, DB_POOL_MAX_SIZE="2")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ConnectionPool", "True"]
