"""Fixtures for the browser tests: Debian's chromium driven by Playwright for Python, and the real app
served on a free port from a thread, on the test engine with the seed organisation.

Import them with `from browser_fixtures import *  # noqa: F401,F403`. Without /usr/bin/chromium (or
FOLLOWUP_CHROMIUM) the tests skip, except with CI=true, where they fail: CI installs the package.
"""
import os
import re
import socket
import threading
from pathlib import Path

import pytest

from conftest import IN_CI
from seed import PASSWORD, seed

CHROMIUM = os.environ.get("FOLLOWUP_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message + "; CI=true requires it", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
    finally:
        playwright.stop()


class Site:
    def __init__(self, base, engine, info):
        self.base, self.engine, self.info = base, engine, info

    def url(self, path):
        return self.base + path

    def task_of(self, instance_label, element_id="call"):
        instance = self.engine.instance(self.info["instances"][instance_label])
        return next(t for t in instance["tasks"] if t["element_id"] == element_id)


@pytest.fixture
def site(engine, monkeypatch):
    """The app on a free port (werkzeug, threaded) over the seeded test engine."""
    from werkzeug.serving import make_server

    from api import create_app

    monkeypatch.setenv("FOLLOWUP_TOKEN_CACHE_SECONDS", "0")
    info = seed(engine)
    server = make_server("127.0.0.1", _free_port(), create_app(engine), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", engine, info)
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def visit(browser, site):
    """visit(user, lang="en", width=1280) -> a page signed in as `user` (None: not signed in), in a browser
    whose language is `lang` ("en" or "zh": its Accept-Language)."""
    contexts = []

    def _visit(user, lang="en", width=1280, height=900):
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="zh-CN" if lang == "zh" else "en-US",
                                      timezone_id="Asia/Shanghai")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        if user is not None:
            sign_in(page, site, user)
        return page

    yield _visit
    for context in contexts:
        context.close()


def sign_in(page, site, user, password=None):
    page.goto(site.url("/signin"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password or PASSWORD.format(user))
    page.click("form button.primary")
    page.wait_for_load_state()


def screenshot(page, name):
    """A full-page screenshot in tests/browser/screenshots/ (gitignored): look at them."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def english_ui_strings():
    """The English texts of the pages' catalog that a Chinese page must not show: every message id,
    its placeholders cut out, keeping the pieces of at least two words or 6 letters (short words like
    'to' or 'new' also occur inside data)."""
    from babel.messages.pofile import read_po

    pot = Path(__file__).resolve().parents[2] / "api" / "pages" / "translations" / "messages.pot"
    pieces = set()
    with open(pot, "rb") as source:
        for message in read_po(source):
            for msgid in (message.id if isinstance(message.id, tuple) else (message.id,)):
                for piece in re.split(r"%\(\w+\)s|[“”\"]", msgid or ""):
                    piece = piece.strip(" .,:;()‹›—-")
                    if re.search(r"[A-Za-z]", piece) and (" " in piece or len(piece) >= 6):
                        pieces.add(piece)
    return sorted(pieces)
