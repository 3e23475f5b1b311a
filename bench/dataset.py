"""A realistic data set written straight into PostgreSQL with COPY.

Agents (and one manager) with API tokens, leads with contact, preferences and
timeline, about five interactions per lead, each lead's status history (and the
stage figures kept with it: furthest stage, latest move, finished stays), and
market figures and listings. Table and column names come from the Django
models: a field the loader names that the model lacks, or a required field the
loader does not fill, stops the load with ``SchemaChanged`` naming it, so a
schema change is noticed here rather than measured wrongly.

Rows are generated from a fixed seed, so two loads of one size are the same
data (public ids and tokens aside).
"""

import json
import random
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from django.db.models import NOT_PROVIDED
from psycopg import sql

NULL = r"\N"  # COPY's text format for NULL
SEED = 6
MANAGER_USERNAME = "bench_manager"
SEARCH_TERM = "okafor"  # one last name of LAST_NAMES: about 1 lead in 150 matches
FLUSH_BYTES = 1 << 19


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra "
    "Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy "
    "George Melissa Timothy Deborah Ronald Stephanie Jason Rebecca Edward Sharon Jeffrey Laura Ryan Cynthia Jacob "
    "Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott "
    "Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Raymond "
    "Carolyn Patrick Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia "
    "Wei Mei Hiroshi Yuki Priya Arjun Fatima Omar Chidi Ngozi Sofia Mateo Lucia Diego Ana Luis"
)
LAST_NAMES = words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera "
    "Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim "
    "Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo "
    "Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler "
    "Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds "
    "Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford "
    "Castro Marshall Owens Harrison Fernandez Mcdonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman "
    "Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon "
    "Okafor Nakamura Yamamoto Kowalski Novak Schmidt Muller Rossi Ferrari Dubois Laurent Singh Kumar Shah Ali"
)
DEMO_LOCATIONS = (
    "San Francisco",
    "Oakland",
    "San Jose",
    "Berkeley",
    "Palo Alto",
    "Fremont",
    "Walnut Creek",
    "San Mateo",
)
OTHER_LOCATIONS = words(
    "Daly_City Hayward Sunnyvale Mountain_View Santa_Clara Redwood_City Richmond Concord Alameda Menlo_Park "
    "San_Leandro Cupertino Milpitas Pleasanton Livermore Dublin San_Rafael Novato Petaluma Santa_Rosa Vallejo Napa "
    "Sausalito Mill_Valley Burlingame San_Bruno Foster_City Los_Gatos Saratoga Campbell Morgan_Hill Gilroy "
    "Half_Moon_Bay Pacifica Emeryville Albany El_Cerrito Orinda Lafayette Danville San_Ramon"
)
LOCATIONS = DEMO_LOCATIONS + tuple(name.replace("_", " ") for name in OTHER_LOCATIONS)

PIPELINE = ("new", "contacted", "qualified", "showing", "offer", "under_contract", "closed")
STATUS_WEIGHTS = {
    "new": 18,
    "contacted": 22,
    "qualified": 14,
    "showing": 8,
    "offer": 4,
    "under_contract": 3,
    "closed": 8,
    "lost": 15,
    "nurture": 8,
}
LEAD_TYPE_WEIGHTS = {"buyer": 50, "seller": 15, "buyer_seller": 10, "renter": 15, "investor": 10}
SOURCES = words(
    "website referral social_media direct_mail open_house zillow realtor_com paid_search phone_inquiry walk_in "
    "past_client other"
)
PROPERTY_TYPE_SETS = (
    '["single_family"]',
    '["condo"]',
    '["single_family", "townhouse"]',
    '["condo", "townhouse"]',
    '["multi_family"]',
    '["apartment"]',
)
URGENCIES = ("low", "normal", "normal", "normal", "high", "urgent")
FINANCING = ("not_started", "pre_qualified", "pre_approved", "cash")
CHANNELS = ("email", "phone", "text")
INTERACTION_TYPES = ("call", "call", "email", "email", "text", "meeting", "showing", "note")
SUMMARIES = (
    "Left a voicemail about the listing",
    "Discussed budget and neighbourhoods",
    "Sent three matching listings",
    "Confirmed the showing on Saturday",
    "Asked about pre-approval status",
    "Followed up after the open house",
    "Talked through the offer strategy",
    "Lead asked for school district information",
)
NOTES = (
    "",
    "",
    "Prefers a quiet street; flexible on parking.",
    "Needs to sell the current home first.",
    "Spouse joins the next call.",
)
SCORE_BREAKDOWNS = tuple(
    json.dumps(
        [
            {"axis": "fit", "factor": "financing", "points": points % 15, "max": 15},
            {"axis": "fit", "factor": "budget_fit", "points": points % 10, "max": 10},
            {"axis": "engagement", "factor": "recency", "points": points % 15, "max": 15},
        ]
    )
    for points in range(20)
)


def _analysis_blob(location: str, median: int) -> str:
    """What the after-save pipeline leaves in ``Lead.metadata``, in size and shape."""
    return json.dumps(
        {
            "market_analysis": {
                "status": "ok",
                "locations": [
                    {
                        "location": location,
                        "status": "ok",
                        "median_sale_price": median,
                        "price_trend_12m": 0.03,
                        "median_days_on_market": 21,
                        "active_listings": 240,
                        "matching_listings": 12,
                    }
                ],
            },
            "lead_insights": {"sentences": [f"The budget fits about a third of the homes listed in {location}."]},
        }
    )


def _city_median(location: str) -> int:
    return 700_000 + (sum(map(ord, location)) * 7919) % 1_500_000


ANALYSIS_BLOBS = {location: _analysis_blob(location, _city_median(location)) for location in LOCATIONS}


def _check_copy_safe(*pools: Sequence[str]) -> None:
    """Pool values are written to COPY unescaped: no tab, newline or backslash."""
    for pool in pools:
        for value in pool:
            if any(ch in value for ch in "\t\n\r\\"):
                raise ValueError(f"{value!r} needs COPY escaping")


_check_copy_safe(
    FIRST_NAMES, LAST_NAMES, LOCATIONS, SUMMARIES, NOTES, PROPERTY_TYPE_SETS, SCORE_BREAKDOWNS, ANALYSIS_BLOBS.values()
)


@dataclass(frozen=True)
class DatasetSize:
    leads: int

    @property
    def agents(self) -> int:
        return max(3, min(500, self.leads // 2000))

    @property
    def listings(self) -> int:
        return max(50, self.leads // 20)

    @property
    def label(self) -> str:
        return size_label(self.leads)


def size_label(leads: int) -> str:
    if leads >= 1_000_000 and leads % 1_000_000 == 0:
        return f"{leads // 1_000_000}m"
    if leads >= 1_000 and leads % 1_000 == 0:
        return f"{leads // 1_000}k"
    return str(leads)


def parse_size(text: str) -> int:
    """'10k' -> 10_000, '1m' -> 1_000_000, '200' -> 200."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if factor > 1 else text
    if not number.isdigit() or int(number) * factor < 1:
        raise ValueError(f"not a size: {text!r} (use e.g. 200, 10k, 1m)")
    return int(number) * factor


class SchemaChanged(RuntimeError):
    """The models no longer match what the loader writes."""


class Table:
    """A model's table and the columns of the given fields, checked against the model."""

    def __init__(self, model, fields: Sequence[str]):
        meta = model._meta
        concrete = {field.name: field for field in meta.concrete_fields}
        unknown = [name for name in fields if name not in concrete]
        unfilled = [
            field.name
            for field in concrete.values()
            if field.name not in fields and not field.null and field.db_default is NOT_PROVIDED
        ]
        if unknown or unfilled:
            raise SchemaChanged(
                f"{meta.label}: the bench loader writes fields the model lacks {unknown} and leaves out "
                f"required fields {unfilled}; update bench/dataset.py"
            )
        self.name = meta.db_table
        self.fields = tuple(fields)
        self.columns = tuple(concrete[name].column for name in fields)

    def copy_statement(self) -> sql.Composed:
        return sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(self.name), sql.SQL(", ").join(map(sql.Identifier, self.columns))
        )


def tables() -> dict[str, Table]:
    """The tables the loader fills; raises SchemaChanged when a model moved on."""
    from django.apps import apps
    from rest_framework.authtoken.models import Token

    from leads.models import Contact, Interaction, Lead, Preferences, StageStay, StatusChange, Timeline, User

    found = {
        "user": Table(
            User,
            words(
                "id password last_login is_superuser username first_name last_name email is_staff is_active "
                "date_joined role manager time_zone"
            ),
        ),
        "token": Table(Token, ("key", "user", "created")),
        "lead": Table(
            Lead,
            words(
                "id created_at updated_at public_id lead_type source status assigned_to score score_breakdown "
                "metadata custom_fields tags version first_contacted_at last_contacted_at sla_due_at sla_status "
                "processing_status processing_error processed_version furthest_stage stage_entered_at"
            ),
        ),
        "contact": Table(
            Contact,
            words(
                "lead first_name last_name email phone phone_is_valid preferred_contact_method "
                "best_time_to_contact email_opt_out sms_opt_out call_opt_out preferred_language"
            ),
        ),
        "preferences": Table(
            Preferences,
            words(
                "lead property_types min_price max_price preferred_locations min_bedrooms min_bathrooms "
                "min_square_feet must_have_features nice_to_have_features"
            ),
        ),
        "timeline": Table(
            Timeline, ("lead", "urgency_level", "financing_status", "target_move_date", "pre_approval_amount")
        ),
        "interaction": Table(
            Interaction,
            words(
                "id lead type direction summary notes next_steps created_by occurred_at follow_up_due_at created_at "
                "lead_source lead_type"
            ),
        ),
        "status_change": Table(StatusChange, ("id", "lead", "from_status", "to_status", "changed_by", "changed_at")),
        "stage_stay": Table(StageStay, ("id", "lead", "lead_created_at", "stage", "days")),
    }
    if apps.is_installed("integrations.market"):
        from integrations.market.models import Listing, MarketSnapshot

        found["snapshot"] = Table(
            MarketSnapshot,
            words(
                "id location location_key month median_list_price median_sale_price price_per_sqft "
                "active_listings median_days_on_market source created_at updated_at"
            ),
        )
        found["listing"] = Table(
            Listing,
            words(
                "id source external_id location location_key price beds baths square_feet property_type status "
                "listed_at created_at updated_at address city postal_code features photo_urls"
            ),
        )
    return found


class CopySink:
    """One COPY stream on its own connection, fed rows of COPY-ready strings."""

    def __init__(self, conninfo: str, table: Table):
        self.table = table
        self.conn = psycopg.connect(conninfo)
        # The generated rows are consistent by construction: skip the per-row
        # foreign key triggers (superuser only), and do not wait for the WAL flush.
        self.conn.execute("SET session_replication_role = replica")
        self.conn.execute("SET synchronous_commit = off")
        self.cursor = self.conn.cursor()
        self._copy_context = self.cursor.copy(table.copy_statement())
        self.copy = self._copy_context.__enter__()
        self.buffer: list[str] = []
        self.size = 0
        self.rows = 0

    def add(self, row: Sequence[str]) -> None:
        line = "\t".join(row)
        self.buffer.append(line)
        self.size += len(line) + 1
        self.rows += 1
        if self.size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.buffer.append("")
            self.copy.write("\n".join(self.buffer))
            self.buffer.clear()
            self.size = 0

    def finish(self) -> int:
        self.flush()
        self._copy_context.__exit__(None, None, None)
        self.conn.commit()
        self.conn.close()
        return self.rows

    def abort(self) -> None:
        self.conn.close()


def ts(value: float) -> str:
    return _moment(value).isoformat(sep=" ")


def _moment(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _weighted(rng: random.Random, weights: dict[str, int], count: int) -> list[str]:
    return rng.choices(list(weights), weights=list(weights.values()), k=count)


def load(conninfo: str, size: DatasetSize, *, log=print) -> dict[str, int]:
    """Fill an empty, migrated database; returns the row count per table."""
    found = tables()
    rng = random.Random(SEED)
    now = time.time()
    counts: dict[str, int] = {}

    users = [_manager_row(now)] + [_agent_row(number, now) for number in range(1, size.agents + 1)]
    counts["user"] = _copy_all(conninfo, found["user"], users)
    counts["token"] = _copy_all(conninfo, found["token"], [(secrets.token_hex(20), row[0], ts(now)) for row in users])
    if "snapshot" in found:
        counts["snapshot"] = _copy_all(conninfo, found["snapshot"], _snapshot_rows(now))
        counts["listing"] = _copy_all(conninfo, found["listing"], _listing_rows(rng, size.listings, now))

    names = ("lead", "contact", "preferences", "timeline", "interaction", "status_change", "stage_stay")
    secondary_indexes = _drop_secondary_indexes(conninfo, [found[name] for name in names])
    sinks = {name: CopySink(conninfo, found[name]) for name in names}
    try:
        _write_leads(rng, size, now, sinks, log=log)
        for name, sink in sinks.items():
            counts[name] = sink.finish()
    except BaseException:
        for sink in sinks.values():
            sink.abort()
        raise
    log(f"    rebuilding {len(secondary_indexes)} indexes ...")
    _create_indexes(conninfo, secondary_indexes)
    _after_load(conninfo, found)
    return counts


def _drop_secondary_indexes(conninfo: str, loaded: Sequence[Table]) -> list[str]:
    """Drop the indexes that back no constraint (building them once after COPY is
    several times faster than updating them row by row); returns their definitions."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            [[table.name for table in loaded]],
        ).fetchall()
        for name, _definition in rows:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return [definition for _name, definition in rows]


def _create_indexes(conninfo: str, definitions: Sequence[str]) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        for definition in definitions:
            conn.execute(definition)


def _copy_all(conninfo: str, table: Table, rows) -> int:
    sink = CopySink(conninfo, table)
    try:
        for row in rows:
            sink.add(row)
        return sink.finish()
    except BaseException:
        sink.abort()
        raise


def _manager_row(now: float) -> tuple[str, ...]:
    return ("1", "!bench", NULL, "f", MANAGER_USERNAME, "Mia", "Manager", "mia@bench.example", "t", "t", ts(now),
            "manager", NULL, "")  # fmt: skip


def _agent_row(number: int, now: float) -> tuple[str, ...]:
    first = FIRST_NAMES[number % len(FIRST_NAMES)]
    last = LAST_NAMES[number % len(LAST_NAMES)]
    username = f"bench_agent_{number:03d}"
    return (
        str(number + 1),
        "!bench",
        NULL,
        "f",
        username,
        first,
        last,
        f"{username}@bench.example",
        "f",
        "t",
        ts(now),
        "agent",
        "1",
        "",  # time zone: the team's (none: the site's)
    )


def _snapshot_rows(now: float) -> Iterator[tuple[str, ...]]:
    today = datetime.fromtimestamp(now, UTC).date()
    first = today.year * 12 + today.month - 1 - 23
    number = 0
    for location in LOCATIONS:
        median = _city_median(location)
        for offset in range(24):
            month = date((first + offset) // 12, (first + offset) % 12 + 1, 1)
            sale = int(median * (0.97 + offset * 0.0025))
            number += 1
            yield (
                str(number),
                location,
                location.casefold(),
                month.isoformat(),
                str(int(sale / 1.03)),
                str(sale),
                str(round(sale / 1600, 2)),
                str(100 + number % 400),
                str(10 + number % 30),
                "bench",
                ts(now),
                ts(now),
            )


def _listing_rows(rng: random.Random, count: int, now: float) -> Iterator[tuple[str, ...]]:
    types = ("single_family", "condo", "townhouse", "multi_family")
    statuses = ("active",) * 17 + ("pending", "pending", "sold")
    listed = datetime.fromtimestamp(now, UTC).date()
    for number in range(1, count + 1):
        location = LOCATIONS[number % len(LOCATIONS)]
        beds = rng.randint(0, 5)
        square_feet = 500 + beds * 400 + rng.randint(0, 400)
        yield (
            str(number),
            "bench",
            f"BENCH-{number:07d}",
            location,
            location.casefold(),
            str(int(_city_median(location) * rng.uniform(0.5, 1.6)) // 5000 * 5000),
            str(beds),
            str(max(1.0, beds * 0.75 // 0.5 * 0.5)),
            str(square_feet),
            types[number % 4],
            statuses[number % len(statuses)],
            (listed - timedelta(days=rng.randint(0, 120))).isoformat(),
            ts(now),
            ts(now),
            f"{number} Bench Street",
            location,
            "",
            '["garage"]' if number % 3 else '["garage", "pool"]',
            "[]",
        )


def _write_leads(rng: random.Random, size: DatasetSize, now: float, sinks: dict[str, CopySink], *, log) -> None:
    lead_sink, contact_sink, preference_sink = sinks["lead"], sinks["contact"], sinks["preferences"]
    timeline_sink, interaction_sink, status_sink = sinks["timeline"], sinks["interaction"], sinks["status_change"]
    stay_sink = sinks["stage_stay"]
    n = size.leads
    span = 3 * 365 * 86400.0
    start = now - span - 86400
    statuses = _weighted(rng, STATUS_WEIGHTS, n)
    lead_types = _weighted(rng, LEAD_TYPE_WEIGHTS, n)
    public_ids = secrets.token_hex(12 * n)
    interaction_id = 0
    status_change_id = 0
    stay_id = 0
    started = time.monotonic()
    for index in range(n):
        lead_id = index + 1
        created = start + span * index / n + rng.random() * 60
        status = statuses[index]
        lead_type = lead_types[index]
        agent = rng.randint(2, size.agents + 1) if rng.random() < 0.9 else None
        agent_text = str(agent) if agent else NULL

        # status history: new, then through the pipeline to the current status
        if status in ("lost", "nurture"):
            path = [*PIPELINE[: rng.randint(1, 4)], status]
        else:
            path = list(PIPELINE[: PIPELINE.index(status) + 1])
        moment, previous = created, ""
        first_contacted = NULL
        entered = None  # the stage figures the status-change path keeps (leads.core.bookkeeping)
        for step in path:
            status_change_id += 1
            at = min(moment, now)
            status_sink.add((str(status_change_id), str(lead_id), previous, step, agent_text, ts(at)))
            if entered is not None:
                stay_id += 1
                # from the times as written (to the microsecond), as the history gives it
                days = (_moment(at) - _moment(entered)).total_seconds() / 86400
                stay_sink.add((str(stay_id), str(lead_id), ts(created), previous, repr(days)))
            if step == "contacted":
                first_contacted = ts(at)
            previous, entered = step, at
            moment += rng.uniform(3600, 20 * 86400)
        last_event = min(moment, now)
        furthest = max(PIPELINE.index(step) if step in PIPELINE else 0 for step in path)

        # interactions, about five per lead (written once the lead's source is drawn)
        last_contacted = NULL
        lead_interactions = []
        count = rng.randint(0, 10)
        for _ in range(count):
            interaction_id += 1
            occurred = min(created + rng.uniform(600, 90 * 86400), now)
            kind = INTERACTION_TYPES[rng.randrange(len(INTERACTION_TYPES))]
            direction = "internal" if kind == "note" else ("inbound" if rng.random() < 0.25 else "outbound")
            lead_interactions.append(
                (
                    str(interaction_id),
                    str(lead_id),
                    kind,
                    direction,
                    SUMMARIES[rng.randrange(len(SUMMARIES))],
                    NOTES[rng.randrange(len(NOTES))],
                    "",
                    agent_text,
                    ts(occurred),
                    ts(occurred + 3 * 86400) if rng.random() < 0.1 else NULL,
                    ts(occurred),
                )
            )
            last_event = max(last_event, occurred)
            if direction != "internal":
                last_contacted = ts(occurred)

        version = str(len(path) + count)
        first_location = LOCATIONS[rng.randrange(len(LOCATIONS))]
        locations = [first_location]
        if rng.random() < 0.3:
            locations.append(LOCATIONS[rng.randrange(len(LOCATIONS))])
        contacted = first_contacted != NULL
        source = SOURCES[rng.randrange(len(SOURCES))]
        for row in lead_interactions:  # each carries its lead's source and type
            interaction_sink.add((*row, source, lead_type))
        lead_sink.add(
            (
                str(lead_id),
                ts(created),
                ts(last_event),
                "lead_" + public_ids[index * 24 : index * 24 + 24],
                lead_type,
                source,
                status,
                agent_text,
                str(rng.randint(5, 98)),
                SCORE_BREAKDOWNS[index % len(SCORE_BREAKDOWNS)],
                ANALYSIS_BLOBS[first_location],
                "{}",
                '["bench"]' if index % 7 == 0 else "[]",
                version,
                first_contacted,
                last_contacted,
                ts(created + 86400),
                "met" if contacted else ("breached" if created + 86400 < now else "pending"),
                "done",
                "",
                version,
                str(furthest),
                ts(entered),
            )
        )

        first = FIRST_NAMES[rng.randrange(len(FIRST_NAMES))]
        last = LAST_NAMES[rng.randrange(len(LAST_NAMES))]
        contact_sink.add(
            (
                str(lead_id),
                first,
                last,
                f"{first.lower()}.{last.lower()}.{lead_id}@example.com",
                f"+1415{lead_id % 10_000_000:07d}",
                "t",
                CHANNELS[index % 3],
                "evenings" if index % 5 == 0 else "",
                "f",
                "t" if index % 50 == 0 else "f",
                "f",
                "es" if index % 7 == 0 else "en",
            )
        )

        if lead_type == "renter":
            low = rng.randint(15, 40) * 100
            prices = (str(low), str(low + 1000))
        elif lead_type == "seller":
            prices = (NULL, NULL)
        else:
            low = rng.randint(30, 250) * 10_000
            prices = (str(low), str(int(low * 1.3)))
        financing = FINANCING[rng.randrange(len(FINANCING))]
        preference_sink.add(
            (
                str(lead_id),
                PROPERTY_TYPE_SETS[rng.randrange(len(PROPERTY_TYPE_SETS))],
                prices[0],
                prices[1],
                json.dumps(locations),
                str(rng.randint(1, 4)),
                str(rng.choice((1, 1.5, 2, 2.5, 3))),
                NULL,
                '["garage"]' if index % 4 == 0 else "[]",
                "[]",
            )
        )
        timeline_sink.add(
            (
                str(lead_id),
                URGENCIES[rng.randrange(len(URGENCIES))],
                financing,
                datetime.fromtimestamp(created + rng.uniform(30, 365) * 86400, UTC).date().isoformat(),
                prices[1] if financing == "pre_approved" and prices[1] != NULL else NULL,
            )
        )
        if lead_id % 100_000 == 0:
            elapsed = time.monotonic() - started
            log(f"    {lead_id:,} leads written ({lead_id / elapsed:,.0f} leads/s)")


def _after_load(conninfo: str, found: dict[str, Table]) -> None:
    """Count the leads, move the id sequences past the loaded rows and refresh the
    planner's statistics."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # The COPY ran with triggers off (session_replication_role = replica), so the
        # lead counters (leads.reporting.counts) are filled here, as their migration does.
        # So are the activity tallies (leads.reports.activity).
        from leads.reporting.counts import RECOUNT
        from leads.reports.activity import RECOUNT_POSTGRESQL as RECOUNT_ACTIVITY

        conn.execute(RECOUNT)
        conn.execute(RECOUNT_ACTIVITY)
        for table in found.values():
            if "id" in table.fields:
                conn.execute(
                    sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), (SELECT max(id) FROM {}))").format(
                        sql.Literal(table.name), sql.Identifier(table.name)
                    )
                )
        # VACUUM also sets the visibility map, as autovacuum would on a live database.
        conn.execute("VACUUM ANALYZE")
