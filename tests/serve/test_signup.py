"""Email sign-up (CALFEED_SIGNUP): the form, the confirmation, `calfeed notify`, leaving.

Against a real SMTP server (aiosmtpd, the `inbox` fixture), read as the recipient
reads it. The dates are ACCME's: annual reporting for data year 2024 is due Monday,
March 31, 2025 at 11:59 p.m. Central Time (published-dates.md, accme.org/new-pars), so
a 30-day reminder goes out on 2025-03-01, a 7-day one on 2025-03-24; the California
Medical Association's own deadline for it is Friday, March 14, 2025.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from calfeed.core import calendars
from calfeed.notify import sendlog, signups, subscriptions
from calfeed.serve import redact, signup, web
from smtpserver import HEALTH, SENDER, Inbox, free_port, uids
from signing import (ME, SIGNED_UP, SITE, TRACK, confirm, drain, field, form_action, link, notify,
                     sign_up, signup_app, subscribed, to)

# --- the whole way, as a subscriber lives it ----------------------------------------


def test_sign_up_confirm_get_the_reminder_on_its_day_and_leave_in_one_click(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    # The form is on the track's page: an address, the page's reminder choices, notices.
    page = client.get(TRACK).get_data(as_text=True)
    assert form_action(page) == "/tracks/annual-reporting/email/"
    assert [m for m in re.findall(r'name="remind" value="([^"]+)"', page)] == [
        "none", "1w", "2w2d", "1m1w1d"]
    answer = sign_up(client, TRACK)
    assert answer.status_code == 200
    assert SIGNED_UP in answer.get_data(as_text=True)
    assert ME not in answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    # Nothing is sent but the confirmation.
    assert drain(app) == 1
    ((tos, message),) = handler.take()
    assert tos == (ME,)
    assert message["Subject"] == "Confirm your email reminders: Annual Reporting in PARS"
    assert message["From"] == SENDER
    text = message.get_body(("plain",)).get_content()
    assert "a reminder 30, 7 and 1 days before each step you act on, and a notice when a " \
           "date moves or is published" in " ".join(text.split())
    assert f"{SITE}/tracks/annual-reporting/" in text
    # Following the link shows a button; a GET alone (a mail scanner) confirms nothing.
    path = link(message, "confirm")
    assert "Start my email reminders" in client.get(path).get_data(as_text=True)
    assert notify(app, "2025-03-01").exit_code == 0
    assert to(handler, ME) == []
    done = confirm(client, path)
    assert done.status_code == 200
    assert "Your email reminders are on" in done.get_data(as_text=True)
    # The day before the 30-day mark: nothing; on it, the reminder, with the manage links.
    assert notify(app, "2025-02-28").exit_code == 0
    assert to(handler, ME) == []
    result = notify(app, "2025-03-01")
    assert result.exit_code == 0, result.output
    (reminder,) = to(handler, ME)
    assert reminder["Subject"] == ("Due in 30 days: Annual Reporting in PARS (5 steps) — Monday, "
                                   "March 31, 2025, 11:59 p.m. Central Time")
    assert [u.split("/", 1)[1] for u in uids(reminder)] == [
        f"annual-reporting/2024/{step}@calfeed" for step in (
            "annual-agreement", "enter-activities", "enduring-learner-counts", "program-summary",
            "contact-information")]
    one_click = re.fullmatch(rf"<{re.escape(SITE)}(/manage/[^>]+/unsubscribe)>, "
                             r"<mailto:deadlines@example.org\?subject=unsubscribe>",
                             reminder["List-Unsubscribe"]).group(1)
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = reminder.get_body(("plain",)).get_content()
    assert ME not in one_click and "pat" not in one_click
    assert f"To change these emails or stop them:\r\n{SITE}{one_click.removesuffix('unsubscribe')}\r\n" \
        in text
    assert "You signed up for email about Annual Reporting in PARS: a reminder 30, 7 and 1 " \
           "days before each step you act on" in " ".join(text.split())
    assert "subscriber " in result.output and ME not in result.output
    # A second run the same day sends nothing more.
    assert notify(app, "2025-03-01").exit_code == 0
    assert to(handler, ME) == []
    # The mail app's Unsubscribe button: a POST, no cookie, no page token, no browser headers.
    left = client.post(one_click, data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded")
    assert left.status_code == 200
    assert "You are unsubscribed" in left.get_data(as_text=True)
    # Nothing after: not the 7-day reminder, not the day itself.
    for day in ("2025-03-24", "2025-03-31"):
        assert notify(app, day).exit_code == 0
        assert to(handler, ME) == []
    # The same link again: refused, and it changes nothing.
    assert client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 404


def test_the_mail_apps_one_click_button_is_a_post_and_a_get_changes_nothing(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    subscribed(app, client, handler)
    notify(app, "2025-03-01")
    (reminder,) = to(handler, ME)
    one_click = re.search(r"<https://deadlines\.example\.org(/manage/[^>]+)>",
                          reminder["List-Unsubscribe"]).group(1)
    page = client.get(one_click)
    assert page.status_code == 200
    assert "Stop every email from this site" in page.get_data(as_text=True)
    # a POST without the field RFC 8058 names is not an unsubscribe
    assert client.post(one_click, data={}).status_code == 400
    notify(app, "2025-03-24")
    assert [m["Subject"][:15] for m in to(handler, ME)] == ["Due in 7 days: "]


# --- double opt-in, without enumeration --------------------------------------------


def test_the_answer_is_the_same_for_a_new_a_waiting_and_a_subscribed_address(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    subscribed(app, client, handler, address="old@example.org")
    answers = [sign_up(client, TRACK, address) for address in (
        "new@example.org",  # new
        "new@example.org",  # waiting for its confirmation
        "old@example.org")]  # already subscribed (a new choice: confirmed by its own link)
    assert {a.status_code for a in answers} == {200}
    assert len({a.get_data() for a in answers}) == 1
    assert drain(app) == 2
    # One confirmation per address until its link is followed, whatever was sent meanwhile.
    assert sorted(tos for tos, _ in handler.take()) == [("new@example.org",),
                                                        ("old@example.org",)]
    assert sign_up(client, TRACK, "new@example.org", remind="1w").get_data() == \
        answers[0].get_data()
    assert drain(app) == 0
    assert handler.take() == []


def test_at_most_three_confirmations_to_one_address_a_day(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    pages = [TRACK, "/calendar/?next_decision_date=2024-07-31", "/calendar/",
             "/calendar/?enduring_materials=yes"]
    answers = [sign_up(client, page, "busy@example.org") for page in pages]
    # the fourth is answered as the others (its page's "Back to the calendar" aside)
    assert [a.status_code for a in answers] == [200] * 4
    assert SIGNED_UP in answers[3].get_data(as_text=True)
    assert drain(app) == 3
    assert [m["Subject"] for _, m in handler.take()] == [
        "Confirm your email reminders: Annual Reporting in PARS",
        "Confirm your email reminders: Progress report (Next Decision Date July 31, 2024) and "
        "annual reporting",
        "Confirm your email reminders: Annual reporting"]
    # another address is not held back
    sign_up(client, TRACK, "other@example.org")
    assert drain(app) == 1


def test_too_many_sign_ups_from_one_client_are_refused(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    statuses = []
    for n in range(subscriptions.CLIENT_LIMIT + 1):
        html = client.get(TRACK).get_data(as_text=True)
        statuses.append(client.post(form_action(html), data={
            "form": field(html, "form"), "email": f"person{n}@example.org", "remind": "1w"},
            environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code)
    assert statuses == [200] * subscriptions.CLIENT_LIMIT + [429]
    refused = client.post(form_action(html), data={"form": field(html, "form"),
                                                    "email": "late@example.org", "remind": "1w"},
                          environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert "late@example.org" not in refused.get_data(as_text=True)
    # another client is not held back
    assert client.post(form_action(html), data={"form": field(html, "form"),
                                                 "email": "late@example.org", "remind": "1w"},
                       environ_base={"REMOTE_ADDR": "198.51.100.2"}).status_code == 200


def test_behind_a_proxy_the_limit_counts_the_forwarded_client(inbox, tmp_path):
    _, url = inbox
    app = signup_app(tmp_path, url, CALFEED_TRUSTED_PROXIES="1")
    client = app.test_client()
    html = client.get(TRACK).get_data(as_text=True)
    statuses = [client.post(form_action(html), data={
        "form": field(html, "form"), "email": f"p{n}@example.org", "remind": "1w"},
        headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
        for n in range(subscriptions.CLIENT_LIMIT + 5)]
    assert set(statuses) == {200}  # every request came through 127.0.0.1, from another client


def test_an_address_calfeed_check_would_refuse_is_refused_without_echoing_it(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    for address in ("no-at-sign", "a..b@example.org", "x@localhost", "é@example.org",
                    "a@" + "b" * 250 + ".org", ""):
        answer = sign_up(client, TRACK, address)
        assert answer.status_code == 400, address
        html = answer.get_data(as_text=True)
        assert "Enter an email address like name@example.org." in html
        assert 'aria-invalid="true"' in html
        assert address not in html or not address
    # a valid address with no choice at all: refused, and the address is not shown back
    answer = sign_up(client, TRACK, ME, remind="none", notices=False)
    assert answer.status_code == 400
    assert "with neither, there is nothing to send" in answer.get_data(as_text=True)
    assert ME not in answer.get_data(as_text=True)
    assert drain(app) == 0


# --- links: forged, replayed, expired ---------------------------------------------


def test_forged_replayed_and_expired_links_are_refused(inbox, tmp_path, monkeypatch):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    sign_up(client, TRACK)
    drain(app)
    ((_, message),) = handler.take()
    path = link(message, "confirm")
    ident, stamp, signature = path.removeprefix("/confirm/").split("~")
    forged = [
        f"/confirm/{ident}~{stamp}~{'A' * len(signature)}",  # a made-up signature
        f"/confirm/{ident[:-1]}x~{stamp}~{signature}",  # another request, the same signature
        "/confirm/" + subscriptions.new_id(),  # no signature at all
    ]
    # a token signed with another key
    other = signup_app(tmp_path / "other", url, CALFEED_SECRET_KEY="another-secret-key-0123456789")
    forged.append(signups.confirm_path(web.state(other).secret, ident))
    # a manage token where a confirmation token goes (another purpose, another salt)
    forged.append("/confirm/" + signups.person_token(web.state(app).secret, ident))
    for bad in forged:
        for answer in (client.get(bad), client.post(bad, data={"form": "x"})):
            assert answer.status_code == 404, bad
            assert "This link does not work" in answer.get_data(as_text=True)
    assert confirm(client, path).status_code == 200
    # replayed, the very POST that confirmed: the link worked once
    assert client.get(path).status_code == 404
    again = client.post(path, data={"form": signup.form_token(web.state(app).secret, path)})
    assert again.status_code == 404
    # expired: a request 48 hours old is gone, and so is its link
    sign_up(client, TRACK, "late@example.org")
    drain(app)
    ((_, message),) = handler.take()
    late = link(message, "confirm")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 48 * 3600 + 1)
    assert client.get(late).status_code == 404
    db = sqlite3.connect(tmp_path / "instance" / "calfeed.sqlite3")
    with db:
        assert subscriptions.expire(db, time.time()) == 1
    assert db.execute("SELECT count(*) FROM requests").fetchone() == (0,)
    db.close()


def test_a_forged_manage_token_is_refused(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    done = subscribed(app, client, handler).get_data(as_text=True)
    manage = re.search(r'href="(/manage/[^"]+/)"', done).group(1)
    assert client.get(manage).status_code == 200
    token = manage.removeprefix("/manage/").removesuffix("/")
    ident, signature = token.split("~")
    for bad in (f"/manage/{ident}~{signature[:-2]}xx/", f"/manage/{subscriptions.new_id()}/",
                f"/manage/{ident}/", f"/manage/{token}x/"):
        assert client.get(bad).status_code == 404
        assert client.post(bad + "unsubscribe", data={"List-Unsubscribe": "One-Click"}
                           ).status_code == 404
    assert client.get(manage).status_code == 200  # still subscribed


# --- forgery across sites ----------------------------------------------------------


def test_a_post_from_another_site_or_without_the_pages_token_is_refused(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    refused = [
        sign_up(client, TRACK, **{"Sec-Fetch-Site": "cross-site"}),
        sign_up(client, TRACK, **{"Sec-Fetch-Site": "same-site"}),
        sign_up(client, TRACK, Origin="https://evil.example.net"),
        client.post("/tracks/annual-reporting/email/", data={"email": ME, "remind": "1w"}),
        # the token of another page
        client.post("/tracks/annual-reporting/email/", data={
            "form": field(client.get("/calendar/").get_data(as_text=True), "form"),
            "email": ME, "remind": "1w"}),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    # the site's own pages, and a browser under Referrer-Policy: no-referrer (Origin: null)
    assert sign_up(client, TRACK, **{"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert sign_up(client, TRACK, "b@example.org", Origin=SITE).status_code == 200
    assert sign_up(client, TRACK, "c@example.org", Origin="null").status_code == 200
    assert drain(app) == 3
    assert sorted(tos for tos, _ in handler.take()) == [("b@example.org",), ("c@example.org",),
                                                        (ME,)]


# --- the mail server down; the sender in the background ----------------------------


def test_the_page_never_waits_on_a_mail_server_that_is_down(tmp_path, caplog):
    port = free_port()  # nothing listens there yet
    app = signup_app(tmp_path, f"smtp://127.0.0.1:{port}",
                     SIGNUP_SENDER_OPTIONS={"retry_first": 0.0})
    client = app.test_client()
    started = time.monotonic()
    answer = sign_up(client, TRACK)
    assert time.monotonic() - started < 1.0
    assert answer.status_code == 200 and SIGNED_UP in answer.get_data(as_text=True)
    with caplog.at_level(logging.INFO, logger="calfeed"):
        assert drain(app) == 0  # refused: kept, tried again
    assert any("not sent (attempt 1)" in r.getMessage() and "trying again" in r.getMessage()
               for r in caplog.records)
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with caplog.at_level(logging.INFO, logger="calfeed"):
            assert drain(app) == 1
        ((tos, message),) = handler.take()
        assert tos == (ME,)
        assert confirm(app.test_client(), link(message, "confirm")).status_code == 200
    finally:
        controller.stop()
    for record in caplog.records:
        assert ME not in record.getMessage() and "pat.doe" not in record.getMessage()


def test_the_confirmation_arrives_without_anyone_running_anything(tmp_path):
    # The app's own sender thread, started by the first request: the server is down at
    # the sign-up and comes back; the message arrives by itself.
    port = free_port()
    app = signup_app(tmp_path, f"smtp://127.0.0.1:{port}", SIGNUP_SENDER=True,
                     SIGNUP_SENDER_OPTIONS={"retry_first": 0.2, "poll": 0.2})
    sender = signup.extension(app).sender
    try:
        client = app.test_client()
        assert sign_up(client, TRACK).status_code == 200
        assert sender.running
        time.sleep(0.5)  # tried and refused at least once
        handler = Inbox()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            deadline = time.monotonic() + 30
            while not handler.messages and time.monotonic() < deadline:
                time.sleep(0.1)
            ((tos, message),) = handler.take()
            assert tos == (ME,)
            assert message["Subject"] == "Confirm your email reminders: Annual Reporting in PARS"
            time.sleep(0.5)
            assert handler.take() == []  # once
        finally:
            controller.stop()
    finally:
        sender.stop()


def test_a_sign_up_wakes_the_sender_at_once(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url, SIGNUP_SENDER=True,
                     SIGNUP_SENDER_OPTIONS={"poll": 600.0})  # no poll would find it in time
    sender = signup.extension(app).sender
    try:
        client = app.test_client()
        client.get("/healthz")  # the first request starts the thread
        time.sleep(0.3)
        started = time.monotonic()
        sign_up(client, TRACK)
        while not handler.messages and time.monotonic() - started < 20:
            time.sleep(0.05)
        assert handler.messages, "the confirmation did not arrive"
        assert time.monotonic() - started < 20
    finally:
        sender.stop()


# --- with the roster: one message per address ---------------------------------------


def test_a_roster_contact_who_signs_up_gets_one_message_with_both(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    # HEALTH is demo-8-month's contact; it signs up for the CMA builder calendar, and for
    # demo-8-month's own page (the roster already sends that one: no second part), in
    # other capitals.
    cma = "/calendar/?accreditor=cma"
    subscribed(app, client, handler, cma, HEALTH.upper(), remind="1w")
    result = notify(app, "2025-03-07")
    assert result.exit_code == 0, result.output
    (message,) = to(handler, HEALTH)
    # The CMA's deadline, Friday March 14, 2025, 7 days ahead for the sign-up.
    # (a first meeting with the roster catches up with its nearest lead: the 30-day one,
    # 24 days before ACCME's March 31 deadline, for demo-8-month's 4 steps)
    assert message["Subject"] == ("Due in 7 days: Annual reporting, accredited by the "
                                  "California Medical Association: Annual Reporting in PARS "
                                  "(4 steps) — Friday, March 14, 2025 (and 4 more steps)")
    text = " ".join(message.get_body(("plain",)).get_content().split())
    assert "your address is listed as a contact for Demo Health System" in text
    assert "You signed up for email about Annual reporting, accredited by the California " \
           "Medical Association: a reminder 7 days before each step you act on" in text
    assert "demo-8-month#1, subscriber " in result.output
    assert notify(app, "2025-03-07").exit_code == 0
    assert to(handler, HEALTH) == []


def test_a_roster_contact_leaves_in_one_click_too(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    assert notify(app, "2025-03-01").exit_code == 0
    (message,) = to(handler, HEALTH)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = re.search(r"<https://deadlines\.example\.org(/manage/[^>]+)>",
                          message["List-Unsubscribe"]).group(1)
    manage = client.get(one_click.removesuffix("unsubscribe")).get_data(as_text=True)
    assert "as a contact of\n    <bdi>Demo Health System (8-month progress report)</bdi>" in manage
    assert HEALTH not in manage
    assert client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    result = notify(app, "2025-03-24")
    assert to(handler, HEALTH) == []
    assert ("not planned for demo-8-month#1: the address's owner stopped these emails (remove "
            "it from the roster)") in result.output
    # the others on the roster still get theirs
    assert notify(app, "2025-03-24").exit_code == 0
    # and the owner may start them again from the same manage page
    page = client.get(one_click.removesuffix("unsubscribe"))
    assert "Start these reminders again" in page.get_data(as_text=True)
    client.post(one_click.removesuffix("unsubscribe"), data={
        "form": field(page.get_data(as_text=True), "form"), "action": "resume"})
    notify(app, "2025-03-30")
    assert [m["Subject"][:16] for m in to(handler, HEALTH)] == ["Due tomorrow: An"]


def test_missed_days_are_caught_up_once(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    subscribed(app, client, handler, remind="2w2d")
    # a dry run sees the sign-up too, and writes nothing
    dry = app.test_cli_runner().invoke(args=["notify", "--dry-run", "--today", "2025-03-20"])
    assert re.search(r"would send to subscriber \w{6}: Due in 11 days: Annual Reporting in PARS",
                     dry.output), dry.output
    assert "  track:annual-reporting: 14-day reminder: " in dry.output
    # the timer missed March 17 (14 days before): March 20 catches up, once
    for day in ("2025-03-16", "2025-03-20", "2025-03-21"):
        notify(app, day)
    (message,) = to(handler, ME)
    assert message["Subject"] == ("Due in 11 days: Annual Reporting in PARS (5 steps) — Monday, "
                                  "March 31, 2025, 11:59 p.m. Central Time")
    notify(app, "2025-03-29")
    assert [m["Subject"][:14] for m in to(handler, ME)] == ["Due in 2 days:"]


def test_notices_only_send_no_reminder(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    subscribed(app, app.test_client(), handler, remind="none")
    for day in ("2025-03-01", "2025-03-24", "2025-03-31"):
        notify(app, day)
    assert to(handler, ME) == []


# --- managing ------------------------------------------------------------------------


def test_the_manage_page_changes_the_lead_times_and_leaves_one_calendar(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    done = subscribed(app, client, handler).get_data(as_text=True)
    subscribed(app, client, handler, "/calendar/?accreditor=cma")
    manage = re.search(r'href="(/manage/[^"]+/)"', done).group(1)
    page = client.get(manage).get_data(as_text=True)
    assert "Annual Reporting in PARS" in page
    assert "Annual reporting, accredited by the California Medical Association" in page
    assert ME not in page
    token = field(page, "form")
    saved = client.post(manage, data={"form": token, "calendar": "track:annual-reporting",
                                      "action": "save", "remind": "1w"})
    assert saved.status_code == 200 and "Saved." in saved.get_data(as_text=True)
    left = client.post(manage, data={"form": token, "calendar": "builder:accreditor=cma",
                                     "action": "leave"})
    assert "You will get no more email about that calendar." in left.get_data(as_text=True)
    assert "accredited by the California" not in left.get_data(as_text=True)
    # 30 days before: nothing any more; 7 days before: the track's reminder only
    notify(app, "2025-03-01")
    notify(app, "2025-03-07")
    assert to(handler, ME) == []
    notify(app, "2025-03-24")
    (message,) = to(handler, ME)
    assert message["Subject"].startswith("Due in 7 days: Annual Reporting in PARS (5 steps)")
    # leaving the last calendar leaves nothing: the page's link stops working
    gone = client.post(manage, data={"form": token, "calendar": "track:annual-reporting",
                                     "action": "leave"})
    assert "You are unsubscribed" in gone.get_data(as_text=True)
    assert client.get(manage).status_code == 404


def test_every_kind_of_calendar_has_the_form(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    with app.app_context():
        profile = web.snapshot(app).rules.providers["demo-12-month"]
        private = calendars.provider_of(web.state(app).secret, profile).page()
    for page in (TRACK, "/calendar/?next_decision_date=2024-11-30&enduring_materials=yes",
                 private, TRACK + "remind-2w2d/"):
        html = client.get(page).get_data(as_text=True)
        assert 'id="email-reminders"' in html, page
        assert form_action(html).startswith(page.split("remind-")[0].split("?")[0] + "email/")
    # the page's reminder choice is the form's first answer
    assert 'value="2w2d" checked' in client.get(TRACK + "remind-2w2d/").get_data(as_text=True)
    # a provider's subscribers follow it to a new private URL (rotation): keyed by its id
    subscribed(app, client, handler, private, remind="1w")
    assert notify(app, "2025-03-24").exit_code == 0
    (message,) = to(handler, ME)
    assert "Demo Medical Society (12-month progress report)" in message.get_body(
        ("plain",)).get_content()
    # every kind of calendar has its …/email/ route: a new kind (a group) gets one too
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("signup.")}
    for kind in web.KINDS:
        assert f"{kind.base}/email/" in rules


def test_no_address_on_a_page_in_a_log_line_or_in_the_form(inbox, tmp_path, caplog):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        done = subscribed(app, client, handler).get_data(as_text=True)
        result = notify(app, "2025-03-01")
        manage = re.search(r'href="(/manage/[^"]+/)"', done).group(1)
        pages = [client.get(p).get_data(as_text=True) for p in (TRACK, manage, manage + "unsubscribe")]
    # (aiosmtpd, the test's mail server, logs its conversation: not calfeed's lines)
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    for text in pages + [done, result.output] + lines:
        assert ME not in text and "pat.doe" not in text


def test_tokens_in_the_links_never_reach_a_log_whole():
    token = "k3j9xqabcdefghijklmnopqrst~axE1zg~2XfMi4vuuJXHIjZJQ-pubAvbRk_GWpZa70zd"
    for path, cut in ((f"/confirm/{token}", "/confirm/k3j9xq..."),
                      (f"/manage/{token}/unsubscribe", "/manage/k3j9xq.../unsubscribe"),
                      (f"/%6Danage/{token}/", "/manage/k3j9xq.../")):
        assert redact.redact(f'"POST {path} HTTP/1.1" 200') == f'"POST {cut} HTTP/1.1" 200'


# --- the state file -------------------------------------------------------------------


def test_a_send_log_from_before_sign_up_is_migrated_and_kept(tmp_path):
    path = tmp_path / "calfeed.sqlite3"
    with sendlog.SendLog(path, "old run") as log:
        log.db.execute("INSERT INTO told VALUES ('a@example.org', 'demo-annual', 'u', "
                       "'2025-03-31', 'published')")
    db = subscriptions.connect(path, create=True)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (subscriptions.VERSION,)
        assert db.execute("SELECT count(*) FROM told").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM requests").fetchone() == (0,)
        assert subscriptions.migrate(db) == subscriptions.VERSION  # nothing more to do
    finally:
        db.close()
    newer = sqlite3.connect(tmp_path / "newer.sqlite3")
    newer.execute("PRAGMA user_version = 99")
    newer.close()
    with pytest.raises(subscriptions.StateError) as refused:
        subscriptions.connect(tmp_path / "newer.sqlite3")
    assert str(refused.value) == (f"{tmp_path / 'newer.sqlite3'}: schema version 99 is newer "
                                  f"than this calfeed's ({subscriptions.VERSION}) (expected a "
                                  f"file this calfeed or an older one wrote)")


def test_sign_up_needs_the_mail_settings(tmp_path):
    from calfeed import create_app, settings

    with pytest.raises(settings.SettingsError) as refused:
        create_app({"TESTING": True, "CALFEED_SIGNUP": "yes", "INSTANCE_PATH": str(tmp_path),
                    "CALFEED_SECRET_KEY": "s" * 32, "CALFEED_MAIL_FROM": SENDER})
    assert str(refused.value) == ("CALFEED_SIGNUP: needs CALFEED_SMTP_URL, CALFEED_BASE_URL set "
                                  "too (expected the server's mail settings and public address, "
                                  "or CALFEED_SIGNUP=no)")
    with pytest.raises(settings.SettingsError) as bad:
        settings.read({"CALFEED_SIGNUP": "perhaps"})
    assert str(bad.value).startswith("CALFEED_SIGNUP: 'perhaps' is not yes or no")


def test_without_sign_up_pages_keep_the_roster_note_and_have_no_form(client):
    html = client.get(TRACK).get_data(as_text=True)
    assert "email-reminders" not in html and "<form" not in html.split("Subscribe")[1]
    assert "ask them" in html
    assert client.post("/tracks/annual-reporting/email/").status_code in (404, 405)


# --- the operator's commands -----------------------------------------------------------


def test_the_operator_counts_exports_and_deletes_one_address(inbox, tmp_path):
    handler, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    subscribed(app, client, handler)
    sign_up(client, "/calendar/?accreditor=cma")  # waiting for its confirmation
    sign_up(client, TRACK, "other@example.org")
    notify(app, "2025-03-01")
    handler.take()
    runner = app.test_cli_runner()
    counts = runner.invoke(args=["subscribers", "counts"])
    assert counts.exit_code == 0, counts.output
    assert counts.output.splitlines() == [
        "confirmed  waiting  calendar",
        "        0        1  Annual reporting, accredited by the California Medical Association "
        "(builder:accreditor=cma)",
        "        1        1  Annual Reporting in PARS (track:annual-reporting)",
        "addresses with a sign-up: 1; addresses that stopped the roster's emails: 0"]
    assert ME not in counts.output
    exported = runner.invoke(args=["subscribers", "export", ME])
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.output)
    assert data["address"] == ME
    assert [(s["calendar"], s["lead_days"], s["notices"]) for s in data["subscriptions"]] == [
        ("track:annual-reporting", [30, 7, 1], True)]
    assert [r["calendar"] for r in data["waiting_requests"]] == ["builder:accreditor=cma"]
    assert {(s["kind"], s["lead_days"], s["event_date"]) for s in data["sent"]} == {
        ("reminder", 30, "2025-03-31T23:59:00-05:00[America/Chicago]")}
    assert len(data["confirmations_queued_at"]) == 2
    deleted = runner.invoke(args=["subscribers", "delete", ME])
    assert deleted.exit_code == 0, deleted.output
    # told: the 5 steps of each data year the track shows on 2025-03-01 (2023, 2024, 2025)
    assert deleted.output == ("calfeed subscribers: deleted 1 subscriptions, 1 people, 1 requests, "
                              "2 limits, 5 sent, 15 told, 0 claims rows of that address\n")
    after = json.loads(runner.invoke(args=["subscribers", "export", ME]).output)
    assert after == {"address": ME, "person": None, "subscriptions": [], "waiting_requests": [],
                     "confirmations_queued_at": [], "sent": [], "told": [], "roster": []}
    # the other address is untouched
    assert json.loads(runner.invoke(args=["subscribers", "export", "other@example.org"]).output
                      )["waiting_requests"]
    # a roster address: deleted, and the operator is told the roster still lists it
    on_roster = runner.invoke(args=["subscribers", "delete", HEALTH])
    assert "the roster still lists that address (demo-8-month#1)" in on_roster.output



# --- two gunicorn workers and `calfeed notify` sharing one file ------------------------


@pytest.mark.gunicorn
def test_two_gunicorn_workers_share_the_queue_the_limits_and_the_file(inbox, tmp_path):
    import threading
    import urllib.parse

    from serving import SECRET as SERVER_SECRET, fetch, gunicorn
    from smtpserver import calfeed, env

    handler, url = inbox
    state = tmp_path / "state" / "calfeed.sqlite3"
    settings = {"CALFEED_SIGNUP": "yes", "CALFEED_SMTP_URL": url, "CALFEED_MAIL_FROM": SENDER,
                "CALFEED_STATE": str(state), "CALFEED_TODAY": "2025-02-20",
                "CALFEED_TRUSTED_PROXIES": "1"}
    with gunicorn(tmp_path / "server", env=settings) as server:
        page = fetch(server.base + TRACK)[2].decode()
        token = field(page, "form")
        answers: list[tuple[int, float]] = []

        def post(address: str, client: str, path: str = "/tracks/annual-reporting/email/",
                 form: str = token) -> None:
            body = urllib.parse.urlencode({"form": form, "email": address, "remind": "1m1w1d",
                                           "notices": "yes"}).encode()
            started = time.monotonic()
            status = fetch(server.base + path, {"X-Forwarded-For": client,
                                                "Content-Type": "application/x-www-form-urlencoded"},
                           method="POST", body=body)[0]
            answers.append((status, time.monotonic() - started))

        # 30 people, each from their own network, and one address sent 8 times over 4
        # calendars from 8 networks: all at once, across both workers.
        calendars_ = ["/calendar/email/", "/calendar/email/?accreditor=cma",
                      "/calendar/email/?enduring_materials=yes", "/tracks/annual-reporting/email/"]
        forms = {path: field(fetch(server.base + path.replace("email/", ""))[2].decode(), "form")
                 for path in calendars_}
        jobs = [threading.Thread(target=post, args=(f"person{n}@example.org", f"203.0.113.{n}"))
                for n in range(30)]
        jobs += [threading.Thread(target=post, args=("busy@example.org", f"198.51.100.{n}",
                                                     calendars_[n % 4], forms[calendars_[n % 4]]))
                 for n in range(8)]
        for job in jobs:
            job.start()
        for job in jobs:
            job.join()
        assert [status for status, _ in answers] == [200] * 38
        assert max(seconds for _, seconds in answers) < 5
        # Both workers answered, and both workers' senders drain the one queue.
        assert len({line.split()[0] for line in server.access_lines()
                    if '"POST ' in line}) == 2
        deadline = time.monotonic() + 60
        while len(handler.messages) < 33 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # anything sent twice would have arrived by now
        received = [tos[0] for tos, _ in handler.take()]
        assert sorted(received) == sorted([f"person{n}@example.org" for n in range(30)]
                                          + ["busy@example.org"] * 3)
        # Confirm one through whichever worker answers, then the daily run sends to it.
        sign_up_page = fetch(server.base + TRACK)[2].decode()
        assert "person7@example.org" not in sign_up_page
        assert not any("person" in line or "~" in line for line in server.access_lines())
        assert "example.org" not in server.log.read_text()
    # the server is gone; its file is the notify run's
    environ = env(tmp_path, url, "2025-03-01", CALFEED_SIGNUP="yes", CALFEED_STATE=str(state),
                  CALFEED_SECRET_KEY=SERVER_SECRET)
    db = sqlite3.connect(state)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    ident = db.execute("SELECT id FROM requests WHERE address = 'person7@example.org'").fetchone()[0]
    db.close()
    with gunicorn(tmp_path / "again", env=settings) as server:
        path = signups.confirm_path(SERVER_SECRET.encode(), ident)
        form = field(fetch(server.base + path)[2].decode(), "form")
        assert fetch(server.base + path, {"Content-Type": "application/x-www-form-urlencoded"},
                     method="POST", body=f"form={form}".encode())[0] == 200
        result = calfeed("notify", environ=environ)
        assert result.returncode == 0, result.stderr
        (message,) = to(handler, "person7@example.org")
        assert message["Subject"].startswith("Due in 30 days: Annual Reporting in PARS (5 steps)")
        one_click = re.search(r"<https://deadlines\.example\.org(/manage/[^>]+)>",
                              message["List-Unsubscribe"]).group(1)
        assert fetch(server.base + one_click, {"Content-Type": "application/x-www-form-urlencoded"},
                     method="POST", body=b"List-Unsubscribe=One-Click")[0] == 200
        assert calfeed("notify", environ={**environ, "CALFEED_TODAY": "2025-03-24"}).returncode == 0
        assert to(handler, "person7@example.org") == []


# --- a static host --------------------------------------------------------------------


def test_a_built_page_posts_to_the_server_at_the_builds_base_url(inbox, tmp_path, data):
    from click.testing import CliRunner

    from calfeed.cli import main
    from apps import SECRET
    from smtpserver import DEMO_ADDRESSES

    handler, url = inbox
    env = {"CALFEED_SECRET_KEY": SECRET, "CALFEED_RULES": None, "CALFEED_PROVIDERS": None,
           "CALFEED_BASE_URL": SITE, "CALFEED_TODAY": None, "CI": "1", "CALFEED_SIGNUP": "yes",
           "CALFEED_SMTP_URL": url, "CALFEED_MAIL_FROM": SENDER}
    site = tmp_path / "site"
    built = CliRunner().invoke(main, ["build", str(site), "--rules", str(data / "rules.toml"),
                                      "--today", "2025-02-20"], env=env)
    assert built.exit_code == 0, built.output
    page = (site / "tracks" / "annual-reporting" / "index.html").read_text()
    assert form_action(page) == "/tracks/annual-reporting/email/"
    # no sign-up page is a file: only the server answers them
    assert not list(site.rglob("email")) and not (site / "confirm").exists()
    for path in site.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert not any(a.encode() in text for a in DEMO_ADDRESSES), path
    # The server (the same key) takes the built page's form as its own.
    app = signup_app(tmp_path / "server", url, CALFEED_RULES=str(data / "rules.toml"),
                     CALFEED_PROVIDERS=None)
    answer = app.test_client().post(form_action(page), data={
        "form": field(page, "form"), "email": ME, "remind": "1w", "notices": "yes"},
        headers={"Origin": SITE})
    assert answer.status_code == 200 and SIGNED_UP in answer.get_data(as_text=True)
    assert drain(app) == 1


def test_every_route_with_a_token_is_under_a_private_prefix(inbox, tmp_path):
    _, url = inbox
    app = signup_app(tmp_path, url)
    private = [rule.rule for rule in app.url_map.iter_rules() if "token" in rule.arguments]
    assert {rule.split("/")[1] for rule in private} == set(calendars.PRIVATE_PREFIXES)


def test_bad_input_to_the_sign_up_pages_is_never_a_500(inbox, tmp_path):
    _, url = inbox
    app = signup_app(tmp_path, url)
    client = app.test_client()
    token = field(client.get(TRACK).get_data(as_text=True), "form")
    email = "/tracks/annual-reporting/email/"
    answers = {
        "no fields": client.post(email),
        "a list of choices": client.post(email, data={"form": token, "email": ME,
                                                      "remind": ["1w", "2w2d", "x" * 5000]}),
        "an unknown choice": client.post(email, data={"form": token, "email": ME,
                                                      "remind": "3d"}),
        "bytes": client.post(email, data=b"\xff\xfe\x00form=\xff",
                             content_type="application/x-www-form-urlencoded"),
        "multipart": client.post(email, data={"form": token, "email": ME, "remind": "1w",
                                              "file": (io.BytesIO(b"x"), "x.txt")},
                                 content_type="multipart/form-data"),
        "a long address": client.post(email, data={"form": token, "remind": "1w",
                                                   "email": "a" * 20000 + "@example.org"}),
        "an unknown builder answer": client.post("/calendar/email/?next_decison_date=2024-07-31"),
        "a wrong provider token": client.post("/p/notatoken/email/", data={"form": token}),
        "a confirm token with a NUL": client.get("/confirm/%00~x~y"),
        "a manage token in unicode": client.post("/manage/é~ü/", data={"action": "save"}),
        "an unknown manage action": client.put("/manage/x/"),
        "a one-click GET of a bad token": client.get("/manage/" + "A" * 5000 + "/unsubscribe"),
    }
    assert {name: a.status_code for name, a in answers.items()} == {
        "no fields": 403, "a list of choices": 200, "an unknown choice": 400, "bytes": 403,
        "multipart": 200, "a long address": 400, "an unknown builder answer": 400,
        "a wrong provider token": 404, "a confirm token with a NUL": 404,
        "a manage token in unicode": 404, "an unknown manage action": 405,
        "a one-click GET of a bad token": 404}


def test_opening_the_file_keeps_the_locks_the_process_holds(tmp_path):
    # A request opens the file while this process's sender thread has it open. Closing
    # any descriptor of the file drops every POSIX lock the process holds on it, SQLite's
    # shared lock among them: another worker closing its last connection would then take
    # the file for itself and delete the write-ahead log under this one's feet ("database
    # disk image is malformed"). While this process has it open, the log must stay.
    import subprocess
    import sys

    path = tmp_path / "calfeed.sqlite3"
    holder = subscriptions.connect(path, create=True)
    try:
        holder.execute("INSERT INTO limits VALUES ('client', 'k', 1)")
        subscriptions.connect(path).close()
        other = subprocess.run(
            [sys.executable, "-c", "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
             "print(db.execute('SELECT count(*) FROM limits').fetchone()[0]); db.close()",
             str(path)], capture_output=True, text=True, timeout=60)
        assert other.stdout == "1\n", other.stderr
        assert Path(f"{path}-wal").exists()
        holder.execute("INSERT INTO limits VALUES ('client', 'k', 2)")
        assert holder.execute("SELECT count(*) FROM limits").fetchone() == (2,)
    finally:
        holder.close()


# --- a group's private page --------------------------------------------------------


def group_app(tmp_path: Path, data: Path, url: str, today: str = "2025-02-20", **extra):
    """A sign-up app on the demo data with the acme group (every demo provider) and the
    cma group (the providers the California Medical Association accredits)."""
    from grouping import set_groups

    set_groups(data)
    return signup_app(tmp_path, url, today, CALFEED_RULES=str(data / "rules.toml"),
                      CALFEED_PROVIDERS=None, **extra)


def group_page(app, group: str) -> str:
    """A group's private page, under the token the app's key gives it."""
    with app.app_context():
        found = web.snapshot(app).rules.groups[group]
        return calendars.group_of(web.state(app).secret, found).page()


def test_a_groups_subscriber_is_reminded_of_each_provider_by_name_in_one_message(
        inbox, tmp_path, data):
    handler, url = inbox
    app = group_app(tmp_path, data, url, today="2025-02-10")
    client = app.test_client()
    page = group_page(app, "acme")
    html = client.get(page).get_data(as_text=True)
    assert form_action(html) == page + "email/"
    # (a POST here was a 500 when sign-ups knew no group)
    answer = sign_up(client, page)
    assert answer.status_code == 200 and SIGNED_UP in answer.get_data(as_text=True)
    assert drain(app) == 1
    ((tos, message),) = handler.take()
    assert tos == (ME,)
    assert message["Subject"] == ("Confirm your email reminders: Acme CME Consulting (a group "
                                  "of 4 providers)")
    text = message.get_body(("plain",)).get_content()
    assert f"{SITE}{page}" in text
    done = confirm(client, link(message, "confirm")).get_data(as_text=True)
    assert "For <a href=\"" + page + "\"><bdi>Acme CME Consulting (a group of 4 providers)" in done
    manage = re.search(r'href="(/manage/[^"]+/)"', done).group(1)
    mine = client.get(manage).get_data(as_text=True)
    assert f'<a href="{page}">Acme CME Consulting (a group of 4 providers)</a>' in mine
    assert ME not in mine
    # The California Medical Association's deadline for demo-state, Friday, March 14, 2025,
    # is 30 days ahead on 2025-02-12; ACCME's, Monday, March 31, 2025 at 11:59 p.m.
    # Central Time, for the three others, on 2025-03-01.
    assert notify(app, "2025-02-11").exit_code == 0
    assert to(handler, ME) == []
    assert notify(app, "2025-02-12").exit_code == 0
    (first,) = to(handler, ME)
    assert first["Subject"] == ("Due in 30 days: Demo Hospital (accredited by the California "
                                "Medical Association): Annual Reporting in PARS (4 steps) — "
                                "Friday, March 14, 2025")
    result = notify(app, "2025-03-01")
    assert result.exit_code == 0, result.output
    (reminder,) = to(handler, ME)
    assert reminder["Subject"] == (
        "Due in 30 days: Demo Medical Society (12-month progress report): Annual Reporting in "
        "PARS (5 steps) — Monday, March 31, 2025, 11:59 p.m. Central Time (and 9 more steps)")
    text = reminder.get_body(("plain",)).get_content()
    # One part per provider, each named, each step its own; demo-state's 30-day reminder
    # was sent already: its 7-day one is not due yet.
    heads = re.findall(r"^(.+)\r\n=+\r\n", text, re.M)
    assert heads == ["Demo Medical Society (12-month progress report)",
                     "Demo Health System (8-month progress report)",
                     "Demo Institute (annual reporting only)"]
    assert sorted(u.split("/", 1)[0] for u in set(uids(reminder))) == sorted(
        ["demo-12-month"] * 5 + ["demo-8-month"] * 4 + ["demo-annual"] * 5)
    for name in heads:
        assert (f"Every deadline for {name}, and how to add them to your calendar:\r\n"
                f"{SITE}{page}\r\n") in text
    words = " ".join(text.split())
    assert words.count("You signed up for email about Acme CME Consulting (a group of 4 "
                       "providers): a reminder 30, 7 and 1 days before each step you act on") == 1
    one_click = re.fullmatch(rf"<{re.escape(SITE)}(/manage/[^>]+/unsubscribe)>, "
                             r"<mailto:deadlines@example.org\?subject=unsubscribe>",
                             reminder["List-Unsubscribe"]).group(1)
    assert f"To change these emails or stop them:\r\n{SITE}{manage}\r\n" in text
    assert f"{SITE}{one_click}" in text
    assert "subscriber " in result.output and ME not in result.output
    # A second run the same day sends nothing more: each provider's reminder is logged.
    assert notify(app, "2025-03-01").exit_code == 0
    assert to(handler, ME) == []
    # The mail app's button: nothing after, not the CMA's 7-day reminder nor ACCME's.
    assert client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    for day in ("2025-03-07", "2025-03-24"):
        assert notify(app, day).exit_code == 0
        assert to(handler, ME) == []


def test_a_groups_subscriber_follows_its_members_its_rotation_and_its_removal(
        inbox, tmp_path, data):
    from grouping import GROUPS_CSV, set_members

    handler, url = inbox
    app = group_app(tmp_path, data, url, today="2025-02-10")
    set_members(data, {"demo-8-month": "acme"})  # acme: one provider
    client = app.test_client()
    old_page = group_page(app, "acme")
    subscribed(app, client, handler, old_page, remind="1w")
    # 7 days before the California Medical Association's Friday, March 14, 2025: demo-state
    # is not in acme, and ACCME's March 31 is 24 days ahead for demo-8-month.
    assert notify(app, "2025-03-07").exit_code == 0
    assert to(handler, ME) == []
    # demo-state joins acme, and acme's private URL is replaced (rotation 1): the sign-up,
    # keyed by the group's id, follows both.
    set_members(data, {"demo-8-month": "acme", "demo-state": "acme"})
    (data / "groups.csv").write_text(GROUPS_CSV.replace(",,0\n", ",,1\n", 1), encoding="utf-8")
    assert notify(app, "2025-03-07").exit_code == 0
    (message,) = to(handler, ME)
    assert message["Subject"] == ("Due in 7 days: Demo Hospital (accredited by the California "
                                  "Medical Association): Annual Reporting in PARS (4 steps) — "
                                  "Friday, March 14, 2025")
    text = message.get_body(("plain",)).get_content()
    new_page = re.search(rf"{re.escape(SITE)}(/g/[^/]+/)", text).group(1)
    assert new_page != old_page
    assert "Acme CME Consulting (a group of 2 providers)" in " ".join(text.split())
    # 7 days before ACCME's Monday, March 31, 2025: demo-8-month's part.
    notify(app, "2025-03-24")
    (message,) = to(handler, ME)
    assert message["Subject"].startswith("Due in 7 days: Demo Health System (8-month progress "
                                         "report): Annual Reporting in PARS (4 steps)")
    # acme is gone from the groups file: its sign-up is "gone", nothing is sent.
    set_members(data, {})
    (data / "groups.csv").write_text(
        "".join(line + "\n" for line in GROUPS_CSV.splitlines() if not line.startswith("acme")),
        encoding="utf-8")
    result = notify(app, "2025-03-30")
    assert result.exit_code == 0, result.output
    assert to(handler, ME) == []
    assert re.search(r"not planned for subscriber \w{6} \(group\): its calendar is no longer in "
                     r"the rules, roster or groups file", result.output), result.output


def test_a_providers_own_sign_up_wins_over_its_groups_copy(inbox, tmp_path, data):
    handler, url = inbox
    app = group_app(tmp_path, data, url, today="2025-02-10")
    client = app.test_client()
    with app.app_context():
        profile = web.snapshot(app).rules.providers["demo-state"]
        own = calendars.provider_of(web.state(app).secret, profile).page()
    subscribed(app, client, handler, own, remind="1w")
    subscribed(app, client, handler, group_page(app, "cma"))
    # demo-state's own page asked for 7 days only: not the group's 30 days before the
    # California Medical Association's Friday, March 14, 2025.
    assert notify(app, "2025-02-12").exit_code == 0
    assert to(handler, ME) == []
    assert notify(app, "2025-03-07").exit_code == 0
    (message,) = to(handler, ME)
    text = message.get_body(("plain",)).get_content()
    heads = re.findall(r"^(.+)\r\n=+\r\n", text, re.M)
    assert heads == ["Demo Hospital (accredited by the California Medical Association)"]


def test_a_built_groups_page_posts_to_the_server_too(inbox, tmp_path, data):
    from click.testing import CliRunner

    from calfeed.cli import main
    from apps import SECRET
    from grouping import set_groups

    handler, url = inbox
    set_groups(data)
    env = {"CALFEED_SECRET_KEY": SECRET, "CALFEED_RULES": None, "CALFEED_PROVIDERS": None,
           "CALFEED_BASE_URL": SITE, "CALFEED_TODAY": None, "CI": "1", "CALFEED_SIGNUP": "yes",
           "CALFEED_SMTP_URL": url, "CALFEED_MAIL_FROM": SENDER}
    site = tmp_path / "site"
    built = CliRunner().invoke(main, ["build", str(site), "--rules", str(data / "rules.toml"),
                                      "--today", "2025-02-20"], env=env)
    assert built.exit_code == 0, built.output
    app = group_app(tmp_path / "server", data, url)
    path = group_page(app, "acme")
    page = (site / path.strip("/") / "index.html").read_text()
    assert form_action(page) == path + "email/"
    assert not (site / path.strip("/") / "email").exists()
    # The server (the same key) takes the built page's form as its own.
    answer = app.test_client().post(form_action(page), data={
        "form": field(page, "form"), "email": ME, "remind": "1w", "notices": "yes"},
        headers={"Origin": SITE})
    assert answer.status_code == 200 and SIGNED_UP in answer.get_data(as_text=True)
    assert drain(app) == 1
    ((_, message),) = handler.take()
    assert message["Subject"] == ("Confirm your email reminders: Acme CME Consulting (a group "
                                  "of 4 providers)")
