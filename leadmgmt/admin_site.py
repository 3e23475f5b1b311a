"""The back office: Django's admin site, with who may sign in to it decided by
``leads.accounts.permissions.can_use_admin`` (installed through ``leadmgmt.apps.BackOfficeAdminConfig``).
Its index shows how far behind the read replica is, when there is one."""

from django.conf import settings
from django.contrib import admin

from leadmgmt import replica
from leads.accounts import permissions


class BackOfficeSite(admin.AdminSite):
    index_template = "admin/backoffice_index.html"

    def has_permission(self, request) -> bool:
        return permissions.can_use_admin(request.user)

    def index(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "replica_status": replica.status(fresh=True),
            "replica_max_lag": settings.REPLICA_MAX_LAG_SECONDS,
        }
        return super().index(request, extra_context)
