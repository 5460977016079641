"""calfeed/notify/dispatch.py: one run of `calfeed notify`, where one failure stays one failure.

The demo roster on March 1, 2025 has five recipients due a reminder of annual reporting
for data year 2024 (due Monday, March 31, 2025 at 11:59 p.m. Central Time, and the
California Medical Association's own deadline, Friday, March 14, 2025).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from datetime import date

from calfeed import bundled
from calfeed.core import rules
from calfeed.notify import dispatch, mail, smtp
from smtpserver import (CALFEED, DEMO_ADDRESSES, HEALTH, ROOT, SENDER, SHARED, calfeed, env,
                        received)

DAY = date(2025, 3, 1)


def pages(loaded: rules.Rules) -> dict[str, str]:
    """Each provider's page, as the CLI would give it."""
    return {p: f"https://deadlines.example.org/p/{p}/" for p in loaded.providers}


def test_a_recipient_the_server_refuses_fails_alone_and_is_tried_again(inbox, tmp_path):
    handler, url = inbox
    handler.refuse_rcpt = {HEALTH}
    environ = env(tmp_path, url, DAY.isoformat())
    first = calfeed("notify", environ=environ)
    assert first.returncode == 1
    # One line, the recipient named by its place in the roster, never by its address.
    assert first.stderr.splitlines() == [
        "calfeed notify: not sent to demo-8-month#1: Due in 30 days: Annual Reporting in "
        "PARS (4 steps) — Monday, March 31, 2025, 11:59 p.m. Central Time: "
        f"smtp://127.0.0.1:{url.rsplit(':', 1)[1]}: recipient refused: 550 5.1.1 <address>: "
        "mailbox unavailable"]
    assert {to for to, _ in received(handler)} == set(DEMO_ADDRESSES) - {HEALTH}
    handler.refuse_rcpt = set()
    second = calfeed("notify", environ=environ)
    assert second.returncode == 0, second.stderr
    assert {to for to, _ in received(handler)} == {HEALTH}


def test_a_message_that_cannot_be_composed_fails_alone_and_is_tried_again(inbox, tmp_path,
                                                                          monkeypatch):
    handler, url = inbox
    loaded = rules.load(bundled("rules.toml"))
    compose = mail.compose

    def broken_for_one(message, *args):
        if message.recipient == SHARED:
            raise ValueError("a header that cannot be written")
        return compose(message, *args)

    monkeypatch.setattr(mail, "compose", broken_for_one)
    lines: list[tuple[str, bool]] = []
    state = tmp_path / "calfeed.sqlite3"
    with smtp.Mailer(smtp.parse_url(url)) as mailer:
        outcome = dispatch.run(state, loaded, DAY, SENDER, pages(loaded), mailer,
                               lambda line, problem: lines.append((line, problem)))
    assert [m.label for m, _ in outcome.failed] == ["demo-annual#2, demo-state#1"]
    assert [line for line, problem in lines if problem] == [
        "not sent to demo-annual#2, demo-state#1: Due in 13 days: Demo Hospital (accredited by "
        "the California Medical Association): Annual Reporting in PARS (4 steps) — Friday, March 14, 2025 (and 5 more steps): cannot be composed: "
        "ValueError: a header that cannot be written"]
    assert len(outcome.sent) == 4
    assert {to for to, _ in received(handler)} == set(DEMO_ADDRESSES) - {SHARED}
    monkeypatch.setattr(mail, "compose", compose)
    with smtp.Mailer(smtp.parse_url(url)) as mailer:
        again = dispatch.run(state, loaded, DAY, SENDER, pages(loaded), mailer,
                             lambda line, problem: None)
    assert [m.label for m in again.sent] == ["demo-annual#2, demo-state#1"]
    assert {to for to, _ in received(handler)} == {SHARED}


def test_a_run_that_waits_for_the_lock_says_how_long_it_will_wait(inbox, tmp_path):
    handler, url = inbox
    environ = env(tmp_path, url, DAY.isoformat())
    state = tmp_path / "state" / "calfeed.sqlite3"
    state.parent.mkdir()
    holder = os.open(f"{state}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as a run in progress holds it
    try:
        run = subprocess.Popen([CALFEED, "notify"], env=environ, cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = run.stdout.readline()
        assert first == (f"calfeed notify: {state}: another calfeed notify run holds the lock; "
                         "waiting up to 40 minutes for it to finish\n")
        time.sleep(0.5)
        assert run.poll() is None and received(handler) == {}
    finally:
        os.close(holder)  # the other run finished
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert out.splitlines()[-1] == "calfeed notify: 2025-03-01: 5 sent, 0 failed, of 5 messages due"
