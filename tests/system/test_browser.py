"""A real browser (Debian's Chromium, driven by Playwright) using the site as a person would.

Every page type is checked with axe-core (WCAG 2.1 A and AA, and axe's best practices)
at a desktop and a phone width, in the light and the dark colour scheme, and
photographed into docs/screenshots/ so a reviewer can look without running a server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from calfeed.core import calendars
from calfeed import create_app
from calfeed.serve import web

from apps import make_app
from grouping import set_groups
from serving import copy_data
from files import FIXTURES, ROOT, TESTS

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = TESTS / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTHS = {"desktop": 1280, "phone": 390}
# WCAG 2.1 level A and AA, plus axe's best practices (heading order, landmarks, …).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# The screenshots' "today": a progress-report cohort under way, so every part of a
# page shows (steps ahead, steps without a date, a fold of passed steps).
SCREENSHOT_TODAY = "2024-03-15"
SITE = "https://deadlines.example.org"

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (CI installs it: apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright",
                                     reason="axe-playwright-python is not installed")


@contextmanager
def serving(app) -> Iterator[str]:
    """The app on a free loopback port, served by werkzeug in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def app_on(tmp_path: Path, today: str, **config):
    """The app on the bundled data with "today" pinned."""
    return make_app(tmp_path / today, CALFEED_TODAY=today, **config)


def private_page(app, provider: str, site: str) -> str:
    """A provider's private page URL on a site."""
    with app.app_context():
        profile = web.snapshot(app).rules.providers[provider]
        return calendars.provider_urls(web.state(app).secret, profile, site)["page"]


def group_page(app, group: str, site: str) -> str:
    """A group's private page URL on a site."""
    with app.app_context():
        found = web.snapshot(app).rules.groups[group]
        return calendars.group_urls(web.state(app).secret, found, site)["page"]


@pytest.fixture
def site(app):
    """The test app (today 2026-11-21) on a loopback port."""
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium, the Debian build Playwright is pointed at (one per module)."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(chromium):
    """The module's Chromium."""
    return chromium


def watched_page(browser, problems: list[str], **options):
    """A new page that records console errors, uncaught errors and failed requests."""
    page = browser.new_page(**options)
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    return page


def axe_violations(page) -> list[str]:
    """What axe-core finds wrong on the page, every fold opened, one line per element."""
    # Folded text is hidden, and axe skips what is hidden: open every fold first.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    results = axe_playwright.Axe().run(
        page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]})
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = false; })")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: "
            f"{node.get('failureSummary', '').splitlines()[-1].strip()}"
            for v in results.response["violations"] for node in v["nodes"]]


# --- the builder, as a coordinator uses it ------------------------------------


def test_build_a_calendar_and_open_a_provider_page(app, site, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    page = watched_page(browser, problems, viewport={"width": 1200, "height": 900})

    page.goto(site + "/")
    assert page.title() == "ACCME deadlines in your calendar · calfeed"
    page.fill("#next_decision_date", "2024-07-31")  # a date input: any date is typed
    page.check("#enduring_materials")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url.startswith(site + "/calendar/?next_decision_date=2024-07-31&enduring_materials=yes")
    assert page.locator("h1").inner_text() == "Your ACCME calendar"
    assert page.locator(".next .left").inner_text() == "in 130 days"
    # today is 2026-11-21: the 8-month cohort (6 steps, its fee included) and data
    # years 2023-2025 (5 steps each) are over: folded away, one click without JavaScript
    january = page.locator("time[datetime='2024-01-24']")
    assert not january.is_visible()
    page.get_by_text("Show the 21 steps that have passed").click()
    assert january.inner_text() == "Wednesday, January 24, 2024"
    assert january.is_visible()

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
    assert outlook.endswith("&name=Progress%20report%20%28Next%20Decision%20Date%20July%2031%2C%202024%29"
                            "%20and%20annual%20reporting%2C%20with%20enduring%20materials"
                            "%20%E2%80%94%20ACCME%20deadlines")
    assert links.nth(3).get_attribute("href").startswith(
        "https://outlook.office.com/calendar/0/addfromweb?url=http%3A%2F%2F")
    assert page.locator("#feed-url").input_value() == f"{site}/calendar.ics?{query}"
    assert page.locator("#feed-url").get_attribute("readonly") is not None

    private = private_page(app, "demo-12-month", site)
    page.goto(private)
    assert page.locator("h1").inner_text() == "Demo Medical Society (12-month progress report)"
    assert page.locator(".subscribe .buttons a").first.get_attribute("href").startswith("webcal://")
    assert page.locator("script").count() == 0

    phone = watched_page(browser, problems, viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(private)
    # nothing wider than the screen: no sideways scrolling on a phone
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(ARTIFACTS / "provider-phone.png"), full_page=True)

    assert problems == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_home_page_folds_the_passed_cohorts_readably(site, chromium, scheme):
    # today is 2026-11-21: both November 2023 cohorts are over, annual reporting is not
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(site + "/")
        cohort = page.get_by_role("link", name="See the dates of 8-Month Progress Report Milestones")
        assert not cohort.is_visible()
        assert page.get_by_role(
            "link", name="Google Calendar (subscribe to Annual Reporting in PARS)").is_visible()
        page.get_by_text("Show the 2 schedules whose dates have all passed").click()
        assert cohort.is_visible()
        assert page.locator("details.passed-tracks .buttons").count() == 0
        assert axe_violations(page) == []
    finally:
        context.close()


def test_a_moved_deadline_is_flagged_at_the_top_and_in_the_next_deadline_box(browser, tmp_path):
    # published-dates.md: data year 2019 "extended ad hoc from March 31 to April 30, 2020".
    app = create_app({
        "TESTING": True, "CALFEED_TODAY": "2020-03-30", "CALFEED_SECRET_KEY": "s" * 32,
        "CALFEED_RULES": str(FIXTURES / "extension-2019.toml"),
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


def test_choosing_reminders_works_with_javascript_off(app, site, browser):
    problems: list[str] = []
    page = watched_page(browser, problems, java_script_enabled=False,
                        viewport={"width": 1200, "height": 900})
    with app.app_context():
        profile = web.snapshot(app).rules.providers["demo-8-month"]
        private = calendars.provider_urls(web.state(app).secret, profile, site)
    page.goto(private["page"])
    box = page.locator(".subscribe")
    assert box.locator(".choice[aria-current]").inner_text() == "No reminders"
    assert box.locator(".buttons a").first.get_attribute("href") == private["webcal"]

    box.get_by_role("link", name="2 weeks and 2 days before").click()
    page.wait_for_load_state()
    base = private["page"].rstrip("/")
    assert page.url == f"{base}/remind-2w2d/#subscribe"
    box = page.locator(".subscribe")
    assert box.locator(".choice[aria-current]").inner_text() == "2 weeks and 2 days before"
    feed = f"{base}/remind-2w2d.ics"
    links = box.locator(".buttons a")
    assert links.nth(0).get_attribute("href") == "webcal://" + feed.split("://", 1)[1]
    assert links.nth(1).get_attribute("href").endswith("%2Fremind-2w2d.ics")
    assert "url=" + feed.replace(":", "%3A").replace("/", "%2F") in links.nth(2).get_attribute("href")
    assert "url=" + feed.replace(":", "%3A").replace("/", "%2F") in links.nth(3).get_attribute("href")
    assert box.locator("#feed-url").input_value() == feed
    download = box.get_by_role("link", name="Download a one-time copy (.ics) that will not update"
                               ).get_attribute("href")
    assert download.endswith("/remind-2w2d.ics?download=1")
    # what each app does with them, said on the page
    notes = box.locator(".notes").inner_text()
    assert ("Outlook for Windows keeps one reminder per event, the first: 2 weeks before; once "
            "that day has passed, the calendar carries the next one instead.") in notes
    assert "Google Calendar ignores reminders in a subscribed calendar" in notes
    assert "Email reminders" in notes
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "provider-reminders.png"), full_page=True)

    # the feed the buttons give has the alarms
    response = page.request.get(feed)
    assert response.status == 200 and response.text().count("BEGIN:VALARM") > 0
    box.get_by_role("link", name="No reminders").click()
    page.wait_for_load_state()
    assert page.locator(".subscribe #feed-url").input_value() == private["ics"]
    assert problems == []


def test_dates_from_the_decision_report_with_javascript_off(site, browser):
    """A coordinator with Next Decision Date July 31, 2027 enters four dates from their
    decision report, mistypes one, and corrects it, without a script; axe (which needs
    one) checks each page they saw in a page of its own."""
    problems: list[str] = []
    page = watched_page(browser, problems, java_script_enabled=False,
                        viewport={"width": 1200, "height": 900})
    checker = watched_page(browser, problems, viewport={"width": 1200, "height": 900})

    def axe_at(url: str, status: int = 200) -> list[str]:
        response = checker.goto(url)
        assert response.status == status
        if status != 200:  # Chromium logs the error status it was asked for
            problems.remove(f"console: Failed to load resource: the server responded with a "
                            f"status of {status} ({response.status_text})")
        return axe_violations(checker)

    page.goto(site + "/")
    page.fill("#next_decision_date", "2027-07-31")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == site + "/calendar/?next_decision_date=2027-07-31&accreditor="
    own = page.locator("#own-dates")
    own.locator("summary").click()
    # calfeed's estimate fills the form: the 8-month table's pattern, and July as a month
    assert own.locator("#own-enter-activity-data").input_value() == "2027-01-20"
    assert own.locator("#own-materials-due").input_value() == "2027-03-31"
    assert own.locator("#own-decision").get_attribute("type") == "month"
    assert own.locator("#own-decision").input_value() == "2027-07"
    assert own.get_by_label("Progress Report Materials Submission Deadline").count() == 1
    assert axe_at(page.url) == []

    # A date typed out of order: refused, named, the form as sent.
    page.fill("#own-enter-activity-data", "2027-01-13")
    page.fill("#own-activities-selected", "2027-01-27")
    page.fill("#own-materials-available", "2027-02-10")
    page.fill("#own-materials-due", "2027-01-06")
    page.fill("#own-decision", "")
    with page.expect_response(lambda r: "/calendar/?" in r.url) as sent:
        own.get_by_role("button", name="Use these dates").click()
    assert sent.value.status == 400
    page.wait_for_load_state()
    problems.remove("console: Failed to load resource: the server responded with a status "
                    f"of 400 ({sent.value.status_text})")
    assert page.locator("dl.parameter code").first.inner_text() == "materials-due"
    field = page.locator("#own-materials-due")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.input_value() == "2027-01-06"
    assert page.locator("#own-materials-due-error").inner_text().startswith(
        'materials-due: 2027-01-06 is before step "materials-available" (2027-02-10)')
    assert page.locator("#own-enter-activity-data").input_value() == "2027-01-13"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "own-dates-refused.png"), full_page=True)
    assert axe_at(page.url, 400) == []

    page.fill("#own-materials-due", "2027-04-14")
    page.get_by_role("button", name="Use these dates").click()
    page.wait_for_load_state()
    # The form sends every field; the empty decision keeps calfeed's estimate.
    assert page.url == (site + "/calendar/?next_decision_date=2027-07-31"
                        "&enter-activity-data=2027-01-13&activities-selected=2027-01-27"
                        "&materials-available=2027-02-10&materials-due=2027-04-14&decision=")
    assert page.locator(".next .left").inner_text() == "in 53 days"  # January 13, 2027
    slot = page.locator("li.slot", has=page.locator("time[datetime='2027-04-14']"))
    assert slot.locator(".tag.reported").inner_text() == "From your decision report"
    assert slot.locator(".tag.est").count() == 0
    assert page.locator("time[datetime='2027-07']").inner_text() == (
        "July 2027 (no exact day published)")  # the decision: still calfeed's estimate
    address = page.locator(".subscribe #feed-url").input_value()
    assert address.endswith(
        "/calendar.ics?next_decision_date=2027-07-31&enter-activity-data=2027-01-13"
        "&activities-selected=2027-01-27&materials-available=2027-02-10&materials-due=2027-04-14")
    assert axe_at(page.url) == []
    feed = page.request.get(address).text()
    assert "DTSTART;VALUE=DATE:20270414" in feed and "STATUS:CONFIRMED" in feed
    assert problems == []


# --- every page type: accessibility, fit, screenshots -----------------------------


@pytest.fixture(scope="module")
def march_2024(tmp_path_factory):
    """A page of each type, by name: the site as of March 15, 2024 at its public address,
    and a page with a moved deadline (data year 2019's, as of March 30, 2020)."""
    # The demo data with two groups (tests/grouping.py): a consultant's four clients, the CMA's.
    data = tmp_path_factory.mktemp("grouped") / "data"
    copy_data(data)
    set_groups(data)
    app = app_on(tmp_path_factory.mktemp("march"), SCREENSHOT_TODAY, CALFEED_BASE_URL=SITE,
                 CALFEED_RULES=str(data / "rules.toml"))
    moved = app_on(tmp_path_factory.mktemp("moved"), "2020-03-30", CALFEED_BASE_URL=SITE,
                   CALFEED_RULES=str(FIXTURES / "extension-2019.toml"))
    with serving(app) as url, serving(moved) as moved_url:
        yield {
            "home": url + "/",
            "track": url + "/tracks/progress-8-month/",
            "builder": url + "/calendar/?next_decision_date=2024-07-31&enduring_materials=yes&accreditor=cma",
            "provider": url + private_page(app, "demo-12-month", SITE)[len(SITE):],
            "reminders": url + private_page(app, "demo-12-month", SITE)[len(SITE):] + "remind-2w2d/",
            "group": url + group_page(app, "acme", SITE)[len(SITE):],
            "moved": moved_url + "/tracks/annual-reporting/",
            "not-found": url + "/no/such/page/",
            "bad-parameter": url + "/calendar/?next_decison_date=2024-07-31&enduring_materials=yes",
            # ACCME's April 3 and the coordinator's April 10: both said, the report's stands
            "own-dates": url + "/calendar/?next_decision_date=2024-07-31&enter-activity-data="
                               "2024-01-24&materials-due=2024-04-10",
            "bad-date": url + "/calendar/?next_decision_date=2024-07-31&materials-due=2024-08-07",
        }


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_type_passes_axe_fits_the_screen_and_is_photographed(
        march_2024, chromium, width, scheme):
    pages = march_2024
    pixels = WIDTHS[width]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": pixels, "height": 900}, color_scheme=scheme,
                                   is_mobile=width == "phone", has_touch=width == "phone")
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        found = {}
        for name, address in pages.items():
            response = page.goto(address)
            expected = {"not-found": 404, "bad-parameter": 400, "bad-date": 400}.get(name, 200)
            assert response.status == expected, name
            if expected != 200:  # Chromium logs the error status it was asked for
                problems.remove(f"console: Failed to load resource: the server responded "
                                f"with a status of {expected} ({response.status_text})")
            assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
            # nothing wider than the screen: no sideways scrolling
            assert page.evaluate("document.documentElement.scrollWidth") <= pixels, name
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
            found[name] = axe_violations(page)
    finally:
        context.close()
    assert {name: v for name, v in found.items() if v} == {}
    assert problems == []


def test_dark_scheme_changes_the_colours(march_2024, chromium):
    pages = march_2024
    colours = {}
    for scheme in ("light", "dark"):
        context = chromium.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(pages["provider"])
        colours[scheme] = page.evaluate(
            "[getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]")
        context.close()
    assert colours["light"] == ["rgb(244, 246, 248)", "rgb(27, 35, 48)"]
    assert colours["dark"] == ["rgb(15, 20, 26)", "rgb(230, 235, 241)"]


def test_the_copy_box_shows_the_whole_address_with_its_underscores(march_2024, chromium):
    pages = march_2024
    for pixels in WIDTHS.values():
        page = chromium.new_page(viewport={"width": pixels, "height": 900})
        page.goto(pages["builder"])
        box = page.locator("#feed-url")
        assert box.input_value() == (f"{SITE}/calendar.ics?next_decision_date=2024-07-31"
                                     "&enduring_materials=yes&accreditor=cma")
        # Nothing scrolled out of sight, sideways or below.
        assert box.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight")
        # A line tall enough for the underscores' descent (the `font` shorthand once
        # reset it to `normal`, and at 1x they fell outside the line).
        size, line = box.evaluate("e => [getComputedStyle(e).fontSize, getComputedStyle(e).lineHeight]")
        assert float(line.removesuffix("px")) >= 1.5 * float(size.removesuffix("px"))
        page.close()


def test_links_say_what_they_do(march_2024, chromium):
    pages = march_2024
    page = chromium.new_page()
    page.goto(pages["track"])
    add = page.get_by_role("link", name="Add 'Progress Report Materials Submission Deadline' to my calendar")
    assert add.get_attribute("href") == (
        "/tracks/progress-8-month/events/progress-8-month/2023-11/materials-due.ics")
    names = page.locator("a").evaluate_all("links => links.map(a => a.textContent.trim())")
    assert not [n for n in names if n in ("JSON", "this address", "here")
                or n.startswith("Add this one")]
    page.goto(pages["home"])
    subscribe = page.get_by_role("link", name="Google Calendar (subscribe to Annual Reporting in PARS)")
    assert subscribe.get_attribute("href") == (
        "https://calendar.google.com/calendar/r?cid="
        "webcal%3A%2F%2Fdeadlines.example.org%2Ftracks%2Fannual-reporting.ics")
    page.close()


# --- the page does not grow as the years go by -------------------------------------


@pytest.mark.parametrize("provider", ["demo-12-month", "demo-state"])
def test_a_page_years_later_is_no_longer(tmp_path, chromium, provider):
    heights = {}
    for today in ("2026-06-01", "2036-06-01"):
        app = app_on(tmp_path, today, CALFEED_BASE_URL=SITE)
        with serving(app) as url:
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + private_page(app, provider, SITE)[len(SITE):])
            heights[today] = page.evaluate("document.documentElement.scrollHeight")
            # ten more data years are still there, folded away
            passed = page.locator(".archive > details > summary").inner_text()
            page.close()
        heights[today, "passed"] = passed
    assert heights["2036-06-01"] <= heights["2026-06-01"], heights
    assert heights["2026-06-01", "passed"] != heights["2036-06-01", "passed"]


# --- a group's page ------------------------------------------------------------------------


def test_a_group_page_sorts_by_name_without_javascript(march_2024, chromium):
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(march_2024["group"])
        names = page.locator("table.providers tbody th")
        # As of March 15, 2024: the CMA's estimated March 15 first, then ACCME's April 1.
        assert names.first.inner_text() == (
            "Demo Hospital (accredited by the California Medical Association)")
        assert page.locator("th[aria-sort=ascending]").inner_text() == "Next deadline"
        page.get_by_role("link", name="name", exact=True).click()
        page.wait_for_load_state()
        assert page.url.endswith("/by-name/")
        assert names.first.inner_text() == "Demo Health System (8-month progress report)"
        assert page.locator("th[aria-sort=ascending]").inner_text() == "Provider"
        # Each name leads to the provider's own private page.
        names.first.get_by_role("link").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Demo Health System (8-month progress report)"
    finally:
        context.close()


def test_a_group_of_1500_providers_fits_a_phone(tmp_path, chromium):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_roster", ROOT / "bench" / "roster.py")
    roster = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roster)
    data = tmp_path / "data"
    copy_data(data)
    (data / "providers.csv").write_text(roster.roster(1500), newline="")
    set_groups(data, {}, groups_csv="id,name\neveryone,All 1,500 providers\n".replace(
        "All 1,500", '"All 1,500"'))
    from grouping import set_members
    set_members(data, {f"p{n:06d}": "everyone" for n in range(1, 1501)})
    app = make_app(tmp_path, data, CALFEED_TODAY="2026-03-02", CALFEED_BASE_URL=SITE)
    with serving(app) as url:
        page = chromium.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        response = page.goto(url + group_page(app, "everyone", SITE)[len(SITE):])
        assert response.status == 200
        assert page.locator("table.providers tbody tr").count() == 1500
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.close()
