"""The back office: Django's admin site, with who may sign in to it decided by
``leads.accounts.permissions.can_use_admin`` (installed through ``leadmgmt.apps.BackOfficeAdminConfig``)."""

from django.contrib import admin

from leads.accounts import permissions


class BackOfficeSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        return permissions.can_use_admin(request.user)
