"""The routing pages' forms: a rule (conditions, method, group with weights, fallback)
and the fairness ledger's period. They turn typed input into values and field errors;
``services.rule_save`` checks the rule itself (the same rules as the admin)."""

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from integrations.routing.models import Fallback, RoutingMethod, RoutingRule, SlaBreachAction
from leads.models import LeadSource, LeadType, UrgencyLevel, User

LIST_SEPARATORS = re.compile(r"[,;\n]+")
HAS_PHONE_CHOICES = [("", "Any lead"), ("yes", "Only leads with a phone"), ("no", "Only leads without a phone")]
MAX_WEIGHT = 100
MAX_LIST_ITEMS = 200
LEDGER_MAX_DAYS = 366
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2199, 12, 31)


class WordListField(forms.CharField):
    """Words separated by commas, semicolons or new lines -> a list without blanks or repeats."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 4000)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value) or ""
        words = []
        for word in LIST_SEPARATORS.split(text):
            word = " ".join(word.split())
            if word and word.casefold() not in {seen.casefold() for seen in words}:
                words.append(word)
        if len(words) > MAX_LIST_ITEMS:
            raise forms.ValidationError(f"At most {MAX_LIST_ITEMS} entries.")
        if any(len(word) > 80 for word in words):
            raise forms.ValidationError("Each entry is at most 80 characters.")
        return words


def _money(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_value=Decimal("999999999999"),
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": "1000", "min": "0"}),
    )


class RuleForm(forms.Form):
    """A rule of ``team``; ``agents`` are the users who may be in its group or named by it.
    The catch-all has no conditions, is always active and cannot fall back to a next rule."""

    CONDITION_FIELDS = (
        "sources",
        "lead_types",
        "urgencies",
        "min_price",
        "max_price",
        "cities",
        "zip_codes",
        "languages",
        "tags",
        "has_phone",
    )

    name = forms.CharField(label="Name", max_length=80)
    is_active = forms.BooleanField(label="Active (tried for new leads)", required=False, initial=True)
    # What the rule matches: each condition left empty matches any lead.
    sources = forms.MultipleChoiceField(
        label="Source", choices=LeadSource.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    lead_types = forms.MultipleChoiceField(
        label="Lead type", choices=LeadType.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    urgencies = forms.MultipleChoiceField(
        label="Urgency", choices=UrgencyLevel.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    min_price = _money("Budget from ($)")
    max_price = _money("Budget up to ($)")
    cities = WordListField(label="Cities", help_text="Separated by commas, e.g. Austin, Round Rock.")
    zip_codes = WordListField(label="ZIP codes", help_text="Five digits each, separated by commas.")
    languages = WordListField(label="Languages", help_text='Short codes, e.g. "es, pt".')
    tags = WordListField(label="Tags", help_text="Any of these tags, e.g. luxury, relocation.")
    has_phone = forms.ChoiceField(label="Phone", choices=HAS_PHONE_CHOICES, required=False)
    # What the rule does.
    method = forms.ChoiceField(
        label="How the lead is given out",
        choices=RoutingMethod.choices,
        widget=forms.RadioSelect,
        initial=RoutingMethod.WEIGHTED_ROUND_ROBIN,
    )
    fixed_agent = forms.ModelChoiceField(
        label="Fixed agent", queryset=User.objects.none(), required=False, empty_label="Choose an agent"
    )
    allow_off_hours = forms.BooleanField(label="Agents outside their working hours may get these leads", required=False)
    claim_timeout_minutes = forms.IntegerField(
        label="Claim timeout (minutes, first to claim)", min_value=1, max_value=1440, initial=5
    )
    fallback = forms.ChoiceField(label="When nobody is eligible", choices=Fallback.choices, initial=Fallback.POND)
    fallback_agent = forms.ModelChoiceField(
        label="Fallback agent", queryset=User.objects.none(), required=False, empty_label="Choose an agent"
    )
    sla_breach_action = forms.ChoiceField(
        label="When the first-contact SLA is missed",
        choices=SlaBreachAction.choices,
        initial=SlaBreachAction.ALERT_MANAGER,
    )

    def __init__(self, data=None, *, agents: list[User], rule: RoutingRule | None = None, members=None):
        self.rule = rule
        self.catch_all = bool(rule and rule.is_catch_all)
        self.agents = agents
        super().__init__(data, initial=self._initial(rule, members or []))
        agent_ids = [agent.pk for agent in agents]
        for name in ("fixed_agent", "fallback_agent"):
            self.fields[name].queryset = User.objects.filter(pk__in=agent_ids).order_by(
                "first_name", "last_name", "username"
            )
        if self.catch_all:
            for name in (*self.CONDITION_FIELDS, "is_active"):
                del self.fields[name]
            self.fields["fallback"].choices = [
                (value, label) for value, label in Fallback.choices if value != Fallback.NEXT_RULE
            ]
        for agent in agents:
            self.fields[f"member_{agent.pk}"] = forms.BooleanField(label=f"{agent} is in the group", required=False)
            self.fields[f"weight_{agent.pk}"] = forms.IntegerField(
                label=f"Weight of {agent}",
                required=False,
                min_value=1,
                max_value=MAX_WEIGHT,
                initial=1,
                widget=forms.NumberInput(attrs={"min": "1", "max": str(MAX_WEIGHT), "inputmode": "numeric"}),
            )

    @staticmethod
    def _initial(rule: RoutingRule | None, members) -> dict:
        if rule is None:
            return {}
        initial = {
            name: getattr(rule, name)
            for name in (
                "name",
                "is_active",
                *(field for field in RuleForm.CONDITION_FIELDS if field != "has_phone"),
                "method",
                "allow_off_hours",
                "claim_timeout_minutes",
                "fallback",
                "sla_breach_action",
            )
        }
        initial["has_phone"] = {True: "yes", False: "no"}.get(rule.has_phone, "")
        initial["fixed_agent"] = rule.fixed_agent_id
        initial["fallback_agent"] = rule.fallback_agent_id
        for member in members:
            initial[f"member_{member.agent_id}"] = True
            initial[f"weight_{member.agent_id}"] = member.weight
        return initial

    # --- the group, as rows the template lays out ---------------------------------

    def member_rows(self) -> list[tuple[User, forms.BoundField, forms.BoundField]]:
        return [(agent, self[f"member_{agent.pk}"], self[f"weight_{agent.pk}"]) for agent in self.agents]

    def clean(self):
        cleaned = super().clean()
        if self.data is not None:
            unknown = [
                key.split("_", 1)[1]
                for key in self.data
                if re.fullmatch(r"(member|weight)_.+", key) and key not in self.fields
            ]
            if unknown:
                self.add_error(None, "The group names an agent who is not on this team (or no longer exists).")
        for agent in self.agents:
            weight = f"weight_{agent.pk}"
            if cleaned.get(f"member_{agent.pk}") and not cleaned.get(weight) and weight not in self.errors:
                self.add_error(f"weight_{agent.pk}", f"Give {agent} a weight from 1 to {MAX_WEIGHT}.")
        low, high = cleaned.get("min_price"), cleaned.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The highest budget is below the lowest: no lead could match.")
        method = cleaned.get("method")
        if method == RoutingMethod.FIXED_AGENT and not cleaned.get("fixed_agent") and "fixed_agent" not in self.errors:
            self.add_error("fixed_agent", "Choose the agent who gets every lead of this rule.")
        fallback_missing = cleaned.get("fallback") == Fallback.AGENT and not cleaned.get("fallback_agent")
        if fallback_missing and "fallback_agent" not in self.errors:
            self.add_error("fallback_agent", "Choose the agent who gets the lead when nobody is eligible.")
        return cleaned

    def members(self) -> list[tuple[User, int]]:
        """The group as (agent, weight), in the page's order (after ``is_valid``)."""
        return [
            (agent, self.cleaned_data[f"weight_{agent.pk}"])
            for agent in self.agents
            if self.cleaned_data.get(f"member_{agent.pk}")
        ]

    def apply_to(self, rule: RoutingRule) -> RoutingRule:
        """Copy the cleaned values onto ``rule`` (not saved)."""
        data = self.cleaned_data
        rule.name = data["name"].strip()
        if not self.catch_all:
            rule.is_active = data["is_active"]
            for name in ("sources", "lead_types", "urgencies", "cities", "zip_codes", "languages", "tags"):
                setattr(rule, name, list(data[name]))
            rule.min_price, rule.max_price = data["min_price"], data["max_price"]
            rule.has_phone = {"yes": True, "no": False}.get(data["has_phone"])
        rule.method = data["method"]
        rule.fixed_agent = data["fixed_agent"] if data["method"] == RoutingMethod.FIXED_AGENT else None
        rule.allow_off_hours = data["allow_off_hours"]
        rule.claim_timeout_minutes = data["claim_timeout_minutes"]
        rule.fallback = data["fallback"]
        rule.fallback_agent = data["fallback_agent"] if data["fallback"] == Fallback.AGENT else None
        rule.sla_breach_action = data["sla_breach_action"]
        return rule

    def add_domain_errors(self, fields: dict[str, list[str]], message: str) -> None:
        """The service's field errors on their fields (the form's own errors when unknown)."""
        placed = False
        for name, problems in fields.items():
            target = name if name in self.fields else None
            for problem in problems:
                self.add_error(target, problem)
                placed = True
        if not placed:
            self.add_error(None, message)


class LedgerPeriodForm(forms.Form):
    """The ledger's period, in the viewer's zone: today, the last 7 or 30 days, or from
    one day to another (both included)."""

    PERIODS = [("today", "Today"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("custom", "Custom range")]

    period = forms.ChoiceField(choices=PERIODS, required=False, initial="7d")
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        period = cleaned.get("period") or "7d"
        cleaned["period"] = period
        if period != "custom":
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        out_of_range = [
            name for name, day in (("start", start), ("end", end)) if day and not EARLIEST_DAY <= day <= LATEST_DAY
        ]
        for name in out_of_range:
            self.add_error(name, f"Choose a day between {EARLIEST_DAY:%Y} and {LATEST_DAY:%Y}.")
        if out_of_range:
            return cleaned
        if start is None and "start" not in self.errors:
            self.add_error("start", "Choose the first day.")
        if end is None and "end" not in self.errors:
            self.add_error("end", "Choose the last day.")
        if start and end:
            if end < start:
                self.add_error("end", "The last day is before the first.")
            elif (end - start).days >= LEDGER_MAX_DAYS:
                self.add_error("end", f"Choose at most {LEDGER_MAX_DAYS} days.")
        return cleaned

    def bounds(self, now: datetime) -> tuple[datetime, datetime, date, date]:
        """[start, end) as aware datetimes in the current (viewer's) zone, and the first
        and last day shown; the default period when the form is not valid."""
        today = timezone.localdate(now)
        data = self.cleaned_data if self.is_valid() else {"period": "7d"}
        period = data["period"]
        if period == "custom":
            first, last = data["start"], data["end"]
        else:
            first, last = today - timedelta(days={"today": 0, "7d": 6, "30d": 29}[period]), today
        start = timezone.make_aware(datetime.combine(first, time.min))
        end = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min))
        return start, end, first, last


class AgentSettingsForm(forms.Form):
    """An agent's routing settings, as a manager sets them."""

    paused = forms.BooleanField(label="Paused (takes no routed leads)", required=False)
    capacity = forms.IntegerField(
        label="Capacity (open new leads at most)",
        required=False,
        min_value=0,
        max_value=10_000,
        widget=forms.NumberInput(attrs={"min": "0", "inputmode": "numeric", "placeholder": "no cap"}),
    )
    pond_daily_limit = forms.IntegerField(
        label="Pond leads a day",
        min_value=0,
        max_value=10_000,
        widget=forms.NumberInput(attrs={"min": "0", "inputmode": "numeric"}),
    )
