"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's live_server.

- Chromium is /usr/bin/chromium (never a downloaded browser); tests are marked `browser` and the
  top-level conftest skips them when it is missing.
- Playwright's sync API runs an event loop in the test thread, which trips Django's async-unsafe
  check on every ORM call the test makes: DJANGO_ALLOW_ASYNC_UNSAFE is set for this package.
- Every page a test opens can be checked with axe-core, injected from the vendored
  tests/browser/assets/axe.min.js (no network), and saved as a screenshot under
  artifacts/screenshots/ (the folder CI keeps).
- A JavaScript dialog (alert/confirm/prompt) anywhere fails the test: the app never opens one, so a
  dialog means injected script ran.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_JS = Path(__file__).parent / "assets" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
BLOCKING_IMPACTS = {"serious", "critical"}
CASE_URL = re.compile(r".*/cases/\d+/(#.*)?$")  # a case page (not /cases/new/)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Session:
    """One logged-in browser context: a page plus the checks every test wants on every page."""

    def __init__(self, browser: Any, base_url: str, *, viewport: dict[str, int], locale: str = "ja-JP") -> None:
        self.base_url = base_url
        self.context = browser.new_context(viewport=viewport, locale=locale, timezone_id="Asia/Tokyo")
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console: {m.text}")
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("load")
        return response

    def login(self, username: str, password: str) -> Session:
        self.goto("/accounts/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("main form button[type=submit]")
        self.page.wait_for_load_state("load")
        assert "/accounts/login/" not in self.page.url, f"login failed for {username}"
        return self

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations on the current page. Injected through the DevTools protocol
        (page.evaluate), which the page's CSP does not govern, so the CSP stays on."""
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;0")
        return self.page.evaluate(
            """async () => {
                const result = await axe.run(document, {resultTypes: ['violations']});
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
                }));
            }"""
        )

    def check(self, name: str) -> None:
        """Screenshot the page, then assert: no serious/critical axe violation, no dialog, no JS error."""
        self.shot(name)
        blocking = [v for v in self.axe() if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, f"{name}: axe violations {blocking}"
        assert not self.dialogs, f"{name}: a dialog opened: {self.dialogs}"
        assert not self.errors, f"{name}: script errors: {self.errors}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def session_for(browser, live_server, users, settings) -> Iterator[Any]:
    """`session_for("worker_health")` → a logged-in Session (desktop; `viewport=PHONE` for a phone)."""
    opened: list[Session] = []
    password = settings.DEMO_PASSWORD

    def _open(username: str | None = None, *, viewport: dict[str, int] = DESKTOP, locale: str = "ja-JP") -> Session:
        session = Session(browser, live_server.url, viewport=viewport, locale=locale)
        opened.append(session)
        if username:
            session.login(username, password)
        return session

    yield _open
    for session in opened:
        session.close()
