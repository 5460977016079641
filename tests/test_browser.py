"""A real browser (Debian's Chromium, driven by Playwright) using the site as a person would."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from calfeed import calendars, create_app, web

from conftest import make_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (CI installs it: apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@contextmanager
def serving(app):
    """An app on a free loopback port, served by werkzeug in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def site(app):
    """The app on a free loopback port."""
    with serving(app) as base:
        yield base


@pytest.fixture
def browser():
    """Headless Chromium, the Debian build Playwright is pointed at."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def watched_page(browser, problems: list[str], **options):
    """A new page that records console errors, uncaught errors and failed requests."""
    page = browser.new_page(**options)
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    return page


def test_build_a_calendar_and_open_a_provider_page(app, site, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    page = watched_page(browser, problems, viewport={"width": 1200, "height": 900})

    page.goto(site + "/")
    assert page.title() == "ACCME deadlines in your calendar · calfeed"
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)
    page.select_option("#next_decision_date", "2024-07-31")
    page.check("#enduring_materials")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url.startswith(site + "/calendar/?next_decision_date=2024-07-31&enduring_materials=yes")
    assert page.locator("h1").inner_text() == "Your ACCME calendar"
    assert page.locator(".next .left").inner_text() == "in 130 days"
    assert page.locator("time[datetime='2024-01-24']").first.inner_text() == "Wednesday, January 24, 2024"

    query = "next_decision_date=2024-07-31&enduring_materials=yes"
    host = site.split("://", 1)[1]
    webcal = f"webcal://{host}/calendar.ics?{query}"
    links = page.locator(".subscribe .buttons a")
    assert links.nth(0).get_attribute("href") == webcal
    google = links.nth(1).get_attribute("href")
    assert google.startswith("https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2F")
    assert google.endswith("%2Fcalendar.ics%3Fnext_decision_date%3D2024-07-31%26enduring_materials%3Dyes")
    outlook = links.nth(2).get_attribute("href")
    assert outlook.startswith("https://outlook.live.com/calendar/0/addfromweb?url=http%3A%2F%2F127.0.0.1%3A")
    assert "&name=Your%20calendar" in outlook
    assert links.nth(3).get_attribute("href").startswith(
        "https://outlook.office.com/calendar/0/addfromweb?url=http%3A%2F%2F")
    assert page.locator("#feed-url").input_value() == f"{site}/calendar.ics?{query}"
    assert page.locator("#feed-url").get_attribute("readonly") is not None
    page.screenshot(path=str(ARTIFACTS / "builder.png"), full_page=True)

    with app.app_context():
        profile = web.snapshot(app).rules.providers["demo-12-month"]
        private = calendars.provider_urls(web.state(app).secret, profile, site)
    page.goto(private["page"])
    assert page.locator("h1").inner_text() == "Demo Medical Society (12-month progress report)"
    assert page.locator(".subscribe .buttons a").first.get_attribute("href") == private["webcal"]
    assert page.locator("script").count() == 0
    page.screenshot(path=str(ARTIFACTS / "provider.png"), full_page=True)

    phone = watched_page(browser, problems, viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(private["page"])
    # nothing wider than the screen: no sideways scrolling on a phone
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(ARTIFACTS / "provider-phone.png"), full_page=True)

    assert problems == []


def test_a_moved_deadline_is_flagged_at_the_top_and_in_the_next_deadline_box(browser, tmp_path):
    # published-dates.md: data year 2019 "extended ad hoc from March 31 to April 30, 2020".
    app = create_app({
        "TESTING": True, "CALFEED_TODAY": "2020-03-30", "CALFEED_SECRET_KEY": "s" * 32,
        "CALFEED_RULES": str(Path(__file__).parent / "fixtures" / "extension-2019.toml"),
        "INSTANCE_PATH": str(tmp_path / "instance"),
    })
    moved = ("Moved: was Tuesday, March 31, 2020; announced March 2020. "
             "Extended because of the COVID-19 public health emergency.")
    problems: list[str] = []
    with serving(app) as base:
        page = watched_page(browser, problems, viewport={"width": 1200, "height": 900})
        page.goto(base + "/tracks/annual-reporting/")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "moved.png"), full_page=True)
        # Above the subscribe buttons, as the first thing after the title.
        changed = page.locator("section.changed")
        assert changed.is_visible()
        assert changed.locator("h2").inner_text() == "Changed in the last 30 days"
        assert "now Thursday, April 30, 2020, 11:59 p.m. Central Time. " + moved in (
            changed.inner_text())
        top = changed.bounding_box()["y"]
        assert top < page.locator(".next").bounding_box()["y"] < page.locator(
            ".subscribe").bounding_box()["y"]
        assert page.locator(".next .moved").inner_text() == moved
        assert page.locator(".next .due").inner_text() == (
            "Thursday, April 30, 2020, 11:59 p.m. Central Time")
        slot = page.locator(".timeline .slot").first
        assert slot.locator("p.moved").inner_text() == moved
        assert slot.locator(".tag.changed").count() == 3


def test_a_line_break_in_a_description_is_a_line_break_on_the_page(tmp_path, data, browser):
    rules = data / "rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        'description = "Provider enters CME activity data. If applicable',
        'description = "Provider enters CME activity data.\\nIf applicable', 1), encoding="utf-8")
    # Before the step's date, so its text is shown rather than folded away.
    app = make_app(tmp_path, data, CALFEED_TODAY="2024-01-01")
    problems: list[str] = []
    with serving(app) as base:
        page = watched_page(browser, problems)
        page.goto(base + "/tracks/progress-8-month/")
        step = page.locator(".step", has_text="Provider enters CME activity data")
        # innerText is the text as laid out: a line break only where one is seen
        assert step.locator(".text p").first.inner_text().startswith(
            "Provider enters CME activity data.\nIf applicable to your noncompliance findings")
    assert problems == []
