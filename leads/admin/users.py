"""The brokerage's people in the back office: teams with their opening hours, users with
their role, team, zone, working hours and time off, and whether they hold an API token."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Exists, OuterRef
from rest_framework.authtoken.models import Token

from leads.models import Role, Team, TimeOff, User, WorkingHours


class TeamHoursInline(admin.TabularInline):
    model = WorkingHours
    fk_name = "team"
    fields = ("weekday", "starts_at", "ends_at")
    extra = 0
    verbose_name_plural = "opening hours (none: always open)"


class UserHoursInline(TeamHoursInline):
    fk_name = "user"
    verbose_name_plural = "working hours (none: always working)"


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    fields = ("starts_on", "ends_on", "note")
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "business_hours_sla")
    search_fields = ("name",)
    inlines = (TeamHoursInline,)


@admin.register(User)
class TeamUserAdmin(UserAdmin):
    """Django's user admin plus the team fields; token presence at a glance
    (tokens themselves are managed under "Auth Token")."""

    fieldsets = (*UserAdmin.fieldsets, ("Team", {"fields": ("role", "team", "manager", "time_zone")}))
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        ("Team", {"classes": ("wide",), "fields": ("role", "team", "manager", "time_zone")}),
    )
    list_display = ("username", "email", "first_name", "last_name", "role", "team", "is_staff", "has_api_token")
    list_filter = ("role", "team", "is_staff", "is_superuser", "is_active")
    list_select_related = ("manager", "team")
    inlines = (UserHoursInline, TimeOffInline)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(api_token=Exists(Token.objects.filter(user=OuterRef("pk"))))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "manager":
            kwargs["queryset"] = User.objects.filter(role__in=(Role.MANAGER, Role.ADMIN))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(boolean=True, description="API token", ordering="api_token")
    def has_api_token(self, user: User) -> bool:
        return user.api_token
