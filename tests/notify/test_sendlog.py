"""calfeed/notify/sendlog.py: the send log, read by a dry run that may not write it.

A log in WAL mode is read through a `-shm` index that the reader must be able to create;
`calfeed notify --dry-run` run by another user (or on a read-only folder) once failed
with "unable to open database file".
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from calfeed.notify import sendlog
from smtpserver import CALFEED, ROOT, calfeed, env

DAY = "2025-03-01"


@pytest.fixture
def readonly_log(inbox):
    """A send log after a real run, in a folder the dry run cannot write; (folder, run as)."""
    handler, url = inbox
    # Not under pytest's private tmp folder: another user must be able to reach it.
    folder = Path(tempfile.mkdtemp(prefix="calfeed-readonly-"))
    try:
        state = folder / "calfeed.sqlite3"
        environ = env(folder, url, DAY, CALFEED_STATE=str(state))
        assert calfeed("notify", environ=environ).returncode == 0
        assert not Path(f"{state}-shm").exists()  # the run closed its log
        folder.chmod(0o555)
        if os.geteuid() == 0:
            # root writes in any folder whatever its mode: only an immutable one stops it.
            done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"root, and chattr +i failed: {done.stderr.strip()}")
        yield state, environ
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(stat.S_IRWXU)
        shutil.rmtree(folder)


def test_a_dry_run_reads_a_send_log_it_may_not_write(readonly_log):
    state, environ = readonly_log
    with pytest.raises(OSError):
        (state.parent / "probe").touch()  # the folder really is read-only
    done = subprocess.run([CALFEED, "notify", "--dry-run"], env=environ, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # The run already sent today's reminders: the dry run read that from the log.
    assert done.stdout.splitlines() == ["calfeed notify: 2025-03-01: 0 messages would be sent"]
    assert sorted(p.name for p in state.parent.iterdir()) == ["calfeed.sqlite3", "calfeed.sqlite3.lock"]


def test_a_second_log_waits_for_the_lock_at_most_as_long_as_it_says(tmp_path):
    state = tmp_path / "calfeed.sqlite3"
    waited: list[float] = []
    with sendlog.SendLog(state, "first"):
        with pytest.raises(sendlog.StateError) as raised:
            sendlog.SendLog(state, "second", on_wait=waited.append, wait_seconds=0.5)
    assert waited == [0.5]
    assert str(raised.value) == (
        f"{state}: another calfeed notify run still holds the lock after 0.5 s (expected it to "
        "finish; this run sends nothing, and the next one catches up)")
    with sendlog.SendLog(state, "third", wait_seconds=0.5):  # the first one finished
        pass
