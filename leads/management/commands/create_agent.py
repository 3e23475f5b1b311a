from django.core.management.base import BaseCommand, CommandError

from leads.accounts.permissions import staff_flags_for
from leads.models import Role, User


class Command(BaseCommand):
    help = "Create a user (agent, manager or admin), or update the password and role of an existing one."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", choices=Role.values, default=Role.AGENT)
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--manager", help="Username of this user's manager.")

    def handle(self, *args, username, password, role, email, first_name, last_name, manager, **options):
        manager_user = None
        if manager:
            manager_user = User.objects.filter(username=manager).first()
            if manager_user is None:
                raise CommandError(f"No user named {manager!r}.")
        # Scripts and tests pick their own passwords, so the strength validators
        # that guard the sign-up and password-change forms do not apply here.
        if not password.strip():
            raise CommandError("The password must not be empty.")
        user, created = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.role = role
        user.email = email or user.email
        user.first_name = first_name or user.first_name
        user.last_name = last_name or user.last_name
        user.manager = manager_user or user.manager
        for flag, value in staff_flags_for(role).items():
            setattr(user, flag, value)
        user.save()
        self.stdout.write(f"{'Created' if created else 'Updated'} {role} {username}")
