"""The team's users in the back office: role, manager and API token."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Exists, OuterRef
from rest_framework.authtoken.models import Token

from leads.models import (
    Role,
    User,
)


@admin.register(User)
class TeamUserAdmin(UserAdmin):
    """Django's user admin plus the team fields; token presence at a glance
    (tokens themselves are managed under "Auth Token")."""

    fieldsets = (*UserAdmin.fieldsets, ("Team", {"fields": ("role", "manager")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Team", {"classes": ("wide",), "fields": ("role", "manager")}))
    list_display = ("username", "email", "first_name", "last_name", "role", "manager", "is_staff", "has_api_token")
    list_filter = ("role", "is_staff", "is_superuser", "is_active")
    list_select_related = ("manager",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(api_token=Exists(Token.objects.filter(user=OuterRef("pk"))))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "manager":
            kwargs["queryset"] = User.objects.filter(role__in=(Role.MANAGER, Role.ADMIN))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(boolean=True, description="API token", ordering="api_token")
    def has_api_token(self, user: User) -> bool:
        return user.api_token
