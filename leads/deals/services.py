"""Writes of deals and source spend. A deal is written inside the lead's write
(``leads.core.writes.lead_write``): the lead is locked, and recording a closed deal
moves the lead to ``closed`` in the same transaction. Closing a lead needs its deal:
``require_closing_deal`` is checked by the status change
(``LeadManagementService.change_status`` / ``update_lead``)."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction

from leads.accounts import permissions
from leads.audit.history import AuditContext
from leads.core.writes import LeadWrite, lead_write
from leads.deals.inputs import SpendInput
from leads.deals.models import Deal, DealStage, SourceSpend
from leads.errors import ValidationFailed
from leads.models import AuditChannel, LeadStatus, User

CLOSING_DEAL_MESSAGE = (
    "Closing a lead needs its deal: record the closed deal (address, price, commission) with the status change."
)
SPEND_IMPORT_MAX_ROWS = 5000


def team_commission(*, price: Decimal, rate: Decimal | None, amount: Decimal | None, split: Decimal) -> Decimal:
    """The team's share of the commission: the amount (or rate x price) times the split."""
    gross = amount if amount is not None else price * (rate or 0) / 100
    return (gross * split / 100).quantize(Decimal("0.01"))


def deal_record_in(write: LeadWrite, data: dict[str, Any], *, actor: User | None) -> Deal:
    """Record the deal ``data`` (``DealInput`` values) on the lead locked by ``write``;
    a closed deal moves the lead to closed."""
    lead = write.lead
    deal = Deal(
        lead=lead,
        agent=data.get("agent") or lead.assigned_to,
        property_address=data["property_address"],
        price=data["price"],
        commission_rate=data.get("commission_rate"),
        commission_amount=data.get("commission_amount"),
        team_split=data.get("team_split", Decimal("100")),
        stage=data.get("stage") or DealStage.UNDER_CONTRACT,
        contract_date=data.get("contract_date"),
        closed_on=data.get("closed_on"),
        created_by=actor,
    )
    _price_commission(deal)
    deal.save()
    if deal.stage == DealStage.CLOSED:
        write.change_status(LeadStatus.CLOSED)
    elif deal.stage == DealStage.UNDER_CONTRACT and lead.status in OPEN_BEFORE_CONTRACT:
        write.change_status(LeadStatus.UNDER_CONTRACT)
    return deal


OPEN_BEFORE_CONTRACT = {
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.NURTURE,
}


def deal_create(*, actor: User, lead_id: str, data: dict[str, Any], channel: str = AuditChannel.API) -> Deal:
    """Record a deal on a lead the actor may see (NotFound otherwise)."""
    with lead_write(lead_id, context=AuditContext(actor=actor, channel=channel)) as write:
        return deal_record_in(write, data, actor=actor)


def deal_save(deal: Deal, *, actor: User, channel: str = AuditChannel.ADMIN) -> Deal:
    """Save a deal added or changed in the admin, inside its lead's write: the
    commission recomputed, and a closed deal closes its lead (NotFound when the actor
    may not see the lead)."""
    if deal.stage == DealStage.CLOSED and deal.closed_on is None:
        raise ValidationFailed(fields={"closed_on": ["A closed deal needs its closing date."]})
    _price_commission(deal)
    with lead_write(deal.lead.public_id, context=AuditContext(actor=actor, channel=channel)) as write:
        deal.lead = write.lead
        if deal.created_by_id is None:
            deal.created_by = actor
        deal.save()
        if deal.stage == DealStage.CLOSED:
            write.change_status(LeadStatus.CLOSED)
    return deal


def require_closing_deal(write: LeadWrite, status: str) -> None:
    """Refuse a move to ``closed`` of a lead without a closed deal."""
    if status != LeadStatus.CLOSED or write.lead.status == LeadStatus.CLOSED:
        return
    if not Deal.objects.filter(lead=write.lead, stage=DealStage.CLOSED).exists():
        raise ValidationFailed(CLOSING_DEAL_MESSAGE, fields={"deal": [CLOSING_DEAL_MESSAGE]})


def _price_commission(deal: Deal) -> None:
    deal.team_commission = team_commission(
        price=deal.price, rate=deal.commission_rate, amount=deal.commission_amount, split=deal.team_split
    )


# --- source spend ------------------------------------------------------------------


def spend_set(*, actor: User, source: str, month: date, amount: Decimal) -> SourceSpend:
    """Record (or correct) the spend of the actor's team on ``source`` in ``month``."""
    permissions.require(permissions.can_see_team_reports, actor)
    month = month.replace(day=1)
    with transaction.atomic():
        spend, _ = SourceSpend.objects.select_for_update().get_or_create(
            team_id=actor.team_id, source=source, month=month, defaults={"amount": amount, "recorded_by": actor}
        )
        if spend.amount != amount:
            spend.amount, spend.recorded_by = amount, actor
            spend.save(update_fields=["amount", "recorded_by", "updated_at"])
    return spend


@dataclass
class SpendImport:
    saved: int = 0
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # by CSV line number


def spend_import_csv(*, actor: User, text: str) -> SpendImport:
    """Import ``source,month,amount`` rows (a header line first). All or nothing: any
    bad row saves none and the errors name each bad line."""
    permissions.require(permissions.can_see_team_reports, actor)
    reader = csv.DictReader(io.StringIO(text))
    missing = {"source", "month", "amount"} - {name.strip().lower() for name in reader.fieldnames or []}
    if missing:
        raise ValidationFailed(
            fields={"file": [f"The header must name source, month and amount (missing: {', '.join(sorted(missing))})."]}
        )
    result, rows = SpendImport(), []
    for line, row in enumerate(reader, start=2):
        if line - 1 > SPEND_IMPORT_MAX_ROWS:
            raise ValidationFailed(fields={"file": [f"At most {SPEND_IMPORT_MAX_ROWS} rows per file."]})
        values = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
        values["amount"] = values.get("amount", "").replace("$", "").replace(",", "")
        serializer = SpendInput(data=values)
        if serializer.is_valid():
            rows.append(serializer.validated_data)
        else:
            result.errors[line] = {
                key: [str(message) for message in messages] for key, messages in serializer.errors.items()
            }
    if result.errors:
        return result
    with transaction.atomic():
        for row in rows:
            spend_set(actor=actor, source=row["source"], month=row["month"], amount=row["amount"])
            result.saved += 1
    return result
