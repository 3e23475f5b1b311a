# The agent pages' browser fixtures: headless Chromium, pages checked for CSP violations and console errors.
from leads.tests.browser.conftest import browser, open_page  # noqa: F401
