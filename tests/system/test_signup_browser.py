"""Email sign-up in the real browser (Chromium, JavaScript off): keyboard, screen reader, axe.

The whole way as a person goes it: the form on a calendar page, the confirmation
message (from a real SMTP server), its link and button, the manage page. Every sign-up
page passes axe-core (WCAG 2.1 A and AA, best practices) at desktop and phone widths,
light and dark, and is photographed into docs/screenshots/ (`email-*`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from calfeed.core import calendars
from calfeed.serve import web
from grouping import set_groups
from serving import copy_data
from test_browser import SCREENSHOTS, WIDTHS, axe_violations, chromium  # noqa: F401 (chromium: the fixture)
from signing import ME, drain, link, notify, signup_app, to

pytestmark = pytest.mark.browser


@contextmanager
def serving_signup(folder: Path, smtp_url: str, **extra: object) -> Iterator[tuple[object, str]]:
    """An app offering sign-up, its CALFEED_BASE_URL the loopback address it is served at."""
    from werkzeug.serving import make_server

    holder: dict[str, object] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start),
                         threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = app = signup_app(folder, smtp_url, CALFEED_BASE_URL=base, **extra)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_sign_up_with_the_keyboard_confirm_and_manage(inbox, tmp_path, chromium):
    handler, url = inbox
    with serving_signup(tmp_path, url) as (app, base):
        context = chromium.new_context(java_script_enabled=False,
                                       viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.goto(base + "/calendar/?next_decision_date=2024-07-31")
            assert page.locator("script").count() == 0
            # What a screen reader announces: a group named by its legend, named fields.
            form = page.get_by_role("region", name="Email reminders")
            group = form.get_by_role("group", name="Email me")
            assert group.get_by_role("radio", name="1 month, 1 week and 1 day before").is_checked()
            assert form.get_by_role("checkbox",
                                    name="and when a date moves or is published").is_checked()
            # By keyboard alone: type the address, Tab to the checked choice, arrows to
            # another, Tab past the notices to the button, Enter.
            form.get_by_role("textbox", name="Your email address").focus()
            page.keyboard.type(ME)
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.value") == "1m1w1d"
            page.keyboard.press("ArrowUp")
            page.keyboard.press("ArrowUp")
            assert group.get_by_role("radio", name="1 week before").is_checked()
            page.keyboard.press("Tab")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "Email me"
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert page.get_by_role("heading", level=1).inner_text() == "Check your email"
            assert ME not in page.content()
            assert drain(app) == 1
            ((_, message),) = handler.take()
            assert message["Subject"] == ("Confirm your email reminders: Progress report (Next "
                                          "Decision Date July 31, 2024) and annual reporting")
            page.goto(base + link_in(message, base, "confirm"))
            with page.expect_navigation():
                page.get_by_role("button", name="Start my email reminders").press("Enter")
            assert page.get_by_role("heading", level=1).inner_text() == \
                "Your email reminders are on"
            assert "a reminder 7 days before each step you act on" in page.content()
            with page.expect_navigation():
                page.get_by_role("link", name="Change or stop them now").click()
            section = page.get_by_role("region", name=re.compile("^Progress report"))
            section.get_by_role("radio", name="2 weeks and 2 days before").check()
            with page.expect_navigation():
                section.get_by_role("button", name=re.compile("^Save")).click()
            assert page.get_by_role("status").inner_text() == "Saved."
            assert "Now: a reminder 14 and 2 days before each step you act on" in page.content()
            manage = page.url
        finally:
            context.close()
        # Two weeks before the 8-month cohort's materials are due (April 3, 2024: source 000)
        # would be 2024-03-20; this calendar's next deadline after 2025-02-20 is annual
        # reporting's March 31, 2025 (14 days before: March 17).
        assert notify(app, "2025-03-17").exit_code == 0
        (reminder,) = to(handler, ME)
        assert reminder["Subject"].startswith("Due in 14 days: Annual Reporting in PARS")
        assert manage.removeprefix(base) in reminder.get_body(("plain",)).get_content()


def link_in(message, base: str, prefix: str) -> str:
    """A link of the served site in a message, as a path."""
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"{re.escape(base)}(/{prefix}/\S+)", text).group(1)


@pytest.fixture(scope="module")
def sign_up_pages(tmp_path_factory, chromium):
    """Each sign-up page, by name: a calendar page's form, a refused form, the answer, the
    confirmation, the manage page, the one-click page and a group's form page.

    After `chromium`: Playwright's driver must start before aiosmtpd's event loop does,
    or its first call never returns.
    """
    from aiosmtpd.controller import Controller

    from smtpserver import Inbox, free_port

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    folder = tmp_path_factory.mktemp("signup")
    copy_data(folder / "data")
    set_groups(folder / "data")
    try:
        with serving_signup(folder, f"smtp://127.0.0.1:{controller.port}",
                            CALFEED_RULES=str(folder / "data" / "rules.toml"),
                            CALFEED_PROVIDERS=None) as (app, base):
            client = app.test_client()
            with app.app_context():
                group = calendars.group_of(web.state(app).secret,
                                           web.snapshot(app).rules.groups["acme"]).signup()
            calendar = "/calendar/?next_decision_date=2024-07-31&enduring_materials=yes&accreditor=cma"
            html = client.get(calendar).get_data(as_text=True)
            token = re.search(r'name="form" value="([^"]+)"', html).group(1)
            action = "/calendar/email/?next_decision_date=2024-07-31&enduring_materials=yes&accreditor=cma"
            client.post(action, data={"form": token, "email": ME, "remind": "1m1w1d",
                                      "notices": "yes"})
            drain(app)
            ((_, message),) = handler.take()
            confirm = link_in(message, base, "confirm")
            form = re.search(r'name="form" value="([^"]+)"',
                             client.get(confirm).get_data(as_text=True)).group(1)
            # the page before the button is photographed from a second, unconfirmed request
            client.post("/tracks/annual-reporting/email/", data={
                "form": re.search(r'name="form" value="([^"]+)"', client.get(
                    "/tracks/annual-reporting/").get_data(as_text=True)).group(1),
                "email": ME, "remind": "1w", "notices": "yes"})
            drain(app)
            ((_, second),) = handler.take()
            done = client.post(confirm, data={"form": form}).get_data(as_text=True)
            manage = re.search(r'href="(/manage/[^"]+/)"', done).group(1)
            yield {
                "email-form": (base + calendar, 200),
                "email-refused": (base + calendar, 400),
                "email-sent": (base + action, 200),
                "email-confirm": (base + link_in(second, base, "confirm"), 200),
                "email-manage": (base + manage, 200),
                "email-unsubscribe": (base + manage + "unsubscribe", 200),
                "email-group": (base + group, 200),
            }
    finally:
        controller.stop()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_sign_up_page_passes_axe_fits_the_screen_and_is_photographed(
        sign_up_pages, chromium, width, scheme):
    pixels = WIDTHS[width]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": pixels, "height": 900}, color_scheme=scheme,
                                   is_mobile=width == "phone", has_touch=width == "phone")
    found = {}
    try:
        page = context.new_page()
        for name, (address, status) in sign_up_pages.items():
            if name == "email-refused":  # an address the server refuses: said, and linked
                page.goto(address)
                page.get_by_role("textbox", name="Your email address").fill("someone@localhost")
                with page.expect_navigation() as sent:
                    page.get_by_role("button", name="Email me").click()
                assert sent.value.status == status
                problem = page.get_by_role("alert")
                assert "Enter an email address like name@example.org." in problem.inner_text()
                problem.get_by_role("link").click()
                assert page.evaluate("document.activeElement.id") == "signup-email"
                assert page.get_by_role("textbox", name="Your email address").get_attribute(
                    "aria-invalid") == "true"
            elif name == "email-sent":
                page.goto(address)
                page.get_by_role("textbox", name="Your email address").fill("someone@example.org")
                with page.expect_navigation():
                    page.get_by_role("button", name="Email me").click()
                assert page.get_by_role("heading", level=1).inner_text() == "Check your email"
            else:
                assert page.goto(address).status == status, name
            assert page.evaluate("document.documentElement.scrollWidth") <= pixels, name
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
            found[name] = axe_violations(page)
    finally:
        context.close()
    assert {name: v for name, v in found.items() if v} == {}
