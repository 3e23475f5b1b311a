"""Reads from a real streaming replica (leadmgmt/replica.py), under the PostgreSQL pass:
the test makes a standby of the test server with ``pg_basebackup -R`` on a spare port.
Pausing the standby's replay makes it visibly stale, which shows where each read went."""

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, router, transaction
from django.test import Client, override_settings
from rest_framework.test import APIClient

from leadmgmt import replica
from leadmgmt.tests.standby import Standby, StandbyUnavailable, wait_until
from leads.models import Lead
from leads.tests.factories import UserFactory, seed_payload

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
    pytest.mark.filterwarnings("ignore:Overriding setting DATABASES"),
]


@pytest.fixture(scope="module")
def standby():
    from conftest import skip_or_fail

    if connection.vendor != "postgresql":
        pytest.skip("the read replica is tested in the PostgreSQL pass (DATABASE_URL=postgres://...)")
    primary = connection.settings_dict
    try:
        made = Standby.make(
            primary_host=primary["HOST"] or "127.0.0.1", primary_port=int(primary["PORT"] or 5432), user="postgres"
        )
    except StandbyUnavailable as error:
        skip_or_fail(f"no standby could be made: {error}")
    yield made
    made.remove()


@pytest.fixture(scope="module", autouse=True)
def replica_db(django_db_setup, django_db_blocker, standby):
    """The ``replica`` alias on the standby's copy of the test database, and the router
    (registered before each test's database access is set up, which checks its aliases)."""
    primary = connections["default"].settings_dict
    options = {key: value for key, value in primary.get("OPTIONS", {}).items() if key != "pool"}
    alias_settings = {
        **primary,
        "HOST": "127.0.0.1",
        "PORT": str(standby.port),
        "OPTIONS": {**options, "connect_timeout": 2},
        "CONN_MAX_AGE": 0,
        "TEST": {"MIRROR": "default", "NAME": None, "CHARSET": None, "COLLATION": None, "MIGRATE": True},
    }
    connections.settings[replica.REPLICA] = alias_settings
    databases = {**django_settings.DATABASES, replica.REPLICA: alias_settings}
    with override_settings(DATABASES=databases, DATABASE_ROUTERS=["leadmgmt.replica.ReplicaRouter"]):
        reload_routers()
        yield standby
    with django_db_blocker.unblock():
        set_replay(paused=False)
        connections[replica.REPLICA].close()
    del connections[replica.REPLICA]
    del connections.settings[replica.REPLICA]
    reload_routers()


def reload_routers() -> None:
    """Django reads DATABASE_ROUTERS once: read it again."""
    router._routers = None
    router.__dict__.pop("routers", None)


@pytest.fixture(autouse=True)
def replica_settings(settings):
    settings.REPLICA_CHECK_SECONDS = 0
    settings.READ_YOUR_WRITES_SECONDS = 60
    yield
    set_replay(paused=False)


def on_standby(sql: str):
    with connections[replica.REPLICA].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def set_replay(*, paused: bool) -> None:
    if paused:  # and really paused before the test writes (a busy standby takes a moment)
        on_standby("SELECT pg_wal_replay_pause()")
        assert wait_until(lambda: on_standby("SELECT pg_get_wal_replay_pause_state()")[0] == "paused")
        return
    try:
        on_standby("SELECT pg_wal_replay_resume()")
    except Exception:  # the standby may be stopped (the failover test)
        connections[replica.REPLICA].close()


def caught_up() -> bool:
    return bool(on_standby("SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()")[0])


def replayed(lead_public_id: str) -> bool:
    return bool(on_standby(f"SELECT count(*) FROM leads_lead WHERE public_id = '{lead_public_id}'")[0])


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def listed(client, **params) -> list[str]:
    answer = client.get("/api/v2/leads", params)
    assert answer.status_code == 200, answer.content[:300]
    return [lead["id"] for lead in answer.json()["leads"]]


def has_user(user) -> bool:
    return bool(on_standby(f"SELECT count(*) FROM leads_user WHERE id = {int(user.pk)}")[0])


@pytest.fixture
def people(replica_db):
    writer, reader = UserFactory(role="manager"), UserFactory(role="manager")
    # Replayed, not only "caught up" with what it has received so far: a standby just made
    # that has replayed no transaction yet has no replay timestamp, so no known lag, and
    # its reads rightly go to the primary (that had shown up as "the reader saw the lead").
    assert wait_until(lambda: has_user(reader) and caught_up())
    return writer, reader


def test_lists_read_the_replica_and_the_writer_reads_their_own_write_from_the_primary(replica_db, people, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 600  # a paused replay must not switch reads over here
    writer, reader = people
    # given a standby whose replay is paused: what is written now is on the primary only
    set_replay(paused=True)

    created = api(writer).post("/api/v2/leads", seed_payload(), format="json")
    assert created.status_code == 201
    assert created.cookies[replica.WROTE_COOKIE]["max-age"] == 60  # the browser's own marker
    lead_id = created.json()["lead"]["id"]

    # then another user's list comes from the replica: the new lead is not in it yet
    assert lead_id not in listed(api(reader))
    # while the writer reads their own write (from the primary)
    assert lead_id in listed(api(writer))
    # and a lead's own page and API read the primary
    assert api(reader).get(f"/api/v2/leads/{lead_id}").status_code == 200
    # a read inside a write goes to the primary, even where replica reads are allowed
    request = Client().get("/").wsgi_request
    request.user = reader
    with replica.replica_reads(request) as from_replica, transaction.atomic():
        assert from_replica
        assert Lead.objects.filter(public_id=lead_id).exists()
    assert router.db_for_write(Lead) == replica.PRIMARY

    # when the standby replays again, the reader's list has it
    set_replay(paused=False)
    assert wait_until(lambda: replayed(lead_id))
    assert lead_id in listed(api(reader))


def test_reads_go_to_the_primary_while_the_replica_lags_and_the_admin_shows_the_lag(
    replica_db, people, settings, admin_user
):
    settings.REPLICA_MAX_LAG_SECONDS = 0.5
    writer, reader = people
    set_replay(paused=True)
    created = api(writer).post("/api/v2/leads", seed_payload(), format="json")
    lead_id = created.json()["lead"]["id"]
    assert wait_until(lambda: (replica.status(fresh=True).lag_seconds or 0) > 0.5, seconds=10)

    # the standby is more than half a second behind: the reader's list comes from the primary
    assert lead_id in listed(api(reader))
    assert not replica.status().usable

    browser = Client()
    browser.force_login(admin_user)
    page = browser.get("/admin/")
    assert page.status_code == 200
    assert "Read replica" in page.content.decode() and "behind the primary" in page.content.decode()
    assert "Every read goes to the primary" in page.content.decode()


def test_reads_fail_over_to_the_primary_when_the_standby_is_stopped(replica_db, people, settings, admin_user):
    settings.REPLICA_MAX_LAG_SECONDS = 600
    writer, reader = people
    assert replica.status(fresh=True).usable
    listed(api(reader))  # the reader's connection to the standby is open

    replica_db.stop()
    try:
        created = api(writer).post("/api/v2/leads", seed_payload(), format="json")
        lead_id = created.json()["lead"]["id"]

        assert lead_id in listed(api(reader))
        assert not replica.status().reachable
        browser = Client()
        browser.force_login(admin_user)
        assert "Unreachable" in browser.get("/admin/").content.decode()
    finally:
        replica_db.start()
    # once the standby is back, reads go to it again
    assert wait_until(lambda: replica.status(fresh=True).usable, seconds=30)
