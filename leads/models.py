"""The ``leads`` app's models, each kept with its concept and registered here
(Django finds an app's models through this module):

- ``leads.accounts.models``: users and roles;
- ``leads.core.models``: the lead, its parts, interactions, status history, follow-ups;
- ``leads.events.models``: what each save did (the outbox integrations subscribe to);
- ``leads.audit.models``: the audit history;
- ``leads.merges.models``: merges and their undo snapshots;
- ``leads.imports.models``: CSV import jobs;
- ``leads.reporting.models``: exact lead counters and saved filters;
- ``leads.deals.models``: deals (and their commission) and source spend;
- ``leads.reports.models``: who opted out of the weekly report email; stays in a stage;
- ``leads.api.models``: Idempotency-Key answers;
- ``leads.webevents.models``: what the lead did on the team's websites and alert emails.

Every table stays in the ``leads`` app (``leads_lead``, ``leads_contact``...): the
split is of modules, not of tables, so no migration moved anything.
"""

from leads.accounts.models import Role, Team, TimeOff, User, WorkingHours
from leads.api.models import IdempotencyRecord
from leads.audit.models import AuditChannel, AuditEntry
from leads.core.models import (
    Contact,
    ContactChannel,
    FinancingStatus,
    FollowUpKind,
    FollowUpTask,
    Interaction,
    InteractionDirection,
    InteractionType,
    Lead,
    LeadSource,
    LeadStatus,
    LeadType,
    Preferences,
    ProcessingStatus,
    PropertyType,
    SlaStatus,
    StatusChange,
    Timeline,
    TimestampedModel,
    UrgencyLevel,
    new_public_lead_id,
)
from leads.deals.models import Deal, DealStage, SourceSpend
from leads.events.models import LeadEvent, LeadEventKind
from leads.imports.models import ImportStatus, LeadImport
from leads.merges.models import LeadMerge, new_public_merge_id
from leads.reporting.models import LeadCount, SavedFilter
from leads.reports.models import ActivityTally, StageStay, WeeklyReportOptOut
from leads.webevents.models import WebEvent, WebEventKind

__all__ = [
    "ActivityTally",
    "AuditChannel",
    "AuditEntry",
    "Contact",
    "ContactChannel",
    "Deal",
    "DealStage",
    "FinancingStatus",
    "FollowUpKind",
    "FollowUpTask",
    "IdempotencyRecord",
    "ImportStatus",
    "Interaction",
    "InteractionDirection",
    "InteractionType",
    "Lead",
    "LeadCount",
    "LeadEvent",
    "LeadEventKind",
    "LeadImport",
    "LeadMerge",
    "LeadSource",
    "LeadStatus",
    "LeadType",
    "Preferences",
    "ProcessingStatus",
    "PropertyType",
    "Role",
    "SavedFilter",
    "SlaStatus",
    "SourceSpend",
    "StageStay",
    "StatusChange",
    "Team",
    "TimeOff",
    "Timeline",
    "TimestampedModel",
    "UrgencyLevel",
    "User",
    "WebEvent",
    "WebEventKind",
    "WeeklyReportOptOut",
    "WorkingHours",
    "new_public_lead_id",
    "new_public_merge_id",
]
