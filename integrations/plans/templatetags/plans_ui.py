"""Template filters of the plans pages."""

from django import template

from integrations.plans import presenters

register = template.Library()


@register.filter
def trigger_summary(plan) -> str:
    return presenters.trigger_summary(plan)


@register.filter
def step_summary(step) -> str:
    return presenters.step_summary(step)


@register.filter
def in_own_zone(value, fmt: str = "D j M, H:i T") -> str:
    """An aware datetime formatted in its own zone (the lead's), not the viewer's."""
    if not value:
        return ""
    from django.utils import dateformat

    return dateformat.format(value, fmt)


@register.filter
def verdict_tone(verdict: str) -> str:
    return presenters.verdict_tone(verdict or "")
