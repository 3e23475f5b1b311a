"""The OpenAPI schema (/api/v2/schema) and Swagger UI (/api/v2/docs).

Both are public: they describe the API and hold no data, and an integrator reads them
before having a token. Every data endpoint still requires a token or a session.
Swagger UI's assets come from drf-spectacular-sidecar through static files (no CDN),
and its init script from the same view (``?script``), so the page runs under the
site's Content-Security-Policy with no inline script or style.
"""

import functools

from django.urls import re_path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.response import Response


@functools.cache
def api_schema() -> dict:
    """The schema; it changes only with the code, so it is built once per process
    (a build takes a few hundred milliseconds, and the endpoint is public)."""
    return SchemaGenerator().get_schema(request=None, public=True)


class SchemaView(SpectacularAPIView):
    """JSON unless ``?format=yaml`` or ``Accept: application/vnd.oai.openapi`` (YAML)."""

    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiYamlRenderer, OpenApiYamlRenderer2]

    def _get_schema_response(self, request):
        filename = self._get_filename(request, version=None)
        return Response(api_schema(), headers={"Content-Disposition": f'inline; filename="{filename}"'})


class DocsView(SpectacularSwaggerSplitView):
    template_name = "api/docs.html"
    url_name = "api-schema"
    title = "Lead management API v2"


urlpatterns = [
    re_path(r"^schema/?$", SchemaView.as_view(), name="api-schema"),
    re_path(r"^docs/?$", DocsView.as_view(), name="api-docs"),
]
