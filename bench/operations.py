"""The measured operations: what each sends to the app and to the floor."""

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from bench.dataset import SEARCH_TERM
from bench.loadgen import Call

API = "/api/v2/leads"
URGENCIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class Context:
    manager_token: str
    agent_token: str
    lead_ids: list[str]  # a spread sample of the loaded leads' public ids
    tag: str  # makes this run's emails unique
    cursors: dict[str, str]  # next_cursor values deep in the list: "page500" (after 9,980 leads), "last"

    def lead(self, index: int, part: int) -> str:
        """Lead ``index`` of the sample's ``part``-th quarter (each write operation has its own)."""
        quarter = max(1, len(self.lead_ids) // 4)
        return self.lead_ids[(part * quarter + index % quarter) % len(self.lead_ids)]


@dataclass(frozen=True)
class Operation:
    key: str
    title: str
    app: Callable[[Context, int], Call]
    floor: Callable[[Context, int], Call] | None
    writes: bool = False


_payload_numbers = itertools.count(1)


def lead_payload(index: int, tag: str) -> dict:
    """A create body both the API and the floor take. Email and phone are new on
    every call, so duplicate detection never turns a bench create into a match."""
    number = next(_payload_numbers)
    return {
        "contact": {
            "first_name": "Bench",
            "last_name": f"Create{index}",
            "email": f"bench.{tag}.{index}.{number}@create.example",
            "phone": f"+1510{number % 10_000_000:07d}",
        },
        "lead_type": "buyer",
        "source": "website",
        "preferences": {
            "property_types": ["single_family"],
            "min_price": 400_000,
            "max_price": 650_000,
            "preferred_locations": ["Oakland"],
            "min_bedrooms": 2,
        },
        "timeline": {"urgency_level": "high", "financing_status": "pre_approved"},
    }


def update_payload(index: int) -> dict:
    return {"timeline": {"urgency_level": URGENCIES[index % 4]}, "tags": ["bench", f"update-{index}"]}


def interaction_payload(index: int) -> dict:
    return {"type": "call", "summary": f"Bench call {index}"}


def _get(path: str, *, agent: bool = False):
    return lambda ctx, _index: Call("GET", path, token=ctx.agent_token if agent else ctx.manager_token)


def _list_query(query: str) -> tuple[str, str]:
    return f"{API}?{query}" if query else API, f"/leads?{query}" if query else "/leads"


def _list_operation(key: str, title: str, query: str, *, agent: bool = False) -> Operation:
    app_path, floor_path = _list_query(query)
    return Operation(key, title, _get(app_path, agent=agent), _get(floor_path, agent=agent))


OPERATIONS = (
    _list_operation("list_page1", "list page 1 (no filter)", ""),
    _list_operation("list_filtered", "list, status + lead_type filters", "status=qualified&lead_type=buyer"),
    _list_operation("list_search", f"list, free-text search ({SEARCH_TERM!r})", f"search={SEARCH_TERM}"),
    _list_operation("list_page500", "list page 500", "page=500"),
    _list_operation("list_agent", "list page 1 as an agent (own leads)", "", agent=True),
    *(
        Operation(
            f"list_cursor_{depth}",
            title,
            lambda ctx, _i, depth=depth: Call("GET", f"{API}?cursor={ctx.cursors[depth]}", token=ctx.manager_token),
            lambda ctx, _i, depth=depth: Call("GET", f"/leads?cursor={ctx.cursors[depth]}", token=ctx.manager_token),
        )
        for depth, title in (
            ("page500", "list by cursor, as deep as page 500"),
            ("last", "list by cursor, the last page"),
        )
    ),
    Operation(
        "detail",
        "lead detail",
        lambda ctx, i: Call("GET", f"{API}/{ctx.lead(i, 0)}", token=ctx.manager_token),
        lambda ctx, i: Call("GET", f"/leads/{ctx.lead(i, 0)}", token=ctx.manager_token),
    ),
    Operation(
        "create",
        "create",
        lambda ctx, i: Call.json("POST", API, lead_payload(i, ctx.tag), token=ctx.manager_token),
        lambda ctx, i: Call.json("POST", "/leads", lead_payload(i, f"{ctx.tag}f"), token=ctx.manager_token),
        writes=True,
    ),
    Operation(
        "update",
        "update (PATCH)",
        lambda ctx, i: Call.json(
            "PATCH", f"{API}/{ctx.lead(i, 1)}", update_payload(i), token=ctx.manager_token, expect=(200,)
        ),
        lambda ctx, i: Call.json(
            "PATCH", f"/leads/{ctx.lead(i, 1)}", update_payload(i), token=ctx.manager_token, expect=(200,)
        ),
        writes=True,
    ),
    Operation(
        "interaction",
        "add interaction",
        lambda ctx, i: Call.json(
            "POST", f"{API}/{ctx.lead(i, 2)}/interactions", interaction_payload(i), token=ctx.manager_token
        ),
        lambda ctx, i: Call.json(
            "POST", f"/leads/{ctx.lead(i, 2)}/interactions", interaction_payload(i), token=ctx.manager_token
        ),
        writes=True,
    ),
)

BATCH_SIZE = 500


def batch_call(ctx: Context, index: int) -> Call:
    """POST /api/v2/leads/batch with 500 new leads (200 with one result per item)."""
    body = {"leads": [lead_payload(index * BATCH_SIZE + n, f"{ctx.tag}b") for n in range(BATCH_SIZE)]}
    return Call.json("POST", f"{API}/batch", body, token=ctx.manager_token, expect=(200, 201, 207))


# Counted for queries only: the same list with the largest page, and a batch of 500.
QUERY_ONLY = (
    _list_operation("list_page1_size100", "list page 1, page_size=100", "page_size=100"),
    Operation("batch", f"batch create of {BATCH_SIZE}", batch_call, None, writes=True),
)
