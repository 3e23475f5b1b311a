"""What the model may know about a lead at a point in time, as a numeric matrix built with
SQL aggregates (a few GROUP BY queries per batch, never one query per lead).

**Point in time.** A training row describes a lead *as it was at its snapshot*: the lead's
age at the snapshot is one of ``SNAPSHOT_AGES_DAYS`` (picked from its id, and moved earlier
when the lead was already won or lost by then). Interactions and status changes are
grouped in SQL by the age bucket they fell in (``_age_bucket``); a row adds up only the
buckets before its snapshot, so nothing that happened later reaches it. Scoring an open
lead uses the same features as of now.

**Fair housing.** No name, email address or domain, phone area code, language, free text,
tags or location: a place enters only through the budget-vs-market comparison the market
step made (within / above / below the median, and by how much).

Each feature belongs to a *group* (financing, replies...), the unit its explanation
speaks of (``describe``).
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, QuerySet, Value, When
from django.db.models.fields.json import KT

from leads.models import (
    FinancingStatus,
    Interaction,
    InteractionDirection,
    InteractionType,
    Lead,
    LeadSource,
    LeadStatus,
    LeadType,
    StatusChange,
    UrgencyLevel,
)

SNAPSHOT_AGES_DAYS = (0, 1, 3, 7, 14, 30, 60, 120, 180)
DAY = 86400.0
STAGES = ["new", "contacted", "qualified", "showing", "offer", "under_contract"]
STAGE_RANK = {stage: rank for rank, stage in enumerate(STAGES)}
STAGE_LABELS = dict(LeadStatus.choices)
BUDGET_POSITIONS = ["within", "above", "below", "unknown"]
FACE_TO_FACE = (InteractionType.MEETING, InteractionType.SHOWING)
_CHUNK = 20000


def _one_hot(group: str, values) -> list[tuple[str, str]]:
    return [(f"{group}={value}", group) for value in values]


# (feature name, group), in matrix column order.
FEATURES: list[tuple[str, str]] = [
    *_one_hot("lead_type", LeadType.values),
    *_one_hot("source", LeadSource.values),
    *_one_hot("urgency", UrgencyLevel.values),
    *_one_hot("financing", FinancingStatus.values),
    *_one_hot("budget", BUDGET_POSITIONS),
    ("budget_gap_below", "budget"),
    ("pre_approval_amount", "financing"),
    ("has_email", "contact"),
    ("valid_phone", "contact"),
    ("log_age_days", "age"),
    ("log_interactions", "interactions"),
    ("log_replies", "replies"),
    ("log_meetings", "meetings"),
    ("log_calls", "calls"),
    ("never_contacted", "first_contact"),
    ("log_hours_to_first_contact", "first_contact"),
    ("log_days_since_sign_of_life", "recency"),
    *_one_hot("stage", STAGES[1:]),
    ("nurture", "stage"),
]
FEATURE_NAMES = [name for name, _ in FEATURES]
FEATURE_GROUPS = [group for _, group in FEATURES]
COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}


@dataclass
class Frame:
    """Feature rows for ``lead_pks`` as of ``snapshot_at`` (epoch seconds), plus what
    ``describe`` needs to explain them in words (``facts``: raw counts and ages)."""

    lead_pks: np.ndarray
    snapshot_at: np.ndarray
    X: np.ndarray
    facts: dict[str, np.ndarray]


@dataclass
class TrainingSet:
    frame: Frame
    won: np.ndarray  # 1 when the lead reached closed within the horizon after its snapshot
    eligible_leads: int
    censored_leads: int


# --- SQL ------------------------------------------------------------------------------


def _age_bucket(field: str, created: str) -> Case:
    """The bucket of an event by the lead's age when it happened: 0 before arrival, k when
    the age is in [AGES[k-1], AGES[k]) days, len(AGES) from the last age on. A snapshot at
    AGES[s] sees the buckets 0..s exactly."""
    whens = [
        When(**{f"{field}__lt": F(created) + timedelta(days=days)}, then=Value(index))
        for index, days in enumerate(SNAPSHOT_AGES_DAYS)
    ]
    return Case(*whens, default=Value(len(SNAPSHOT_AGES_DAYS)), output_field=IntegerField())


def _stage_rank() -> Case:
    return Case(
        *[When(to_status=stage, then=Value(rank)) for stage, rank in STAGE_RANK.items()],
        default=Value(0),
        output_field=IntegerField(),
    )


def _epoch(value: datetime | None) -> float:
    return value.timestamp() if value is not None else math.nan


def _lead_rows(leads: QuerySet[Lead]):
    budget = "metadata__market_analysis__locations__0__budget_fit"
    return (
        leads.order_by("pk")
        .annotate(budget_position=KT(f"{budget}__position"), budget_gap=KT(f"{budget}__difference_pct"))
        .values_list(
            "pk",
            "created_at",
            "status",
            "updated_at",
            "lead_type",
            "source",
            "timeline__urgency_level",
            "timeline__financing_status",
            "timeline__pre_approval_amount",
            "contact__email",
            "contact__phone",
            "contact__phone_is_valid",
            "budget_position",
            "budget_gap",
        )
    )


def _base(leads: QuerySet[Lead]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pks in ascending order, created_at, X with the lead's own columns filled, status
    codes, updated_at), read in chunks so memory stays at the arrays' size."""
    parts = [_base_chunk(chunk) for chunk in _chunks(_lead_rows(leads).iterator(chunk_size=_CHUNK))]
    if not parts:
        empty = np.zeros(0)
        return np.zeros(0, np.int64), empty, np.zeros((0, len(FEATURES))), np.zeros(0, object), empty
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def _chunks(rows):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _base_chunk(rows: list[tuple]):
    n = len(rows)
    X = np.zeros((n, len(FEATURES)), dtype=np.float64)
    pks = np.fromiter((row[0] for row in rows), dtype=np.int64, count=n)
    created = np.fromiter((_epoch(row[1]) for row in rows), dtype=np.float64, count=n)
    updated = np.fromiter((_epoch(row[3]) for row in rows), dtype=np.float64, count=n)
    status = np.array([row[2] for row in rows], dtype=object)
    for i, row in enumerate(rows):
        (_, _, _, _, lead_type, source, urgency, financing, pre_approval, email, phone, phone_ok, position, gap) = row
        for name in (f"lead_type={lead_type}", f"source={source}", f"urgency={urgency}", f"financing={financing}"):
            column = COLUMN.get(name)
            if column is not None:
                X[i, column] = 1.0
        position = position if position in ("within", "above", "below") else "unknown"
        X[i, COLUMN[f"budget={position}"]] = 1.0
        if position == "below":
            X[i, COLUMN["budget_gap_below"]] = min(abs(_number(gap)), 100.0) / 100.0
        X[i, COLUMN["pre_approval_amount"]] = 1.0 if pre_approval is not None else 0.0
        X[i, COLUMN["has_email"]] = 1.0 if email else 0.0
        X[i, COLUMN["valid_phone"]] = 1.0 if phone and phone_ok else 0.0
    return pks, created, X, status, updated


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _status_rows(leads: QuerySet[Lead], bucketed: bool, until: datetime | None):
    changes = StatusChange.objects.filter(lead__in=leads.values("pk"))
    if until is not None:
        changes = changes.filter(changed_at__lte=until)
    bucket = _age_bucket("changed_at", "lead__created_at") if bucketed else Value(0, output_field=IntegerField())
    return (
        changes.annotate(bucket=bucket, rank=_stage_rank())
        .order_by()
        .values("lead_id", "bucket")
        .annotate(
            top=Max("rank"),
            closed_at=Min("changed_at", filter=Q(to_status=LeadStatus.CLOSED)),
            lost_at=Min("changed_at", filter=Q(to_status=LeadStatus.LOST)),
            nurture=Count("id", filter=Q(to_status=LeadStatus.NURTURE)),
        )
        .values_list("lead_id", "bucket", "top", "nurture", "closed_at", "lost_at")
    )


def _interaction_rows(leads: QuerySet[Lead], bucketed: bool, until: datetime | None):
    interactions = Interaction.objects.filter(lead__in=leads.values("pk")).exclude(
        direction=InteractionDirection.INTERNAL
    )
    if until is not None:
        interactions = interactions.filter(occurred_at__lte=until)
    bucket = _age_bucket("occurred_at", "lead__created_at") if bucketed else Value(0, output_field=IntegerField())
    sign_of_life = Q(direction=InteractionDirection.INBOUND) | Q(type__in=FACE_TO_FACE)
    return (
        interactions.annotate(bucket=bucket)
        .order_by()
        .values("lead_id", "bucket")
        .annotate(
            total=Count("id"),
            replies=Count("id", filter=Q(direction=InteractionDirection.INBOUND)),
            meetings=Count("id", filter=Q(type__in=FACE_TO_FACE)),
            calls=Count("id", filter=Q(type=InteractionType.CALL)),
            first_at=Min("occurred_at"),
            life_at=Max("occurred_at", filter=sign_of_life),
        )
        .values_list("lead_id", "bucket", "total", "replies", "meetings", "calls", "first_at", "life_at")
    )


def _columns(rows, pks: np.ndarray, counts: int) -> dict[str, np.ndarray]:
    """A GROUP BY result ``(lead_id, bucket, *counts, *times)`` as numpy columns: ``lead``
    (the row in the frame, found in the ascending ``pks``), ``bucket``, ``ints`` and
    ``times`` (epoch seconds, NaN for none). Read in chunks."""
    parts = []
    for chunk in _chunks(rows.iterator(chunk_size=_CHUNK)):
        ids = np.fromiter((row[0] for row in chunk), dtype=np.int64, count=len(chunk))
        position = np.minimum(np.searchsorted(pks, ids), max(len(pks) - 1, 0))
        known = (pks[position] == ids) if len(pks) else np.zeros(len(ids), bool)
        parts.append(
            (
                position[known],
                np.fromiter((row[1] for row in chunk), dtype=np.int64, count=len(chunk))[known],
                np.array([row[2 : 2 + counts] for row in chunk], dtype=np.float64).reshape(len(chunk), counts)[known],
                np.array([[_epoch(value) for value in row[2 + counts :]] for row in chunk], dtype=np.float64).reshape(
                    len(chunk), 2
                )[known],
            )
        )
    if not parts:
        return {
            "lead": np.zeros(0, np.int64),
            "bucket": np.zeros(0, np.int64),
            "ints": np.zeros((0, counts)),
            "times": np.zeros((0, 2)),
        }
    lead, bucket, ints, times = (np.concatenate(column) for column in zip(*parts, strict=True))
    return {"lead": lead, "bucket": bucket, "ints": ints, "times": times}


# --- assembling -------------------------------------------------------------------------


def _fill_activity(
    X: np.ndarray, facts: dict, created: np.ndarray, snapshot: np.ndarray, visible: dict, inter: dict, status: dict
) -> None:
    """Fill the time-dependent columns from the buckets each row may see (``visible[k]``:
    the mask of ``inter``/``status`` rows before the row's snapshot)."""
    n = len(created)
    totals = np.zeros((n, 4))
    first = np.full(n, np.inf)
    life = np.full(n, -np.inf)
    mask = visible["inter"]
    if mask.any():
        lead = inter["lead"][mask]
        np.add.at(totals, lead, inter["ints"][mask][:, :4])
        first_at, life_at = inter["times"][mask][:, 0], inter["times"][mask][:, 1]
        np.minimum.at(first, lead, np.where(np.isnan(first_at), np.inf, first_at))
        np.maximum.at(life, lead, np.where(np.isnan(life_at), -np.inf, life_at))
    top = np.zeros(n)
    nurture = np.zeros(n)
    mask = visible["status"]
    if mask.any():
        lead = status["lead"][mask]
        np.maximum.at(top, lead, status["ints"][mask][:, 0])
        np.add.at(nurture, lead, status["ints"][mask][:, 1])
    age_days = np.maximum(snapshot - created, 0.0) / DAY
    contacted = np.isfinite(first)
    hours_to_first = np.where(contacted, np.maximum(first - created, 0.0) / 3600.0, 0.0)
    last_life = np.maximum(created, life)
    days_since_life = np.maximum(snapshot - last_life, 0.0) / DAY
    X[:, COLUMN["log_age_days"]] = np.log1p(age_days)
    X[:, COLUMN["log_interactions"]] = np.log1p(totals[:, 0])
    X[:, COLUMN["log_replies"]] = np.log1p(totals[:, 1])
    X[:, COLUMN["log_meetings"]] = np.log1p(totals[:, 2])
    X[:, COLUMN["log_calls"]] = np.log1p(totals[:, 3])
    X[:, COLUMN["never_contacted"]] = (~contacted).astype(float)
    X[:, COLUMN["log_hours_to_first_contact"]] = np.log1p(hours_to_first)
    X[:, COLUMN["log_days_since_sign_of_life"]] = np.log1p(days_since_life)
    for rank, stage in enumerate(STAGES[1:], start=1):
        X[:, COLUMN[f"stage={stage}"]] = (top == rank).astype(float)
    X[:, COLUMN["nurture"]] = (nurture > 0).astype(float)
    facts.update(
        {
            "interactions": totals[:, 0],
            "replies": totals[:, 1],
            "meetings": totals[:, 2],
            "calls": totals[:, 3],
            "age_days": age_days,
            "hours_to_first_contact": np.where(contacted, hours_to_first, np.nan),
            "days_since_sign_of_life": days_since_life,
            "stage": top,
        }
    )


def current_frame(leads: QuerySet[Lead], *, now: datetime) -> Frame:
    """Feature rows of ``leads`` as of ``now`` (for scoring): six queries, whatever the count."""
    pks, created, X, _, _ = _base(leads)
    inter = _columns(_interaction_rows(leads, False, now), pks, 4)
    status = _columns(_status_rows(leads, False, now), pks, 2)
    snapshot = np.full(len(pks), now.timestamp())
    visible = {"inter": np.ones(len(inter["lead"]), bool), "status": np.ones(len(status["lead"]), bool)}
    facts = _base_facts(X)
    _fill_activity(X, facts, created, snapshot, visible, inter, status)
    return Frame(lead_pks=pks, snapshot_at=snapshot, X=X, facts=facts)


def training_set(leads: QuerySet[Lead], *, now: datetime, horizon_days: int) -> TrainingSet:
    """One row per lead whose outcome is known, as the lead was at its snapshot.

    The label: did the lead reach closed within ``horizon_days`` after its snapshot? A
    row counts once the horizon after its snapshot has passed (else it is censored: left
    out), and only if the lead was still open at its snapshot. Three queries.
    """
    pks, created, X, status_codes, updated = _base(leads)
    status = _columns(_status_rows(leads, True, None), pks, 2)
    inter = _columns(_interaction_rows(leads, True, None), pks, 4)
    n = len(pks)
    closed_at = np.full(n, np.inf)
    lost_at = np.full(n, np.inf)
    if len(status["lead"]):
        np.minimum.at(closed_at, status["lead"], np.nan_to_num(status["times"][:, 0], nan=np.inf))
        np.minimum.at(lost_at, status["lead"], np.nan_to_num(status["times"][:, 1], nan=np.inf))
    # A lead closed or lost with no recorded change (imported that way): its last update.
    closed_at = np.where((status_codes == LeadStatus.CLOSED) & ~np.isfinite(closed_at), updated, closed_at)
    lost_at = np.where((status_codes == LeadStatus.LOST) & ~np.isfinite(lost_at), updated, lost_at)
    ages = np.asarray(SNAPSHOT_AGES_DAYS, dtype=np.float64) * DAY
    # Landmarks: each lead is looked at once, at an age picked from its id (stable, spread
    # over the ages), and counts only if it was still open then (at risk at that age).
    snapshot_index = (pks * 2654435761) % len(SNAPSHOT_AGES_DAYS)
    at_risk = np.minimum(closed_at, lost_at) - created > ages[snapshot_index]
    snapshot = created + ages[snapshot_index]
    horizon = horizon_days * DAY
    nowe = now.timestamp()
    won = (closed_at > snapshot) & (closed_at <= snapshot + horizon)
    # Only rows whose horizon has fully passed: counting the recent wins while their
    # still-open peers wait would make recent leads look better than they are.
    known = at_risk & (snapshot + horizon <= nowe)
    visible = {
        "inter": inter["bucket"] <= snapshot_index[inter["lead"]] if len(inter["lead"]) else np.zeros(0, bool),
        "status": status["bucket"] <= snapshot_index[status["lead"]] if len(status["lead"]) else np.zeros(0, bool),
    }
    facts = _base_facts(X)
    _fill_activity(X, facts, created, snapshot, visible, inter, status)
    keep = np.flatnonzero(known)
    frame = Frame(
        lead_pks=pks[keep],
        snapshot_at=snapshot[keep],
        X=X[keep],
        facts={name: values[keep] for name, values in facts.items()},
    )
    return TrainingSet(
        frame=frame, won=won[keep].astype(int), eligible_leads=len(keep), censored_leads=int(n - len(keep))
    )


def _base_facts(X: np.ndarray) -> dict[str, np.ndarray]:
    return {"budget_gap_below": X[:, COLUMN["budget_gap_below"]] * 100}


# --- words ----------------------------------------------------------------------------

_LABELS = {
    "lead_type": dict(LeadType.choices),
    "source": dict(LeadSource.choices),
    "urgency": dict(UrgencyLevel.choices),
    "financing": dict(FinancingStatus.choices),
}


def _plural(count: float, word: str) -> str:
    whole = round(count)
    return f"{whole} {word}{'' if whole == 1 else 's'}"


def describe(group: str, x: np.ndarray, facts: dict[str, float]) -> str:
    """The lead's value for ``group`` in plain words (``x``: its feature row)."""
    if group in _LABELS:
        for value, label in _LABELS[group].items():
            if x[COLUMN[f"{group}={value}"]]:
                if group == "lead_type":
                    return f"{label} lead"
                if group == "source":
                    return f"from {label}"
                if group == "urgency":
                    return f"urgency {label.lower()}"
                return label.lower() if value != FinancingStatus.NOT_STARTED else "financing not started"
        return f"{group.replace('_', ' ')} unknown"
    if group == "budget":
        if x[COLUMN["budget=within"]]:
            return "budget within the market"
        if x[COLUMN["budget=above"]]:
            return "budget above the market median"
        if x[COLUMN["budget=below"]]:
            return f"budget {facts['budget_gap_below']:.0f}% under the market median"
        return "no budget comparison with the market"
    if group == "contact":
        email = "email" if x[COLUMN["has_email"]] else "no email"
        phone = "valid phone" if x[COLUMN["valid_phone"]] else "no valid phone"
        return f"{email}, {phone}"
    if group == "age":
        return "arrived today" if facts["age_days"] < 1 else f"arrived {_plural(facts['age_days'], 'day')} ago"
    if group == "interactions":
        return f"{_plural(facts['interactions'], 'interaction')} logged"
    if group == "replies":
        return "no reply yet" if not facts["replies"] else f"{_plural(facts['replies'], 'reply')} from the lead"
    if group == "meetings":
        return "no meeting or showing" if not facts["meetings"] else _plural(facts["meetings"], "meeting or showing")
    if group == "calls":
        return _plural(facts["calls"], "call")
    if group == "first_contact":
        hours = facts["hours_to_first_contact"]
        if math.isnan(hours):
            return "never contacted"
        if hours < 1:
            return "first contact within the hour"
        return (
            f"first contact after {_plural(hours, 'hour')}"
            if hours < 48
            else f"first contact after {hours / 24:.0f} days"
        )
    if group == "recency":
        days = facts["days_since_sign_of_life"]
        return "a sign of life today" if days < 1 else f"no sign of life in {_plural(days, 'day')}"
    if group == "stage":
        stage = STAGES[int(facts["stage"])]
        text = f"reached {STAGE_LABELS[stage].lower()}" if stage != "new" else "still new"
        return text + (", moved to nurture" if x[COLUMN["nurture"]] else "")
    return group.replace("_", " ")
