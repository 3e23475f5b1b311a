"""Demo agents, leads across every status, and interactions. Safe to run again."""

import random
from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from faker import Faker

from leads.accounts.permissions import staff_flags_for
from leads.core import bookkeeping
from leads.core.services import LeadManagementService
from leads.models import (
    AuditChannel,
    ContactChannel,
    FinancingStatus,
    InteractionType,
    Lead,
    LeadSource,
    LeadStatus,
    LeadType,
    PropertyType,
    Role,
    UrgencyLevel,
    User,
)

DEMO_PASSWORD = "demo-pass-2026"
DEMO_TAG = "demo"
DEMO_EMAIL_DOMAIN = "@demo-leads.example.com"
DEMO_USERS = [
    ("manager", Role.MANAGER, "Morgan", "Reyes"),
    ("alice", Role.AGENT, "Alice", "Nguyen"),
    ("bob", Role.AGENT, "Bob", "Okafor"),
    ("carmen", Role.AGENT, "Carmen", "Silva"),
]
CITIES = ["San Francisco", "Oakland", "San Jose", "Berkeley", "Palo Alto", "Fremont", "Walnut Creek", "San Mateo"]
PIPELINE = [
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
    LeadStatus.SHOWING,
    LeadStatus.OFFER,
    LeadStatus.UNDER_CONTRACT,
    LeadStatus.CLOSED,
]


class Command(BaseCommand):
    help = "Load demo users, leads and interactions (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=80)

    def handle(self, *args, leads: int, **options):
        call_command("seed_market_demo", stdout=self.stdout)  # leads are analysed against it on create
        users = self._users()
        manager, agents = users["manager"], [users[name] for name, *_ in DEMO_USERS[1:]]
        existing = Lead.objects.filter(contact__email__endswith=DEMO_EMAIL_DOMAIN).count()
        if existing:
            self.stdout.write(f"Demo leads already present ({existing}); nothing added.")
        else:
            self._leads(manager, agents, leads)
            self.stdout.write(f"Created {leads} demo leads.")
        self.stdout.write(f"Demo logins (password for each: {DEMO_PASSWORD}):")
        for username, role, *_ in DEMO_USERS:
            self.stdout.write(f"  {username:<8} {role}")

    def _users(self) -> dict[str, User]:
        users = {}
        for username, role, first, last in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "role": role,
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@demo.example.com",
                    "is_staff": staff_flags_for(role)["is_staff"],
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            users[username] = user
        for username, *_ in DEMO_USERS[1:]:  # the agents report to the manager
            if users[username].manager_id is None:
                users[username].manager = users["manager"]
                users[username].save(update_fields=["manager"])
        return users

    @transaction.atomic
    def _leads(self, manager: User, agents: list[User], count: int) -> None:
        fake = Faker("en_US")
        Faker.seed(2026)
        rng = random.Random(2026)
        now = timezone.now()
        statuses = [*PIPELINE, LeadStatus.LOST, LeadStatus.NURTURE]
        for index in range(count):
            agent = agents[index % len(agents)]
            first, last = fake.first_name(), fake.last_name()
            low = rng.choice([400, 550, 700, 850, 1000, 1300]) * 1000
            lead = LeadManagementService(manager, channel=AuditChannel.SYSTEM).create_lead(
                {
                    "contact": {
                        "first_name": first,
                        "last_name": last,
                        "email": f"{first}.{last}.{index}{DEMO_EMAIL_DOMAIN}".lower(),
                        "phone": f"+1415555{index:04d}",
                        "phone_is_valid": True,
                        "preferred_contact_method": rng.choice(ContactChannel.values),
                    },
                    "lead_type": rng.choice([LeadType.BUYER] * 3 + LeadType.values),
                    "source": rng.choice(LeadSource.values),
                    "assigned_to": agent,
                    "tags": [DEMO_TAG],
                    "preferences": {
                        "property_types": rng.sample(PropertyType.values[:4], k=rng.randint(1, 2)),
                        "min_price": low,
                        "max_price": low + rng.choice([150, 250, 400]) * 1000,
                        "preferred_locations": rng.sample(CITIES, k=rng.randint(1, 2)),
                        "min_bedrooms": rng.randint(1, 4),
                    },
                    "timeline": {
                        "urgency_level": rng.choice(UrgencyLevel.values),
                        "financing_status": rng.choice(FinancingStatus.values),
                        "target_move_date": (now + timedelta(days=rng.randint(20, 240))).date(),
                    },
                }
            )
            created_at = now - timedelta(days=rng.randint(0, 55), hours=rng.randint(0, 23))
            bookkeeping.set_arrival_time(lead, created_at)
            target = statuses[index % len(statuses)]
            service = LeadManagementService(agent, channel=AuditChannel.SYSTEM)
            if target != LeadStatus.NEW:
                minutes = rng.choice([3, 12, 45, 90, 240, 1500])
                service.add_interaction(
                    lead.public_id,
                    {
                        "type": InteractionType.CALL,
                        "summary": "Intro call: talked budget and neighbourhoods",
                        "notes": fake.sentence(nb_words=14),
                        "next_steps": "Send matching listings",
                        "occurred_at": min(created_at + timedelta(minutes=minutes), now),
                    },
                )
                for _ in range(rng.randint(0, 3)):
                    service.add_interaction(
                        lead.public_id,
                        {
                            "type": rng.choice([InteractionType.EMAIL, InteractionType.TEXT, InteractionType.SHOWING]),
                            "summary": fake.sentence(nb_words=6).rstrip("."),
                            "occurred_at": min(created_at + timedelta(days=rng.randint(1, 10)), now),
                        },
                    )
            if target not in (LeadStatus.NEW, LeadStatus.CONTACTED):
                path = PIPELINE[2 : PIPELINE.index(target) + 1] if target in PIPELINE else [target]
                for step in path:
                    service.change_status(lead.public_id, step)
