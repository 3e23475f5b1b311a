"""Plans on real processes: Celery workers reading real Redis, a real SMTP server on
loopback (aiosmtpd), a database of their own. Two workers and three schedulers at once
send each step once; a worker killed in the middle of sending leaves the message to be
sent once more, and only once, after its claim expires."""

import asyncio
import signal
import socket
import subprocess
import threading
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from leadmgmt.tests.processes import PYTHON, ROOT, Stack, own_database, shared_redis_url

pytestmark = pytest.mark.redis

SETUP = """
from integrations.plans import services
from integrations.plans.models import Plan
from leads.tests.factories import LeadFactory, UserFactory
agent = UserFactory(username="e2e_plans_agent")
plan = Plan.objects.create(name="E2E", is_active=True)
for position, subject in enumerate({subjects!r}, start=1):
    plan.steps.create(position=position * 10, kind="send_email", subject=subject, body="Hi {{{{ first_name }}}}")
for n in range({leads}):
    lead = LeadFactory(assigned_to=agent, contact__email=f"lead{{n}}@e2e.example.com")
    services.enrol(lead=lead, plan=plan, reason="e2e")
print("ready")
"""


class GatedInbox:
    """An aiosmtpd handler that keeps what it accepts; while ``gate`` is shut, a message
    waits before being accepted, and one whose client hung up meanwhile is refused."""

    def __init__(self):
        self.messages = []
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        while not self.gate.is_set():
            self.waiting.set()
            await asyncio.sleep(0.05)
        if server.transport is None or server.transport.is_closing():
            return "451 The client went away before the message was accepted"
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"

    def subjects_to(self, address: str) -> list[str]:
        return sorted(str(message["Subject"]) for message in self.messages if message["To"] == address)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox():
    handler = GatedInbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def stack(tmp_path, inbox):
    with own_database(tmp_path) as database_url:
        stack = Stack(
            "plans-e2e",
            database_url,
            shared_redis_url(5),
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(inbox.port),
            PLANS_REQUEUE_AFTER_SECONDS="3",
            PLANS_CLAIM_SECONDS="3",
        )
        stack.manage("migrate", "--noinput")
        yield stack
        stack.stop()


def shell(stack: Stack, code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "manage.py", "shell", "-c", code], cwd=ROOT, env=stack.env, stdout=subprocess.PIPE, text=True
    )


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_two_workers_and_three_schedulers_at_once_send_each_step_once(stack, inbox):
    # given 40 leads due for a two-email plan, and two workers
    assert "ready" in stack.manage("shell", "-c", SETUP.format(subjects=["one", "two"], leads=40))
    stack.start_worker()
    stack.start_worker()

    # when three schedulers run at once (each claims, then hands batches to the workers)
    runs = [shell(stack, "from integrations.plans.tasks import run_due_steps; run_due_steps()") for _ in range(3)]
    assert all(run.wait(timeout=120) == 0 for run in runs)

    # then every lead gets each email once
    assert wait_until(lambda: len(inbox.messages) >= 80, timeout=90), len(inbox.messages)
    time.sleep(2)  # anything doubled would arrive now
    assert len(inbox.messages) == 80
    for n in range(40):
        assert inbox.subjects_to(f"lead{n}@e2e.example.com") == ["one", "two"]


def test_a_worker_killed_while_sending_leaves_the_message_to_be_sent_once(stack, inbox):
    # given a lead due for one email, and a worker that will be stuck sending it
    assert "ready" in stack.manage("shell", "-c", SETUP.format(subjects=["once"], leads=1))
    inbox.gate.clear()
    doomed = stack.start_worker()
    run = shell(stack, "from integrations.plans.tasks import run_due_steps; run_due_steps()")
    assert run.wait(timeout=120) == 0
    assert inbox.waiting.wait(timeout=60), "the worker never reached the SMTP server"

    # when that worker is killed in the middle of sending, and another takes over
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    inbox.gate.set()
    stack.start_worker()
    time.sleep(4)  # the dead worker's claim expires (PLANS_REQUEUE_AFTER_SECONDS=3)
    sweep = "from integrations.plans.tasks import sweep_plan_deliveries; print(sweep_plan_deliveries())"

    # then the sweep sends it, once
    def sent() -> bool:
        shell(stack, sweep).wait(timeout=60)
        return len(inbox.messages) >= 1

    assert wait_until(sent, timeout=60)
    time.sleep(2)
    shell(stack, sweep).wait(timeout=60)
    time.sleep(2)
    assert inbox.subjects_to("lead0@e2e.example.com") == ["once"]
