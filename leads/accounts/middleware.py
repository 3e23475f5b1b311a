"""Pages in the viewer's time zone."""

from django.utils import timezone

from leads.accounts import availability


class ViewerTimeZoneMiddleware:
    """Render every page's times in the signed-in user's zone (their own, else their
    team's, else the site's); forms read typed times in it too. The API keeps UTC
    ("Z" times, its contract), whoever calls it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if request.path.startswith("/api/") or user is None or not user.is_authenticated:
            return self.get_response(request)
        with timezone.override(availability.user_zone(user)):
            return self.get_response(request)
