"""`calfeed notify` against a real SMTP server (aiosmtpd), read back as a recipient would.

The dates are ACCME's, from the seeds: annual reporting for data year 2024 is due
March 31, 2025 at 11:59 p.m. Central Time (published-dates.md), the California Medical
Association's own deadline for it is March 14, 2025; the 8-month progress report's
materials are due April 3, 2024 (source 000).
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from datetime import date, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from ical.calendar_stream import IcsCalendarStream

from calfeed import bundled
from calfeed.notify import dispatch, smtp
from calfeed.core import engine, rules
from smtpserver import (CALFEED, DEMO_ADDRESSES, HEALTH, ROOT, SECRET, SENDER, SHARED, Inbox, calfeed,
                        env, free_port, received, start, uids)

# --- what a recipient reads ----------------------------------------------------------------

def test_a_message_as_its_recipient_reads_it(inbox, tmp_path):
    handler, url = inbox
    result = calfeed("notify", environ=env(tmp_path, url, "2025-03-01"))
    assert result.returncode == 0, result.stderr
    messages = {tos: message for tos, message in handler.take()}
    # One message per address: the shared one on demo-annual and demo-state gets one.
    assert sorted(messages) == sorted((a,) for a in DEMO_ADDRESSES)
    message = messages[(SHARED,)]
    assert message["To"] == SHARED
    assert message["From"] == SENDER
    # Two providers in one message: the subject names the one its first step is for.
    assert message["Subject"] == ("Due in 13 days: Demo Hospital (accredited by the California "
                                  "Medical Association): Annual Reporting in PARS (4 steps) — "
                                  "Friday, March 14, 2025 (and 5 more steps)")
    assert message["List-Unsubscribe"] == "<mailto:deadlines@example.org?subject=unsubscribe>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.org>") and message["Date"]
    # Lines arrive with CRLF, as SMTP carries them.
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    for body in (text, html):
        assert "Due in 13 days: Friday, March 14, 2025" in body
        assert "Due in 30 days: Monday, March 31, 2025, 11:59 p.m. Central Time" in body
        assert "Complete and submit your Program Summary" in body
        assert "https://pars.accme.org/" in body  # where to do it
        assert "deadlines@example.org" in body  # how to stop
    assert "PARS: https://pars.accme.org/" in text
    assert '<a href="https://pars.accme.org/">PARS</a>' in html
    # The provider's private page, under the same token the server and `calfeed links` use.
    from calfeed.core import tokens
    page = f"https://deadlines.example.org/p/{tokens.token(SECRET.encode(), 'demo-state', 0)}/"
    assert f"Every deadline for Demo Hospital (accredited by the California Medical " \
           f"Association), and how to add them to your calendar:\n{page}" in text
    assert f'<a href="{page}">' in html
    assert ("your address is listed as a contact for Demo Hospital (accredited by the "
            "California Medical Association) and Demo Institute (annual reporting only) in the "
            "calfeed deadline reminders") in " ".join(text.split())
    assert "calfeed is not an ACCME service" in text and "calfeed is not an ACCME service" in html
    # Each step's own calendar entry, parsed back with another library than icalendar.
    attachments = {part.get_filename(): IcsCalendarStream.calendar_from_ics(part.get_content())
                   for part in message.iter_attachments()}
    assert len(attachments) == 9
    cma = attachments["demo-hospital-accredited-by-the-annual-reporting-2024-"
                      "program-summary.ics"].events[0]
    assert cma.uid == "demo-state/annual-reporting/2024/program-summary@calfeed"
    assert cma.dtstart == date(2025, 3, 14)
    accme = attachments["demo-institute-annual-reporting-only-annual-reporting-2024-"
                        "enduring-learner-counts.ics"].events[0]
    assert accme.dtstart.isoformat() == "2025-03-31T23:59:00-05:00"
    assert str(accme.dtstart.tzinfo) == "America/Chicago"
    # A single-provider message names the file as the page's "add this one" link does.
    single = messages[(HEALTH,)]
    assert "annual-reporting-2024-annual-agreement.ics" in [
        p.get_filename() for p in single.iter_attachments()]
    assert "calfeed notify: 2025-03-01: 5 sent, 0 failed, of 5 messages due" in result.stdout
    # On the wire: 7-bit, no line over RFC 5322's 998 characters, the body in 76-character
    # quoted-printable lines.
    for raw in handler.raw:
        raw.decode("ascii")
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        body = raw.split(b"Content-Transfer-Encoding: quoted-printable", 1)[1].split(b"--=", 1)[0]
        assert max(len(line) for line in body.split(b"\r\n")) <= 76


def test_hostile_text_is_escaped_in_the_html_part(inbox, tmp_path):
    handler, url = inbox
    data = tmp_path / "data"
    data.mkdir()
    (data / "rules.toml").write_text(bundled("rules.toml").read_text().replace(
        'title = "Progress Report Materials Submission Deadline"',
        'title = "Materials <script>alert(1)</script> & more"'))
    (data / "providers.csv").write_text(bundled("providers.csv").read_text().replace(
        "Demo Health System (8-month progress report)", 'Demo "><img src=x onerror=alert(1)>'))
    result = calfeed("notify", environ=env(tmp_path, url, "2024-03-27",
                                           CALFEED_RULES=str(data / "rules.toml")))
    assert result.returncode == 0, result.stderr
    (message,) = [m for tos, m in handler.take() if tos == (HEALTH,)]
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "<img" not in html
    assert "Materials &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "Demo &#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Materials <script>alert(1)</script> & more" in message.get_body(("plain",)).get_content()


def test_dry_run_prints_and_sends_nothing(inbox, tmp_path):
    handler, url = inbox
    environ = env(tmp_path, url, "2024-03-27")
    result = calfeed("notify", "--dry-run", environ=environ)
    assert result.returncode == 0, result.stderr
    # Annual reporting for 2023 is due April 1, 2024 at 11:59 p.m. CT (source 001); the
    # 8-month materials April 3, 2024 (source 000). A first run catches up: 7-day reminders.
    assert ("calfeed notify: would send to demo-8-month#1: Due in 5 days: Annual Reporting in "
            "PARS (4 steps) — Monday, April 1, 2024, 11:59 p.m. Central Time (and 1 more step)"
            ) in result.stdout.splitlines()
    assert ("calfeed notify:   demo-8-month: 7-day reminder: Progress Report Materials "
            "Submission Deadline (Due in 7 days: Wednesday, April 3, 2024)"
            ) in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "calfeed notify: 2024-03-27: 5 messages would be sent"
    assert handler.take() == []
    assert not (tmp_path / "state").exists()  # nothing written either


def test_a_moved_date_is_one_notice_with_the_old_and_new_date(inbox, tmp_path):
    handler, url = inbox
    data = tmp_path / "data"
    data.mkdir()
    rules_file = data / "rules.toml"
    rules_file.write_text(bundled("rules.toml").read_text())
    (data / "providers.csv").write_text(bundled("providers.csv").read_text())
    environ = env(tmp_path, url, "2024-03-04", CALFEED_RULES=str(rules_file))
    assert calfeed("notify", environ=environ).returncode == 0  # the 30-day reminders
    handler.take()
    # ACCME moves the 8-month materials deadline from April 3 to April 17, 2024 (an
    # invented move, written down with its history as rules.toml records one).
    rules_file.write_text(rules_file.read_text().replace(
        "materials-due = 2024-04-03,", 'materials-due = { date = 2024-04-17, changes = [{ was = '
        '2024-04-03, announced = 2024-03-05, note = "Extended for every provider in the cohort" '
        '}] },').replace(
        "revised = 2026-11-21T00:00:00Z", "revised = 2026-11-22T00:00:00Z"))
    moved = {**environ, "CALFEED_TODAY": "2024-03-05"}
    result = calfeed("notify", environ=moved)
    assert result.returncode == 0, result.stderr
    (only,) = handler.take()
    tos, message = only
    assert tos == (HEALTH,)
    assert message["Subject"] == ("Date moved: Progress Report Materials Submission Deadline — "
                                  "now Wednesday, April 17, 2024")
    text = message.get_body(("plain",)).get_content()
    assert ("Date moved to Wednesday, April 17, 2024 (was Wednesday, April 3, 2024), due in "
            "43 days") in text.replace("\r\n", "\n")
    assert ("Moved: was Wednesday, April 3, 2024; announced March 5, 2024. Extended for every "
            "provider in the cohort.") in " ".join(text.split())
    (attachment,) = message.iter_attachments()
    (event,) = IcsCalendarStream.calendar_from_ics(attachment.get_content()).events
    assert (event.uid, event.dtstart) == (
        "demo-8-month/progress-8-month/2023-11/materials-due@calfeed", date(2024, 4, 17))
    # Told once; its reminders now count towards April 17: 30 days before is March 18.
    assert calfeed("notify", environ=moved).returncode == 0
    assert handler.take() == []
    result = calfeed("notify", environ={**environ, "CALFEED_TODAY": "2024-03-18"})
    (only,) = handler.take()
    assert only[1]["Subject"] == ("Due in 30 days: Progress Report Materials Submission "
                                  "Deadline — Wednesday, April 17, 2024")


def test_a_published_cohort_is_announced_as_a_publication_not_a_move(inbox, tmp_path):
    # A provider with Next Decision Date July 31, 2027 gets calfeed's estimated schedule
    # until ACCME publishes the table (here invented: a week after every estimate, as in
    # the README's "When ACCME publishes a new cohort").
    handler, url = inbox
    data = tmp_path / "data"
    data.mkdir()
    rules_file = data / "rules.toml"
    rules_file.write_text(bundled("rules.toml").read_text())
    (data / "providers.csv").write_text(
        "id,name,next_decision_date,enduring_materials,accreditor,email\n"
        f"alder,Alder Heart Institute,2027-07-31,no,,{HEALTH}\n")
    environ = env(tmp_path, url, "2026-12-01", CALFEED_RULES=str(rules_file))
    assert calfeed("notify", environ=environ).returncode == 0  # meets the recipient quietly
    assert handler.take() == []
    rules_file.write_text(rules_file.read_text().replace(
        "revised = 2026-11-21T00:00:00Z", "revised = 2026-12-02T00:00:00Z") + """
[[progress.cohorts]]
decision = "2026-11"
next_decision_date = 2027-07-31
name = "8-Month Progress Report Milestones"
source = "ACCME Progress Report Milestones — For November 2026 Cohort Decisions Requiring a Progress Report (8-month progress report review)"
dates = { enter-activity-data = 2027-01-27, activities-selected = 2027-02-10, materials-available = 2027-02-24, materials-due = 2027-04-07, decision = "2027-07" }
""")
    published = {**environ, "CALFEED_TODAY": "2026-12-02"}
    result = calfeed("notify", environ=published)
    assert result.returncode == 0, result.stderr
    (only,) = handler.take()
    tos, message = only
    assert tos == (HEALTH,)
    # One piece of news: ACCME's table, in place of calfeed's estimates. Never "moved",
    # never a date ACCME did not give called what it "was".
    assert message["Subject"] == ("Published by ACCME: 8-Month Progress Report Milestones "
                                  "(5 steps), replacing calfeed's estimates")
    text = " ".join(message.get_body(("plain",)).get_content().split())
    html = " ".join(unescape(message.get_body(("html",)).get_content()).split())
    for body in (text, html):
        assert "moved" not in body.lower().replace("moves or is newly published", "")
        assert ("Published by ACCME: Wednesday, January 27, 2027, replacing calfeed's estimate "
                "of Wednesday, January 20, 2027, due in 56 days") in body
        assert ("Published by ACCME: Wednesday, April 7, 2027, replacing calfeed's estimate of "
                "Wednesday, March 31, 2027, due in 126 days") in body
        # ACCME's own steps are news too; the decision month was estimated right.
        assert ("Published by ACCME: Wednesday, February 10, 2027, replacing calfeed's "
                "estimate of Wednesday, February 3, 2027") in body
        assert ("Published by ACCME: July 2027 (no exact day published), as calfeed "
                "estimated") in body
    attached = {e.uid: e.dtstart for part in message.iter_attachments()
                for e in IcsCalendarStream.calendar_from_ics(part.get_content()).events}
    assert attached["alder/progress-2027-07-31/2027-07-31/materials-due@calfeed"] == date(2027, 4, 7)
    assert len(attached) == 5
    # The dry-run line names the kind of notice.
    assert calfeed("notify", environ=published).returncode == 0
    assert handler.take() == []  # told once


# --- never twice ---------------------------------------------------------------------------

def test_a_second_run_the_same_day_sends_nothing(inbox, tmp_path):
    handler, url = inbox
    environ = env(tmp_path, url, "2024-03-27")
    assert calfeed("notify", environ=environ).returncode == 0
    first = received(handler)
    assert first[(HEALTH, "demo-8-month/progress-8-month/2023-11/materials-due@calfeed")] == 1
    again = calfeed("notify", environ=environ)
    assert again.returncode == 0
    assert received(handler) == Counter()
    assert "calfeed notify: 2024-03-27: 0 sent, 0 failed, of 0 messages due" in again.stdout
    # The log holds the addresses: its owner alone may read it.
    state = Path(environ["CALFEED_STATE"])
    assert [oct(p.stat().st_mode & 0o777) for p in (state, Path(f"{state}.lock"))] == ["0o600"] * 2


def test_an_smtp_outage_fails_loudly_and_the_next_run_sends_what_is_missing(inbox, tmp_path):
    handler, url = inbox
    down = env(tmp_path, f"smtp://127.0.0.1:{free_port()}", "2025-03-01")
    result = calfeed("notify", environ=down)
    assert result.returncode == 1
    failures = result.stderr.splitlines()
    assert len(failures) == 5  # one line per message
    assert failures[0].startswith("calfeed notify: not sent to demo-12-month#1: Due in 30 days: ")
    assert "Connection refused" in failures[0]
    assert all("not tried" in line for line in failures[1:])
    # The server comes back halfway through the next run, then goes down again (421).
    handler.refuse_from = 3
    environ = env(tmp_path, url, "2025-03-01")
    result = calfeed("notify", environ=environ)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 3
    assert "refused: 421 4.3.2 Service shutting down for <address>" in result.stderr
    first = received(handler)
    handler.refuse_from = None
    assert calfeed("notify", environ=environ).returncode == 0
    second = received(handler)
    assert len({to for to, _ in first}) == 2 and len({to for to, _ in second}) == 3
    assert not set(first) & set(second)
    assert {to for to, _ in first + second} == set(DEMO_ADDRESSES)
    assert calfeed("notify", environ=environ).returncode == 0
    assert received(handler) == Counter()


def test_a_server_that_closes_the_connection_once_gets_the_message_again(inbox, tmp_path):
    handler, url = inbox
    handler.refuse_once = 3  # as servers do after so many messages on one connection
    result = calfeed("notify", environ=env(tmp_path, url, "2025-03-01"))
    assert result.returncode == 0, result.stderr
    got = received(handler)
    assert {to for to, _ in got} == set(DEMO_ADDRESSES) and max(got.values()) == 1


def test_a_run_killed_halfway_is_finished_by_the_next_one(inbox, tmp_path):
    handler, url = inbox
    environ = env(tmp_path, url, "2025-03-01")
    handler.hold_at = 3
    process = start("notify", environ=environ)
    try:
        assert handler.held.wait(60), "the third message never reached the server"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        handler.release.set()
        if process.poll() is None:
            process.kill()
            process.communicate()
    first = received(handler)
    assert len({to for to, _ in first}) == 2  # two messages confirmed before the kill
    handler.hold_at = None
    result = calfeed("notify", environ=environ)
    assert result.returncode == 0, result.stderr
    # The message in flight at the kill was claimed and never confirmed: sent again.
    assert result.stderr.startswith("calfeed notify: a run stopped while sending to ")
    second = received(handler)
    assert not set(first) & set(second)
    assert {to for to, _ in first + second} == set(DEMO_ADDRESSES)
    assert max((first + second).values()) == 1


def test_two_runs_at_once_never_send_twice(inbox, tmp_path):
    handler, url = inbox
    handler.delay = 0.3  # a slow server, so the runs overlap
    environ = env(tmp_path, url, "2025-03-01")
    runs = [start("notify", environ=environ) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    got = received(handler)
    assert {to for to, _ in got} == set(DEMO_ADDRESSES)
    assert max(got.values()) == 1
    assert sum(o[0].count("calfeed notify: sent to ") for o in outputs) == 5
    assert "database is locked" not in "".join(o[1] for o in outputs)


# --- a year of daily runs ------------------------------------------------------------------

def expected_items(loaded: rules.Rules, run_days: list[date]) -> dict[date, Counter]:
    """What each run day should send, computed apart from notify.plan: per event, the
    reminder whose lead time is the nearest one reached, each lead time once."""
    leads = loaded.lead_days
    sent: set[tuple[str, str, int]] = set()
    expected: dict[date, Counter] = {}
    for day in run_days:
        due: Counter = Counter()
        for profile in loaded.providers.values():
            for event in engine.schedule(loaded, profile, day):
                if event.actor != "provider" or event.precision not in ("day", "time"):
                    continue
                deadline = event.start.date() if isinstance(event.start, datetime) else event.start
                left = (deadline - day).days
                reached = [lead for lead in leads if lead >= left]
                if left < 0 or not reached:
                    continue
                lead = min(reached)
                for address in profile.contacts:
                    if (address, event.uid, lead) in sent or any(
                            (address, event.uid, nearer) in sent for nearer in leads if nearer < lead):
                        continue
                    sent.add((address, event.uid, lead))
                    due[address, event.uid] += 1
        expected[day] = due
    return expected


def test_a_year_of_daily_runs_with_missed_days(inbox, tmp_path):
    handler, url = inbox
    loaded = rules.load(bundled("rules.toml"))
    # Every day of 2024 but every fifth, and the timer off from March 20 to 31.
    run_days = [date(2024, 1, 1) + timedelta(days=n) for n in range(366)
                if n % 5 != 4 and not date(2024, 3, 20) <= date(2024, 1, 1) + timedelta(days=n)
                <= date(2024, 3, 31)]
    expected = expected_items(loaded, run_days)
    pages = {p: f"https://deadlines.example.org/p/{p}/" for p in loaded.providers}
    state = tmp_path / "calfeed.sqlite3"
    total = Counter()
    messages = 0
    with smtp.Mailer(smtp.parse_url(url)) as mailer:
        for day in run_days:
            outcome = dispatch.run(state, loaded, day, SENDER, pages, mailer,
                                   lambda line, problem: None)
            assert outcome.failed == []
            got = received(handler)
            assert got == expected[day], day.isoformat()
            assert len(outcome.sent) == len({to for to, _ in expected[day]})
            messages += len(outcome.sent)
            total += got
    assert max(total.values()) <= len(loaded.lead_days)  # each reminder once
    # The 8-month materials (April 3): 30 days before on March 4; the 7-day reminder was
    # due March 27 inside the gap, so the first run after it (April 1) sent the 7-day one
    # with 2 days to go, and April 2 the 1-day one.
    materials = (HEALTH, "demo-8-month/progress-8-month/2023-11/materials-due@calfeed")
    assert total[materials] == 3
    days = [day for day in run_days if expected[day][materials]]
    assert [d.isoformat() for d in days] == ["2024-03-04", "2024-04-01", "2024-04-02"]
    assert messages > 20


# --- no address anywhere else ----------------------------------------------------------------

def test_no_address_in_pages_feeds_json_csv_the_build_or_logs(tmp_path, inbox):
    handler, url = inbox
    site = tmp_path / "site"
    environ = env(tmp_path, url, "2025-03-01")
    built = calfeed("build", str(site), "--workers", "1", environ=environ)
    assert built.returncode == 0, built.stderr
    files = [path for path in site.rglob("*") if path.is_file()]
    assert len(files) > 100
    outputs = [path.read_bytes() for path in files]
    for provider in ("demo-8-month", "demo-12-month", "demo-annual", "demo-state"):
        result = calfeed("events", provider, "--json", environ=environ)
        outputs.append((result.stdout + result.stderr).encode())
    for args in (("check",), ("links",), ("notify", "--dry-run"), ("notify",), ("notify",)):
        result = calfeed(*args, environ=environ)
        outputs.append((result.stdout + result.stderr).encode())
    failed = calfeed("notify", environ=env(tmp_path, f"smtp://127.0.0.1:{free_port()}",
                                           "2025-03-02"))
    outputs.append((failed.stdout + failed.stderr).encode())
    # The server's own log while it served every page and feed.
    from calfeed import create_app
    import logging
    records = []
    handler_log = logging.Handler()
    handler_log.emit = lambda record: records.append(record.getMessage())
    logging.getLogger().addHandler(handler_log)
    try:
        app = create_app({"TESTING": True, "CALFEED_SECRET_KEY": SECRET,
                          "INSTANCE_PATH": str(tmp_path / "instance")})
        client = app.test_client()
        for path in files:
            relative = "/" + str(path.relative_to(site)).replace("index.html", "")
            with client.get(relative) as response:
                outputs.append(response.data)
    finally:
        logging.getLogger().removeHandler(handler_log)
    outputs.append("\n".join(records).encode())
    assert handler.take()  # the run did send: the addresses exist and were used
    for address in DEMO_ADDRESSES:
        for text in (address, address.split("@")[1]):
            assert not [n for n, out in enumerate(outputs) if text.encode() in out.lower()], text


# --- the three kinds of CALFEED_SMTP_URL, over real TLS --------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for localhost: (cert file, server-side TLS context)."""
    import ssl
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


class Logins:
    """An aiosmtpd authenticator that takes one user and password and remembers every try."""

    def __init__(self, user: str, password: str) -> None:
        self.expected = (user.encode(), password.encode())
        self.tries: list[tuple[bytes, bytes]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        self.tries.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd answers 535 itself when the login is wrong.
        return AuthResult(success=(auth_data.login, auth_data.password) == self.expected,
                          handled=False)


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps"])
def test_tls_and_login(scheme, certificate, tmp_path):
    cert, context = certificate
    handler, logins = Inbox(), Logins("calfeed", "p@ss:word/1")
    # aiosmtpd cannot tell that an smtps connection is TLS, so it would offer AUTH only
    # after a STARTTLS there: it is told not to wait for one.
    tls = ({"tls_context": context, "require_starttls": True, "auth_require_tls": True}
           if scheme == "smtp+starttls" else {"ssl_context": context, "auth_require_tls": False})
    controller = Controller(handler, hostname="localhost", port=free_port(),
                            authenticator=logins, **tls)
    controller.start()
    try:
        url = f"{scheme}://calfeed:p%40ss%3Aword%2F1@localhost:{controller.port}"
        trusted = env(tmp_path, url, "2024-03-27", SSL_CERT_FILE=str(cert))
        result = calfeed("notify", environ=trusted)
        assert result.returncode == 0, result.stderr
        assert logins.tries[0] == (b"calfeed", b"p@ss:word/1")  # percent-decoded
        assert len(handler.take()) == 5
        # A wrong password: one line per message, the password nowhere.
        wrong = env(tmp_path / "wrong", url.replace("p%40ss", "nope"), "2024-03-27",
                    SSL_CERT_FILE=str(cert))
        result = calfeed("notify", environ=wrong)
        assert result.returncode == 1
        lines = result.stderr.splitlines()
        assert len(lines) == 5 and "login refused: 535" in lines[0], lines
        assert "nope" not in result.stdout + result.stderr
        # A certificate the system does not trust is refused, never sent to.
        untrusted = env(tmp_path / "untrusted", url, "2024-03-27",
                        SSL_CERT_FILE=str(bundled("rules.toml")))
        result = calfeed("notify", environ=untrusted)
        assert result.returncode == 1
        assert "CERTIFICATE_VERIFY_FAILED" in result.stderr.splitlines()[0]
        assert handler.take() == []
    finally:
        controller.stop()


@pytest.mark.parametrize("url, problem", [
    ("", "CALFEED_SMTP_URL is not set"),
    ("http://mail.example.org", "CALFEED_SMTP_URL: unknown scheme 'http'"),
    ("smtp://user:secret@:25", "CALFEED_SMTP_URL: no host"),
    ("smtp://user:secret@mail.example.org:x", "CALFEED_SMTP_URL: Port could not be cast"),
    ("smtp://mail.example.org/inbox", "CALFEED_SMTP_URL: a path or query after the host"),
])
def test_a_bad_smtp_url_is_one_line_without_the_password(url, problem, tmp_path):
    result = calfeed("notify", environ=env(tmp_path, url, "2024-03-27"))
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {problem}")
    assert result.stderr.count("\n") == 1 and "secret" not in result.stderr
    assert "expected smtp://user:password@host:port" in result.stderr


def test_default_ports():
    assert [smtp.parse_url(f"{s}://mail.example.org").port
            for s in ("smtp", "smtp+starttls", "smtps")] == [25, 587, 465]
    assert "secret" not in repr(smtp.parse_url("smtp://u:secret@mail.example.org"))


# --- deploy/: the cron line and the systemd units ---------------------------------------------

def test_the_cron_line_sources_the_example_settings_and_sends(inbox, tmp_path):
    handler, url = inbox
    settings = (ROOT / "deploy" / "notify.env.example").read_text()
    settings = settings.replace(
        "smtp+starttls://calfeed:percent-encoded-password@smtp.example.org:587", url).replace(
        "the same key as the web server's", SECRET).replace(
        "/srv/calfeed/data/rules.toml", str(bundled("rules.toml"))).replace(
        "/srv/calfeed/instance", str(tmp_path / "instance"))
    (tmp_path / "notify.env").write_text(settings)
    (line,) = [line for line in (ROOT / "deploy" / "calfeed-notify.cron").read_text().splitlines()
               if line.startswith("0 7 * * * calfeed ")]
    command = line.removeprefix("0 7 * * * calfeed ").replace(
        "/srv/calfeed", str(ROOT)).replace("/etc/calfeed/notify.env", str(tmp_path / "notify.env")
                                          ).replace(".venv/bin/calfeed", CALFEED)
    environ = {"PATH": "/usr/bin:/bin", "CALFEED_TODAY": "2024-03-27"}  # cron's bare environment
    done = subprocess.run(["/bin/sh", "-c", command], env=environ, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("calfeed notify: 2024-03-27: 5 sent, 0 failed, of 5 messages due\n")
    (message, *_) = [m for _, m in handler.take()]
    assert message["From"] == SENDER
    assert (tmp_path / "instance" / "calfeed.sqlite3").exists()


def test_the_systemd_units_verify(tmp_path):
    analyze = Path("/usr/bin/systemd-analyze")
    if not analyze.exists():
        pytest.skip("systemd-analyze is not installed")
    for name in ("calfeed-notify.service", "calfeed-notify.timer"):
        text = (ROOT / "deploy" / name).read_text()
        # The unit names the production path; the check needs a command that exists.
        (tmp_path / name).write_text(text.replace("/srv/calfeed/.venv/bin/calfeed", CALFEED))
    done = subprocess.run([str(analyze), "verify", str(tmp_path / "calfeed-notify.service"),
                           str(tmp_path / "calfeed-notify.timer")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    timer = (ROOT / "deploy" / "calfeed-notify.timer").read_text()
    assert "OnCalendar=*-*-* 07:00:00" in timer and "Persistent=true" in timer


def test_no_roster_id_in_a_messages_headers_names_or_text(inbox, tmp_path):
    handler, url = inbox
    assert calfeed("notify", environ=env(tmp_path, url, "2025-03-01")).returncode == 0
    ids = ("demo-8-month", "demo-12-month", "demo-annual", "demo-state")
    messages = [message for _, message in handler.take()]
    assert len(messages) == 5
    for message in messages:
        seen = [f"{name}: {value}" for name, value in message.items()]
        seen += [part.get_filename() for part in message.iter_attachments()]
        seen += [message.get_body((kind,)).get_content() for kind in ("plain", "html")]
        for text in seen:
            assert not any(ident in text for ident in ids), text
        # The attached entries keep the subscribed calendar's UIDs (which name the
        # provider), so importing one never doubles what a subscription shows.
        assert all(uid.startswith(ids) for uid in uids(message))


def test_an_estimated_date_says_so_in_the_subject(inbox, tmp_path):
    handler, url = inbox
    # Data year 2025's deadline is not published: March 31, 2026 (a Tuesday) by the rule.
    assert calfeed("notify", environ=env(tmp_path, url, "2026-03-24")).returncode == 0
    subjects = {tos[0]: message["Subject"] for tos, message in handler.take()}
    assert subjects[HEALTH] == ("Due in 7 days: Annual Reporting in PARS (4 steps) — Tuesday, "
                                "March 31, 2026, 11:59 p.m. Central Time (estimated)")
