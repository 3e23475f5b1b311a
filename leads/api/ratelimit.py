"""The API's request budget: ``API_RATE_LIMIT`` requests per window for each token
(each user; session callers share their user's budget) and, for calls without
valid credentials, for each client address (masked to /64 for IPv6, see
django-ratelimit's RATELIMIT_IPV6_MASK; behind a proxy set RATELIMIT_IP_META_KEY).

One budget covers every endpoint under /api/v2/ (``LeadsAPIView`` and its
subclasses). Every answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``
and ``X-RateLimit-Reset`` (seconds until the window ends); past the limit the
answer is 429 ``rate_limited`` with ``Retry-After``.
"""

from django.conf import settings
from rest_framework.exceptions import Throttled

from leads.ratelimit import Budget, spend

GROUP = "api"


def _user_key(_group: str, request) -> str:
    return f"user:{request.user.pk}"


def spend_api_budget(request) -> Budget | None:
    """Count the request against its caller's budget (``budget.exceeded``: answer RateLimited)."""
    user = request.user
    key = _user_key if user is not None and user.is_authenticated else "ip"
    return spend(request, group=GROUP, key=key, rate=settings.API_RATE_LIMIT)


class RateLimited(Throttled):
    """429 ``rate_limited`` with Retry-After (``leads.api.errors``)."""

    default_code = "rate_limited"

    def __init__(self, budget: Budget):
        self.budget = budget
        super().__init__(
            wait=budget.reset_seconds,
            detail=f"Too many requests: the limit is {budget.limit} per window. "
            f"Try again in {budget.reset_seconds} seconds.",
        )


def add_budget_headers(response, budget: Budget | None) -> None:
    if budget is None:
        return
    response["X-RateLimit-Limit"] = str(budget.limit)
    response["X-RateLimit-Remaining"] = str(budget.remaining)
    response["X-RateLimit-Reset"] = str(budget.reset_seconds)
