"""Waiting in the page for a condition without ``page.wait_for_function``: its polling
builds a function from the string inside the page, which the app's Content-Security-Policy
(no 'unsafe-eval') refuses, failing the test whenever the first check comes too early.
``page.evaluate`` goes through the DevTools protocol, which the policy does not govern."""

import time

from playwright.sync_api import Page


def wait_until(page: Page, script: str, *, timeout_s: float = 10.0, every_s: float = 0.05) -> None:
    """Evaluate ``script`` (an expression, or an async arrow function) until it is truthy."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(script):
        if time.monotonic() > deadline:
            raise AssertionError(f"Still false after {timeout_s:g} s: {script}")
        time.sleep(every_s)
