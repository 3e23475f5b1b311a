"""``{% if user|can:"reassign" %}``: the templates ask ``leads.accounts.permissions`` what the
user may do instead of reading their role."""

from django import template

from leads.accounts import permissions

register = template.Library()


@register.filter
def can(user, check_name: str) -> bool:
    """The named check of ``permissions.USER_CHECKS`` for ``user``; an unknown name is
    an error, so a misspelt check cannot quietly hide a control."""
    try:
        check = permissions.USER_CHECKS[check_name]
    except KeyError:
        raise template.TemplateSyntaxError(f"No permission check named {check_name!r}.") from None
    return check(user)
