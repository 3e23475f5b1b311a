"""Security headers for the server-rendered pages."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Send ``settings.CONTENT_SECURITY_POLICY`` with every response that lacks one.

    Paths under ``settings.CONTENT_SECURITY_POLICY_EXEMPT_PREFIXES`` (the Django admin,
    whose bundled templates use inline styles) are left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        self.exempt_prefixes = tuple(getattr(settings, "CONTENT_SECURITY_POLICY_EXEMPT_PREFIXES", ()))

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and not request.path.startswith(self.exempt_prefixes):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
