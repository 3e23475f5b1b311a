"""Headless Chromium through Playwright, against pytest-django's live server.

Each page records console errors (a Content-Security-Policy violation is one),
CSP violation events and JavaScript dialogs; a test fails if any appear.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from conftest import skip_or_fail

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # Containers give /dev/shm 64 MB; Chromium's renderers wedge when it fills.
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"  # UserFactory's
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls
# are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        skip_or_fail(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems:
    # A form sent back with its errors is a 422 on purpose; Chromium logs it.
    EXPECTED = "the server responded with a status of 422"

    def __init__(self):
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []

    def record_console(self, message) -> None:
        if message.type == "error" and self.EXPECTED not in message.text:
            self.console_errors.append(message.text)


@pytest.fixture
def open_page(browser, live_server, transactional_db):
    """open_page(width=1280, height=900) -> (page, problems); checked when the test ends.

    The site's service worker is blocked unless a test asks for it (``service_workers=True``):
    its shell caching would fetch in the background of every other test.
    """
    opened = []

    def open_(width: int = 1280, height: int = 900, *, service_workers: bool = False):
        context = browser.new_context(
            viewport={"width": width, "height": height},
            base_url=live_server.url,
            service_workers="allow" if service_workers else "block",
        )
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(10_000)
        problems = PageProblems()
        page.on("console", lambda message: problems.record_console(message))
        page.on("pageerror", lambda error: problems.console_errors.append(str(error)))

        def on_dialog(dialog):
            problems.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        opened.append((context, page, problems))
        return page, problems

    yield open_
    for context, page, problems in opened:
        violations = page.evaluate("window.__cspViolations || []") if not page.is_closed() else []
        context.close()
        assert problems.dialogs == [], f"a script ran: {problems.dialogs}"
        assert violations == [], f"Content-Security-Policy violations: {violations}"
        assert problems.console_errors == [], f"console errors: {problems.console_errors}"


def log_in(page, user) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
