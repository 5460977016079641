"""calfeed/notify/smtp.py: every wait on an SMTP server has a deadline.

The attack: a server that answers "220-still here" every so often and never finishes
its greeting. smtplib's timeout is per read, and each line resets it; without a limit
on the whole conversation a run waits forever, and so does every later timer run.
"""

from __future__ import annotations

import re
import time
from email.message import EmailMessage

import pytest

from calfeed.notify import dispatch, sendlog, smtp
from smtpserver import ROOT, SENDER, Trickle, calfeed, env


@pytest.fixture
def trickle():
    """A server that trickles its greeting forever."""
    server = Trickle(every=0.5)
    yield server
    server.stop()


def message() -> EmailMessage:
    """A small message to someone."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = SENDER, "cme@example.org", "Due today"
    mail.set_content("Annual reporting is due today.")
    return mail


def test_a_trickling_greeting_ends_at_the_message_time_limit(trickle):
    started = time.monotonic()
    with smtp.Mailer(smtp.parse_url(trickle.url), message_seconds=2) as mailer:
        with pytest.raises(smtp.MailError) as raised:
            mailer.send(message())
    took = time.monotonic() - started
    assert 2 <= took < 10
    assert str(raised.value) == (f"smtp://127.0.0.1:{trickle.port}: no complete answer within "
                                 "2 s (the time limit of one message)")
    assert raised.value.server_down  # the messages after it are not tried against it


def test_the_run_limit_bounds_the_message_limit(trickle):
    started = time.monotonic()
    with smtp.Mailer(smtp.parse_url(trickle.url), message_seconds=120,
                     until=time.monotonic() + 2) as mailer:
        with pytest.raises(smtp.MailError, match="within 2 s"):
            mailer.send(message())
        assert time.monotonic() - started < 10
        # Past the run's limit nothing is tried at all.
        connections = trickle.connections
        with pytest.raises(smtp.MailError, match="not tried: the run's time limit has passed"):
            mailer.send(message())
        assert trickle.connections == connections


def test_calfeed_notify_against_a_trickling_server_ends_within_its_time_limit(trickle, tmp_path):
    environ = env(tmp_path, trickle.url, "2025-03-01")
    started = time.monotonic()
    result = calfeed("notify", "--time-limit", "3", environ=environ)
    took = time.monotonic() - started
    assert took < 30, took
    assert result.returncode == 1
    problems = result.stderr.splitlines()
    assert len(problems) == 5  # one line per recipient of the demo roster
    assert "no complete answer within 3 s" in problems[0]
    assert all(": not tried: " in line for line in problems[1:])
    assert result.stdout.splitlines()[-1] == (
        "calfeed notify: 2025-03-01: 0 sent, 5 failed, of 5 messages due")


def test_the_systemd_unit_outlasts_a_run_that_waits_its_turn_and_then_stops_it():
    unit = (ROOT / "deploy" / "calfeed-notify.service").read_text()
    minutes = int(re.search(r"^TimeoutStartSec=(\d+)min$", unit, re.M)[1])
    # Longer than the longest healthy run (the lock wait, then the sending), so systemd
    # only ever stops a run that hangs, and the next timer run is never blocked.
    assert minutes * 60 > sendlog.LOCK_WAIT_SECONDS + dispatch.RUN_SECONDS
    assert minutes * 60 < 24 * 3600
