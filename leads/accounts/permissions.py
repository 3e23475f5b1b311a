"""Who may do what: one named check per action, used by the services, the API, the
agent pages, the admin and the templates alike. Nothing outside this module reads a
user's role or ``is_superuser`` to decide what they may do (``test_permissions``
fails if something does).

The rule, in order:

1. A signed-out or deactivated user may do nothing.
2. The role decides the lead work. An **agent** works the leads assigned to them
   (and may take a lead for themselves); a **manager** and an **admin** see every lead
   and may reassign, archive, restore, merge, change leads in bulk, use the lead pages
   of the back office, see the team's reports, manage webhooks and routing rules.
   A **superuser** counts as an admin whatever their role.
3. An admin also sees every manager's webhook subscriptions (a manager sees their own).
4. The back office (Django's admin) is open to active staff users (Django's own rule;
   ``create_agent`` makes managers and admins staff). Its lead pages follow rule 2,
   and a Django model permission granted to a staff user adds to it, never takes away.
   The integration pages (CRM sync records, webhook deliveries and subscriptions,
   market data) are operations tools handed out one by one: they follow Django's model
   permissions only, including the custom ``replay`` ones read by
   ``can_replay_crm_sync`` and ``can_replay_webhook_deliveries`` (replaying any record
   there; through the API a manager replays their own subscriptions' deliveries under
   ``can_manage_webhooks``). Superusers hold them all.

Checks return a bool and never query the database, except the two ``replay`` ones
(Django loads a user's permissions once per request). ``require`` turns a failed check
into the domain's ``PermissionDenied`` with the check's own words, so every channel
refuses the same way; a lead the user may not see is a ``NotFound`` instead, answered
by ``leads.core.selectors``.

Teams: a user belongs to at most one team (office). A manager with a team sees that
team's leads (``Lead.team``) and assigns within it; an admin sees and assigns across
teams; a manager without a team (an install that never made teams) sees every lead,
as before teams existed. ``can_view_team_leads`` (the pages' team-wide view) is true
for every manager.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Q

from leads.errors import PermissionDenied
from leads.models import Lead, Role, User

Check = Callable[..., bool]

_LEAD_MANAGING_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


def _refuses_with(message: str) -> Callable[[Check], Check]:
    """Attach the words ``require`` raises when this check fails."""

    def attach(check: Check) -> Check:
        check.refusal = message
        return check

    return attach


# --- who the user is ---------------------------------------------------------------


def _is_member(user: Any) -> bool:
    """Signed in and active (AnonymousUser and None are not)."""
    return user is not None and bool(getattr(user, "is_authenticated", False)) and bool(user.is_active)


def _is_admin(user: Any) -> bool:
    return _is_member(user) and (user.is_superuser or user.role == Role.ADMIN)


def _manages_leads(user: Any) -> bool:
    """Managers and admins (superusers count as admins)."""
    return _is_member(user) and (user.is_superuser or user.role in _LEAD_MANAGING_ROLES)


# --- seeing leads --------------------------------------------------------------------


def can_view_all_leads(user: User | None) -> bool:
    """True when ``user`` may see every lead of the brokerage: admins, and managers of an
    install without teams (a manager with a team sees that team's leads)."""
    return _is_admin(user) or (_manages_leads(user) and user.team_id is None)


def can_view_team_leads(user: User | None) -> bool:
    """True when ``user`` has a team-wide view besides their own leads: the pages show
    them the Agent column and filter and the team's follow-ups. Managers and admins."""
    return _manages_leads(user)


def visible_lead_filter(user: User | None) -> Q | None:
    """The leads ``user`` may see, as a filter on ``Lead`` rows (archived ones included:
    leaving them out is the caller's business): ``Q()`` for every lead, the team's leads
    for a manager with a team, the leads assigned to them for an agent, None for no lead
    at all. ``can_view_lead`` answers the same question for one loaded lead; keep the
    two in step."""
    if not _is_member(user):
        return None
    if can_view_all_leads(user):
        return Q()
    if _manages_leads(user):
        return Q(team_id=user.team_id)
    return Q(assigned_to=user)


def can_view_lead(user: User | None, lead: Lead) -> bool:
    """True when ``lead`` is one ``visible_lead_filter(user)`` selects."""
    if not _is_member(user):
        return False
    if can_view_all_leads(user):
        return True
    if _manages_leads(user):
        return lead.team_id == user.team_id
    return lead.assigned_to_id == user.pk


# --- changing leads ----------------------------------------------------------------


@_refuses_with("Only managers can reassign leads.")
def can_reassign(user: User | None) -> bool:
    """True when ``user`` may give a lead to someone (or to nobody): managers and admins."""
    return _manages_leads(user)


@_refuses_with("Agents can only assign leads to themselves, and managers to the members of their team.")
def can_assign_to(user: User | None, assignee: User | None) -> bool:
    """True when ``user`` may name ``assignee`` (None: unassigned) as a lead's agent when
    creating or editing it: themselves; anyone for an admin or a manager without a team;
    nobody or a member of their team for a manager with a team."""
    if not _is_member(user):
        return False
    if can_view_all_leads(user):
        return True
    if _manages_leads(user):
        return assignee is None or assignee.team_id == user.team_id
    return assignee is not None and assignee.pk == user.pk


@_refuses_with("Only managers can change leads in bulk.")
def can_bulk_edit_leads(user: User | None) -> bool:
    """True when ``user`` may assign or set the status of many leads at once."""
    return _manages_leads(user)


@_refuses_with("Only managers can archive leads.")
def can_archive(user: User | None) -> bool:
    return _manages_leads(user)


@_refuses_with("Only managers can restore leads.")
def can_restore(user: User | None) -> bool:
    return _manages_leads(user)


@_refuses_with("Only managers can merge leads or undo a merge.")
def can_merge(user: User | None) -> bool:
    """True when ``user`` may merge two leads, see merges and undo them."""
    return _manages_leads(user)


@_refuses_with("Only active team members can import leads.")
def can_import_leads(user: User | None) -> bool:
    """Every member imports leads (an agent's imported leads are theirs)."""
    return _is_member(user)


# --- the team's tools --------------------------------------------------------------


@_refuses_with("Only managers and admins can see the team's reports.")
def can_see_team_reports(user: User | None) -> bool:
    return _manages_leads(user)


@_refuses_with("Only managers and admins can see how the background jobs are running.")
def can_see_job_health(user: User | None) -> bool:
    """True when ``user`` is warned of failing periodic jobs and may read their states."""
    return _manages_leads(user)


@_refuses_with("Only managers and admins can manage routing rules.")
def can_manage_routing_rules(user: User | None) -> bool:
    return _manages_leads(user)


@_refuses_with("Only managers and admins can manage follow-up plans and see whom a plan would reach.")
def can_manage_plans(user: User | None) -> bool:
    """True when ``user`` may edit follow-up plans and run a plan's dry run."""
    return _manages_leads(user)


@_refuses_with("Only managers and admins can manage webhooks.")
def can_manage_webhooks(user: User | None) -> bool:
    """True when ``user`` may subscribe URLs to lead events and manage their subscriptions."""
    return _manages_leads(user)


def can_manage_every_webhook(user: User | None) -> bool:
    """True when ``user`` sees and manages every subscription, not only their own: admins."""
    return _is_admin(user)


# --- the back office ---------------------------------------------------------------


def can_use_admin(user: User | None) -> bool:
    """True when ``user`` may sign in to the back office: active staff (Django's rule)."""
    return _is_member(user) and user.is_staff


def can_use_lead_admin(user: User | None) -> bool:
    """True when ``user`` may list, add and change leads and read their audit history in
    the back office on their role alone (Django model permissions may grant it too)."""
    return _manages_leads(user)


@_refuses_with("You need the permission to replay CRM sync records.")
def can_replay_crm_sync(user: User | None) -> bool:
    """True when ``user`` holds Django's ``crm.replay_crmsyncrecord`` permission."""
    return _is_member(user) and user.has_perm("crm.replay_crmsyncrecord")


@_refuses_with("You need the permission to replay webhook deliveries.")
def can_replay_webhook_deliveries(user: User | None) -> bool:
    """True when ``user`` holds Django's ``webhooks.replay_webhookdelivery`` permission."""
    return _is_member(user) and user.has_perm("webhooks.replay_webhookdelivery")


def staff_flags_for(role: str) -> dict[str, bool]:
    """The Django flags a user created with ``role`` is given by the commands: managers
    and admins use the back office (``is_staff``); admins are superusers (every Django
    model permission, the integration pages' included)."""
    return {"is_staff": role in _LEAD_MANAGING_ROLES, "is_superuser": role == Role.ADMIN}


# --- refusing ------------------------------------------------------------------------

# The checks that take the user alone, by the name templates use (``user|can:"reassign"``).
USER_CHECKS: dict[str, Check] = {
    check.__name__.removeprefix("can_"): check
    for check in (
        can_view_all_leads,
        can_view_team_leads,
        can_reassign,
        can_bulk_edit_leads,
        can_archive,
        can_restore,
        can_merge,
        can_import_leads,
        can_see_team_reports,
        can_manage_routing_rules,
        can_manage_plans,
        can_manage_webhooks,
        can_manage_every_webhook,
        can_use_admin,
        can_use_lead_admin,
        can_replay_crm_sync,
        can_replay_webhook_deliveries,
    )
}


def refusal(check: Check) -> str:
    """The words used when ``check`` fails (the domain's generic ones if it has none)."""
    return getattr(check, "refusal", PermissionDenied.default_message)


def require(check: Check, user: User | None, *args: Any, message: str | None = None) -> None:
    """Return when ``check(user, *args)`` passes; raise ``PermissionDenied`` with
    ``message`` (default: the check's own words) when it does not."""
    if not check(user, *args):
        raise PermissionDenied(message or refusal(check))
