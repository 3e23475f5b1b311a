"""Who works here: the team's users and their roles (what a role may do is
``leads.accounts.permissions``)."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"


class User(AbstractUser):
    """A member of the team; what their role lets them do is ``leads.permissions``."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="team_members")

    def __str__(self) -> str:
        return self.get_full_name() or self.username
