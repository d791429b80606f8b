"""Browser tests: the web app at `/`, served by a real uvicorn server on loopback and driven
in headless Chromium through Playwright (the PyPI package, with the system's browser:
Debian's `chromium`, since a browser build cannot be downloaded here).

On a machine without Chromium every test here skips with a message saying how to enable it
(`.ci/run` installs it). Each test fails on any JavaScript error, console error (a
Content-Security-Policy violation included), failed request or 5xx answer; the app shows 4xx
answers itself. `shot(page, name)` saves a screenshot under `tests/browser/screenshots/`
(gitignored) to look at.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.js_clients import JS_DIR, ensure_node_modules
from tests.live_server import serve
from use_cases.access.domain import CLI_ADMIN

AXE = JS_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Chromium logs every 4xx answer; the app handles those itself (and a 5xx is caught apart).
CLIENT_ERROR_LOG = re.compile(
    r"Failed to load resource: the server responded with a status of 4\d\d"
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to its end from a test: Playwright's sync API keeps an event loop
    running in the test's thread, so it runs in a thread of its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")  # a session-long loop would break later async tests
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        pytest.skip("Browser tests need Playwright: `make install` installs it (dev extra).")
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "Browser tests need Chromium: install it (`apt-get install -y chromium`, which "
            ".ci/run does) or set CHROMIUM_PATH to a Chromium or Chrome binary."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@dataclass
class PageProblems:
    """What went wrong in the page: checked after every test."""

    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)  # substrings a test expects (e.g. a 404)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


def _watch(page: Any, problems: PageProblems) -> None:
    page.on("pageerror", lambda error: problems.errors.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.errors.append(f"console {message.type}: {message.text}")
            if message.type == "error" and not CLIENT_ERROR_LOG.match(message.text)
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            problems.errors.append(f"server error: {response.status} {response.url}")
            if response.status >= 500
            else None
        ),
    )
    page.on(
        "requestfailed",
        lambda request: (
            problems.errors.append(f"request failed: {request.url} {request.failure}")
            if "ERR_ABORTED" not in (request.failure or "")  # a stopped stream is aborted
            else None
        ),
    )


class PageOpener:
    """`new_page`'s value: opens pages, each in its own browser context, and closes them."""

    def __init__(self, browser: Any, problems: PageProblems) -> None:
        self._browser = browser
        self._problems = problems
        self._contexts: list[Any] = []

    def __call__(self, viewport: dict[str, int] | None = None, **options: Any) -> Any:
        context = self._browser.new_context(viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(15_000)
        self._contexts.append(context)
        page = context.new_page()
        _watch(page, self._problems)
        return page

    def close_all(self) -> None:
        while self._contexts:
            self._contexts.pop().close()


@pytest.fixture
def new_page(browser: Any, problems: PageProblems) -> Iterator[PageOpener]:
    """new_page(viewport=DESKTOP) -> a Playwright page in its own context (own session
    storage). Every page opened is checked for errors when the test ends."""
    opener = PageOpener(browser, problems)
    yield opener
    opener.close_all()
    assert not problems.unexpected(), "\n".join(problems.unexpected())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """Close a test's pages as soon as its body ends, before any fixture is torn down: a page
    may still be loading a module when the test's last check passes, and the app server
    fixture (set up after the page, so torn down before it) would otherwise stop under it
    and fail that request (a closed page's requests are aborted, which is not a problem)."""
    opener = getattr(item, "funcargs", {}).get("new_page")
    if isinstance(opener, PageOpener):
        opener.close_all()
    yield


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


@pytest.fixture
def app_url(container: Container) -> Iterator[str]:
    """The app in development mode (no keys; everyone is the default admin)."""
    with serve(create_app(container=container)) as url:
        yield url


@pytest.fixture
def limited_url(data_dir: Path) -> Iterator[str]:
    """The app allowing one chat or advice request per minute."""
    container = bootstrap(make_settings(data_dir, rate_limit_per_minute=1), clock=FixedClock())
    try:
        with serve(create_app(container=container)) as url:
            yield url
    finally:
        container.close()


@dataclass(frozen=True)
class SecuredApp:
    url: str
    container: Container
    keys: dict[str, str]  # "admin" (user root), "user" (ana), "other" (bob) -> secret
    key_ids: dict[str, str]  # the same names -> the key's id (to revoke it)


@pytest.fixture
def secured_app(data_dir: Path) -> Iterator[SecuredApp]:
    """The app with AUTH_ENABLED=true and three keys."""
    container = bootstrap(make_settings(data_dir, auth_enabled=True), clock=FixedClock())

    key_ids: dict[str, str] = {}

    async def create_keys() -> dict[str, str]:
        keys = {}
        for name, user, role in (
            ("admin", "root", "admin"),
            ("user", "ana", "user"),
            ("other", "bob", "user"),
        ):
            created = await container.access.create_key.execute(CLI_ADMIN, user_id=user, role=role)
            keys[name] = created.secret
            key_ids[name] = created.key.id
        return keys

    try:
        keys = run_async(create_keys())
        with serve(create_app(container=container)) as url:
            yield SecuredApp(url=url, container=container, keys=keys, key_ids=key_ids)
    finally:
        container.close()


def sign_in(page: Any, url: str, key: str) -> None:
    """Open the app and sign in with `key` through the sign-in form."""
    page.goto(url + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.locator(".session .who").wait_for()


def assert_accessible(page: Any, *, exclude: tuple[str, ...] = ()) -> None:
    """Run axe-core (npm, installed with the JS conformance clients in tests/js) on the page
    as it is now and fail on any WCAG 2 A/AA violation, listing each with its elements."""
    ensure_node_modules()
    if not AXE.is_file():
        raise RuntimeError(f"{AXE} is missing: run `npm ci` in {AXE.parents[2]}")
    page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated over CDP: the page's CSP holds
    result = page.evaluate(
        """async (exclude) => {
            const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
            const options = {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}};
            const result = await axe.run(context, options);
            return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} -> ` +
                v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', '));
        }""",
        list(exclude),
    )
    assert not result, "accessibility violations:\n" + "\n".join(result)


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as tests/browser/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
