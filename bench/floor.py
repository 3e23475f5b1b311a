"""The floor: the API's reads and writes done by a bare WSGI function, no Django.

Served by the same gunicorn and driven by the same load generator as the app, it
authenticates the same Bearer token, reads or writes the same rows with raw
psycopg SQL (same joins, same count, same inserts in one transaction) and encodes
the same lead shape to JSON. What the app spends above this is framework,
ORM and design overhead; the ratio is what the bench reports.

Routes (JSON in and out):
    GET   /leads?page=&page_size=&cursor=&ordering= and every filter of the app's list
    POST  /leads
    GET   /leads/<public_id>
    PATCH /leads/<public_id>
    POST  /leads/<public_id>/interactions

Run: ``BENCH_FLOOR_DATABASE_URL=postgres://... gunicorn bench.floor:application``.
"""

import base64
import json
import os
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import psycopg
from psycopg.rows import dict_row

_connection: psycopg.Connection | None = None
_DETAIL_PATH = re.compile(r"^/leads/(lead_[0-9a-f]{24})(/interactions)?/?$")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LEAD_SELECT = """
SELECT l.id, l.public_id, l.lead_type, l.source, l.status, l.score, l.score_breakdown, l.metadata,
       l.custom_fields, l.tags, l.version, l.processing_status, l.processed_version, l.processing_error,
       l.sla_due_at, l.sla_status, l.first_contacted_at, l.last_contacted_at, l.created_at, l.updated_at,
       c.first_name, c.last_name, c.email, c.phone, c.phone_is_valid, c.preferred_contact_method,
       c.best_time_to_contact, c.email_opt_out, c.sms_opt_out, c.call_opt_out, c.preferred_language,
       p.property_types, p.min_price, p.max_price, p.preferred_locations, p.min_bedrooms, p.min_bathrooms,
       p.min_square_feet, p.must_have_features, p.nice_to_have_features,
       t.urgency_level, t.financing_status, t.target_move_date, t.pre_approval_amount,
       u.username AS assigned_username
FROM leads_lead l
LEFT JOIN leads_contact c ON c.lead_id = l.id
LEFT JOIN leads_preferences p ON p.lead_id = l.id
LEFT JOIN leads_timeline t ON t.lead_id = l.id
LEFT JOIN leads_user u ON u.id = l.assigned_to_id
"""
INTERACTION_SELECT = """
SELECT i.id, i.lead_id, i.type, i.direction, i.summary, i.notes, i.next_steps, i.follow_up_due_at,
       i.occurred_at, i.created_at, u.username
FROM leads_interaction i LEFT JOIN leads_user u ON u.id = i.created_by_id
WHERE i.lead_id = ANY(%s)
ORDER BY i.occurred_at DESC, i.id DESC
"""


def connection() -> psycopg.Connection:
    """One connection per worker process, kept open (the app keeps its own for 60 s)."""
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["BENCH_FLOOR_DATABASE_URL"], autocommit=True, row_factory=dict_row)
    return _connection


def application(environ, start_response):
    conn = connection()
    user = _authenticate(conn, environ.get("HTTP_AUTHORIZATION", ""))
    if user is None:
        return _respond(start_response, 401, {"error": {"code": "not_authenticated"}})
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    if path.rstrip("/") == "/leads":
        if method == "GET":
            return _respond(start_response, 200, _list(conn, user, parse_qs(environ.get("QUERY_STRING", ""))))
        if method == "POST":
            return _respond(start_response, 201, _create(conn, user, _body(environ)))
    match = _DETAIL_PATH.match(path)
    if match:
        public_id, interactions = match.groups()
        if interactions and method == "POST":
            body = _add_interaction(conn, user, public_id, _body(environ))
            return _respond(start_response, 201 if body else 404, body or {"error": {"code": "not_found"}})
        if not interactions and method in ("PATCH", "PUT"):
            body = _update(conn, user, public_id, _body(environ))
            return _respond(start_response, 200 if body else 404, body or {"error": {"code": "not_found"}})
        if not interactions and method == "GET":
            body = _detail(conn, user, public_id)
            return _respond(start_response, 200 if body else 404, body or {"error": {"code": "not_found"}})
    return _respond(start_response, 404, {"error": {"code": "not_found"}})


# --- reads -------------------------------------------------------------------


def _authenticate(conn, header: str) -> dict | None:
    scheme, _, key = header.partition(" ")
    if scheme != "Bearer" or not key:
        return None
    return conn.execute(
        """SELECT u.id, u.username, u.role, u.is_superuser FROM authtoken_token k
           JOIN leads_user u ON u.id = k.user_id WHERE k.key = %s AND u.is_active""",
        [key],
    ).fetchone()


def _visibility(user: dict) -> tuple[list[str], list]:
    """The app's rule: archived leads are gone for everyone; agents see their own."""
    if user["is_superuser"] or user["role"] in ("manager", "admin"):
        return ["l.archived_at IS NULL"], []
    return ["l.archived_at IS NULL", "l.assigned_to_id = %s"], [user["id"]]


# The list's sort keys (leads.core.filters.SORT_FIELDS) and the columns they sort on.
SORT_COLUMNS = {
    "created_at": "l.created_at",
    "updated_at": "l.updated_at",
    "score": "l.score",
    "status": "l.status",
    "last_contacted_at": "l.last_contacted_at",
    "last_name": "c.last_name",
}
# The filters the lead counters answer (leads.reporting.counts.COUNTED_FILTERS).
COUNTED = frozenset({"status", "lead_type", "assigned_to", "ordering"})


def _first(query: dict[str, list[str]], name: str) -> str:
    return query.get(name, [""])[0].strip()


def _filters(user: dict, query: dict[str, list[str]]) -> tuple[list[str], list]:
    """The app's list filters (leads.core.filters.LeadFilter) as conditions over l, c
    (contact), p (preferences) and t (timeline)."""
    where, params = _visibility(user)
    for name, column in (("status", "l.status"), ("lead_type", "l.lead_type"), ("source", "l.source"),
                         ("urgency", "t.urgency_level")):  # fmt: skip
        values = [part for value in query.get(name, []) for part in value.split(",") if part]
        if values:
            where.append(f"{column} = ANY(%s)")
            params.append(values)
    assigned = _first(query, "assigned_to")
    if assigned in ("unassigned", "none"):
        where.append("l.assigned_to_id IS NULL")
    elif assigned == "me":
        where.append("l.assigned_to_id = %s")
        params.append(user["id"])
    elif assigned.isdigit():
        where.append("l.assigned_to_id = %s")
        params.append(int(assigned))
    elif assigned:
        where.append("l.assigned_to_id IN (SELECT id FROM leads_user WHERE username = %s)")
        params.append(assigned)
    if location := _first(query, "location"):  # the app's icontains on the JSON list of places
        where.append("upper(p.preferred_locations::text) LIKE upper(%s)")
        params.append(f"%{location}%")
    for name, condition in (("score_min", "l.score >= %s"), ("score_max", "l.score <= %s")):
        if value := _first(query, name):
            where.append(condition)
            params.append(int(value))
    for name, condition in (("created_after", "l.created_at >= %s"), ("created_before", "l.created_at < %s")):
        if value := _first(query, name):
            where.append(condition)
            params.append(datetime.fromisoformat(value))
    words = re.findall(r"[^\W_]+", _first(query, "search").casefold())[:5]
    if words:
        # the app's PostgreSQL search (leads.core.search): word prefixes in the GIN-indexed document
        where.append("c.search_document @@ to_tsquery('simple', %s)")
        params.append(" & ".join(f"'{word}':*A" for word in words))
    return where, params


def _list(conn, user: dict, query: dict[str, list[str]]) -> dict:
    page = max(1, int(query.get("page", ["1"])[0]))
    page_size = min(100, max(1, int(query.get("page_size", ["20"])[0])))
    where, params = _filters(user, query)
    count_condition = f"WHERE {' AND '.join(where)}" if where else ""
    count_params = list(params)
    ordering = _first(query, "ordering") or "-created_at"
    column = SORT_COLUMNS[ordering.lstrip("-")]
    direction = "DESC" if ordering.startswith("-") else "ASC"
    cursor = query.get("cursor", [""])[0]
    if cursor:  # the app's keyset page (leads.core.pagination): after (created_at, id), newest first
        micros, lead_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")[1:]
        where.append("l.created_at <= %s AND (l.created_at < %s OR l.id < %s)")
        after = EPOCH + timedelta(microseconds=int(micros))
        params.extend([after, after, int(lead_id)])
        page = 1
    condition = f"WHERE {' AND '.join(where)}" if where else ""
    used = {name for name, values in query.items() if any(value.strip() for value in values)}
    assigned = _first(query, "assigned_to")
    by_key = not assigned or assigned in ("unassigned", "none", "me") or assigned.isdigit()
    if used - {"page", "page_size", "cursor"} <= COUNTED and by_key:
        # the app's maintained counters (leads.reporting.counts): the same sum of a few rows
        total = _counted_total(conn, user, query)
    else:  # only the parts the conditions read are joined (every lead has all three)
        joins = " ".join(
            f"JOIN leads_{table} {alias} ON {alias}.lead_id = l.id"
            for table, alias in (("contact", "c"), ("preferences", "p"), ("timeline", "t"))
            if f"{alias}." in count_condition
        )
        total = conn.execute(
            f"SELECT count(*) AS n FROM leads_lead l {joins} {count_condition}", count_params
        ).fetchone()["n"]
    # sorting by the contact's name: an inner join, so the contact's sort index can lead (as the app does)
    select = (
        LEAD_SELECT.replace("LEFT JOIN leads_contact", "JOIN leads_contact") if column.startswith("c.") else LEAD_SELECT
    )
    rows = conn.execute(
        f"{select} {condition} ORDER BY {column} {direction}, l.id {direction} LIMIT %s OFFSET %s",
        [*params, page_size, (page - 1) * page_size],
    ).fetchall()
    interactions = _interactions(conn, [row["id"] for row in rows])
    return {
        "leads": [_lead_json(row, interactions.get(row["id"], [])) for row in rows],
        "total_count": total,
        "page": page,
        "page_size": page_size,
    }


def _counted_total(conn, user: dict, query: dict[str, list[str]]) -> int:
    # the app's counter key (leads.reporting.counts): the team's rows (-1) for whoever
    # sees every lead, an agent's own otherwise
    sees_all = user["is_superuser"] or user["role"] in ("manager", "admin")
    where, params = ["assigned_to_key = %s"], [-1 if sees_all else user["id"]]
    for name in ("status", "lead_type"):
        values = [part for value in query.get(name, []) for part in value.split(",") if part]
        if values:
            where.append(f"{name} = ANY(%s)")
            params.append(values)
    assigned = _first(query, "assigned_to")
    if assigned:
        agent_key = {"unassigned": 0, "none": 0, "me": user["id"]}.get(assigned)
        where[0], params[0] = "assigned_to_key = %s", agent_key if agent_key is not None else int(assigned)
    condition = f"WHERE {' AND '.join(where)}"
    row = conn.execute(f"SELECT COALESCE(SUM(n), 0) AS n FROM leads_leadcount {condition}", params).fetchone()
    return int(row["n"])


def _detail(conn, user: dict, public_id: str) -> dict | None:
    where, params = _visibility(user)
    where.append("l.public_id = %s")
    row = conn.execute(f"{LEAD_SELECT} WHERE {' AND '.join(where)}", [*params, public_id]).fetchone()
    if row is None:
        return None
    return {"lead": _lead_json(row, _interactions(conn, [row["id"]]).get(row["id"], []))}


def _interactions(conn, lead_ids: list[int]) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    if lead_ids:
        for row in conn.execute(INTERACTION_SELECT, [lead_ids]):
            found.setdefault(row["lead_id"], []).append(row)
    return found


# --- writes ------------------------------------------------------------------


def _create(conn, user: dict, body: dict) -> dict:
    contact, preferences, timeline = body["contact"], body.get("preferences") or {}, body.get("timeline") or {}
    assignee = None if user["role"] in ("manager", "admin") or user["is_superuser"] else user["id"]
    with conn.transaction():
        lead = conn.execute(
            """INSERT INTO leads_lead (created_at, updated_at, public_id, lead_type, source, status, assigned_to_id,
                 score_breakdown, metadata, custom_fields, tags, version, sla_status, processing_status,
                 processing_error, processed_version, furthest_stage, stage_entered_at)
               VALUES (now(), now(), %s, %s, %s, 'new', %s, '[]', '{}', '{}', '[]', 1, 'pending', 'pending', '', 0,
                 0, now())
               RETURNING id, created_at""",
            [f"lead_{secrets.token_hex(12)}", body["lead_type"], body.get("source", "other"), assignee],
        ).fetchone()
        lead_id = lead["id"]
        conn.execute(
            """INSERT INTO leads_contact (lead_id, first_name, last_name, email, phone, phone_is_valid,
                 preferred_contact_method, best_time_to_contact, email_opt_out, sms_opt_out, call_opt_out,
                 preferred_language)
               VALUES (%s, %s, %s, %s, %s, true, 'email', '', false, false, false, '')""",
            [lead_id, contact["first_name"], contact.get("last_name", ""), contact.get("email", ""),
             contact.get("phone", "")],
        )  # fmt: skip
        conn.execute(
            """INSERT INTO leads_preferences (lead_id, property_types, min_price, max_price, preferred_locations,
                 min_bedrooms, must_have_features, nice_to_have_features)
               VALUES (%s, %s, %s, %s, %s, %s, '[]', '[]')""",
            [lead_id, json.dumps(preferences.get("property_types", [])), preferences.get("min_price"),
             preferences.get("max_price"), json.dumps(preferences.get("preferred_locations", [])),
             preferences.get("min_bedrooms")],
        )  # fmt: skip
        conn.execute(
            "INSERT INTO leads_timeline (lead_id, urgency_level, financing_status) VALUES (%s, %s, %s)",
            [lead_id, timeline.get("urgency_level", "normal"), timeline.get("financing_status", "not_started")],
        )
        conn.execute(
            """INSERT INTO leads_statuschange (lead_id, from_status, to_status, changed_by_id, changed_at)
               VALUES (%s, '', 'new', %s, %s)""",
            [lead_id, user["id"], lead["created_at"]],
        )
        _record_event(conn, lead_id, 1, "lead.created")
    return _detail(conn, user, _public_id(conn, lead_id))


def _update(conn, user: dict, public_id: str, body: dict) -> dict | None:
    with conn.transaction():
        lead = _lock(conn, user, public_id)
        if lead is None:
            return None
        if "timeline" in body:
            conn.execute(
                "UPDATE leads_timeline SET urgency_level = %s WHERE lead_id = %s",
                [body["timeline"]["urgency_level"], lead["id"]],
            )
        conn.execute(
            "UPDATE leads_lead SET tags = %s, version = version + 1, updated_at = now() WHERE id = %s",
            [json.dumps(body.get("tags", [])), lead["id"]],
        )
        _record_event(conn, lead["id"], lead["version"] + 1, "lead.updated")
    return _detail(conn, user, public_id)


def _add_interaction(conn, user: dict, public_id: str, body: dict) -> dict | None:
    with conn.transaction():
        lead = _lock(conn, user, public_id)
        if lead is None:
            return None
        conn.execute(
            """INSERT INTO leads_interaction (lead_id, type, direction, summary, notes, next_steps, created_by_id,
                 occurred_at, created_at)
               VALUES (%s, %s, 'outbound', %s, '', '', %s, now(), now())""",
            [lead["id"], body["type"], body["summary"], user["id"]],
        )
        conn.execute(
            """UPDATE leads_lead SET version = version + 1, updated_at = now(), last_contacted_at = now(),
                 first_contacted_at = coalesce(first_contacted_at, now()) WHERE id = %s""",
            [lead["id"]],
        )
        _record_event(conn, lead["id"], lead["version"] + 1, "interaction.added")
    return _detail(conn, user, public_id)


def _lock(conn, user: dict, public_id: str) -> dict | None:
    where, params = _visibility(user)
    where.append("l.public_id = %s")
    return conn.execute(
        f"SELECT l.id, l.version FROM leads_lead l WHERE {' AND '.join(where)} FOR UPDATE", [*params, public_id]
    ).fetchone()


def _record_event(conn, lead_id: int, version: int, kind: str) -> None:
    """The lead event (the after-save work's outbox row) the app writes in the same transaction."""
    conn.execute(
        """INSERT INTO leads_leadevent (event_id, lead_id, lead_version, kind, data, channel, occurred_at,
             relay_attempts, relay_error)
           VALUES (gen_random_uuid(), %s, %s, %s, '{}', 'api', now(), 0, '')""",
        [lead_id, version, kind],
    )


def _public_id(conn, lead_id: int) -> str:
    return conn.execute("SELECT public_id FROM leads_lead WHERE id = %s", [lead_id]).fetchone()["public_id"]


# --- encoding ----------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def _number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _lead_json(row: dict, interactions: list[dict]) -> dict:
    move_date: date | None = row["target_move_date"]
    return {
        "id": row["public_id"],
        "contact": {
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "email": row["email"] or None,
            "phone": row["phone"] or None,
            "phone_is_valid": row["phone_is_valid"] if row["phone"] else None,
            "preferred_contact_method": row["preferred_contact_method"],
            "best_time_to_contact": row["best_time_to_contact"] or None,
            "email_opt_out": row["email_opt_out"],
            "sms_opt_out": row["sms_opt_out"],
            "call_opt_out": row["call_opt_out"],
            "preferred_language": row["preferred_language"] or None,
        },
        "lead_type": row["lead_type"],
        "source": row["source"],
        "status": row["status"],
        "assigned_to": row["assigned_username"],
        "score": row["score"],
        "score_breakdown": row["score_breakdown"],
        "preferences": {
            "property_types": row["property_types"],
            "min_price": _number(row["min_price"]),
            "max_price": _number(row["max_price"]),
            "preferred_locations": row["preferred_locations"],
            "min_bedrooms": row["min_bedrooms"],
            "min_bathrooms": _number(row["min_bathrooms"]),
            "min_square_feet": row["min_square_feet"],
            "must_have_features": row["must_have_features"],
            "nice_to_have_features": row["nice_to_have_features"],
        },
        "timeline": {
            "urgency_level": row["urgency_level"],
            "financing_status": row["financing_status"],
            "target_move_date": move_date.isoformat() if move_date else None,
            "pre_approval_amount": _number(row["pre_approval_amount"]),
        },
        "interactions": [
            {
                "id": item["id"],
                "type": item["type"],
                "direction": item["direction"],
                "summary": item["summary"],
                "notes": item["notes"],
                "next_steps": item["next_steps"],
                "next_follow_up": _iso(item["follow_up_due_at"]),
                "timestamp": _iso(item["occurred_at"]),
                "created_by": item["username"],
                "created_at": _iso(item["created_at"]),
            }
            for item in interactions
        ],
        "tags": row["tags"],
        "version": row["version"],
        "processing": {
            "status": row["processing_status"],
            "processed_version": row["processed_version"],
            "error": row["processing_error"] or None,
        },
        "sla": {"first_contact_due_at": _iso(row["sla_due_at"]), "status": row["sla_status"]},
        "first_contacted_at": _iso(row["first_contacted_at"]),
        "last_contacted_at": _iso(row["last_contacted_at"]),
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "metadata": {
            **row["custom_fields"],
            "market_analysis": row["metadata"].get("market_analysis", {}),
            "lead_insights": row["metadata"].get("lead_insights", {}),
        },
    }


def _body(environ) -> dict:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return json.loads(environ["wsgi.input"].read(length) or b"{}")


def _respond(start_response, status: int, body: dict):
    reasons = {200: "OK", 201: "Created", 401: "Unauthorized", 404: "Not Found"}
    payload = json.dumps(body).encode()
    start_response(
        f"{status} {reasons[status]}", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]
