"""The server's log at its default settings: the reload line reaches it, once.

The README promises that a running server logs what each reload moved. Read from the
output of real processes, as an operator would: `calfeed run` (the development server)
and `gunicorn -c deploy/gunicorn.conf.py "calfeed:create_app()"`, both started as the
README starts them; and an app whose operator configured logging, which must get each
line once, in the operator's own format.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from flask import Flask

from calfeed.serve import lastgood

from serving import SECRET, TODAY, copy_data, fetch, gunicorn, rewrite
from smtpserver import free_port

OLD_DATE = "materials-due = 2024-04-03,"
# Source 000's April 3, 2024, moved for the test, with the history `calfeed diff` asks for.
NEW_DATE = ("materials-due = { date = 2024-04-10, changes = [{ was = 2024-04-03, "
            "announced = 2024-03-20 }] },")
OLD_REVISED = "revised = 2026-11-21T00:00:00Z"
NEW_REVISED = "revised = 2026-11-22T00:00:00Z"
SETTLE = 15.0
# What a reload of the bundled rules with that one date moved says.
WHAT_MOVED = "events: 1 moved, 0 appeared, 0 disappeared; 1 of 4 providers affected"


def reviewed_edit(rules: Path) -> None:
    """Move one published date with its history and raise `revised`: an edit that goes live."""
    rewrite(rules, rules.read_text().replace(OLD_DATE, NEW_DATE, 1).replace(OLD_REVISED, NEW_REVISED))


def wait_for_lines(log: Path, text: str, count: int) -> list[str]:
    """The log's lines containing text, once there are count of them (or fail)."""
    deadline = time.monotonic() + SETTLE
    while True:
        lines = [line for line in log.read_text(encoding="utf-8").splitlines() if text in line]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


@pytest.fixture
def default_instance(tmp_path):
    """The checkout's own instance folder, as a server started without arguments uses;
    the last good copies the test's servers keep there are removed afterwards."""
    instance = Flask("calfeed", instance_relative_config=True).instance_path
    kept: list[Path] = []
    yield instance, kept
    for folder in kept:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.gunicorn
def test_gunicorn_with_the_deploy_config_logs_each_reload_once_per_worker(tmp_path,
                                                                           default_instance):
    pytest.importorskip("gunicorn")
    rules, roster = copy_data(tmp_path / "data")
    instance, kept = default_instance
    kept.append(lastgood.folder(instance, str(rules), str(roster)))
    env = {"CALFEED_RULES": str(rules), "CALFEED_PROVIDERS": str(roster)}
    with gunicorn(tmp_path / "server", env, app="calfeed:create_app()") as server:
        workers = server.workers()
        assert fetch(server.base + "/healthz")[0] == 200
        loaded = wait_for_lines(server.log, f"[INFO] loaded {rules} (revised", 2)
        assert {re.search(r"\] \[(\d+)\] \[INFO\]", line)[1] for line in loaded} \
            == {str(pid) for pid in workers}
        reviewed_edit(rules)  # no request needed: each worker's own thread looks at the files
        wait_for_lines(server.log, f"reload of {rules}: ", 2)
        time.sleep(1.5)  # a line printed twice would be there by now
        lines = [line for line in server.log.read_text().splitlines()
                 if f"reload of {rules}: " in line]
    assert len(lines) == 2, server.log.read_text()
    pids = set()
    for line in lines:
        found = re.fullmatch(r"\[[^\]]+\] \[(\d+)\] \[INFO\] reload of (\S+): (.*)", line)
        assert found, line
        assert (found[2], found[3]) == (str(rules), WHAT_MOVED)
        pids.add(int(found[1]))
    assert pids == set(workers)


def test_calfeed_run_logs_each_reload_once(tmp_path, default_instance):
    rules, roster = copy_data(tmp_path / "data")
    instance, kept = default_instance
    kept.append(lastgood.folder(instance, str(rules), str(roster)))
    port = free_port()
    env = {**os.environ, "CALFEED_RULES": str(rules), "CALFEED_PROVIDERS": str(roster),
           "CALFEED_TODAY": TODAY, "CALFEED_SECRET_KEY": SECRET}
    for name in ("FLASK_APP", "FLASK_DEBUG", "FLASK_RUN_PORT"):
        env.pop(name, None)
    log = tmp_path / "run.log"
    calfeed = Path(sys.executable).with_name("calfeed")
    with log.open("w") as output:
        process = subprocess.Popen([str(calfeed), "run", "--port", str(port)], env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SETTLE
        while True:
            try:
                if fetch(base + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("calfeed run did not start:\n" + log.read_text())
            time.sleep(0.1)
        assert wait_for_lines(log, f"[INFO] loaded {rules} (revised", 1)
        reviewed_edit(rules)
        wait_for_lines(log, f"reload of {rules}: ", 1)
        time.sleep(1.5)  # a line printed twice would be there by now
        lines = [line for line in log.read_text().splitlines() if f"reload of {rules}: " in line]
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert len(lines) == 1, log.read_text()
    assert re.fullmatch(rf"\[[^\]]+\] \[{process.pid}\] \[INFO\] reload of {re.escape(str(rules))}: "
                        rf"{re.escape(WHAT_MOVED)}", lines[0]), lines


def test_an_operators_own_logging_gets_each_line_once_in_its_format(tmp_path):
    rules, roster = copy_data(tmp_path / "data")
    script = textwrap.dedent(f"""
        import logging
        logging.basicConfig(level=logging.INFO, format="operator: %(name)s: %(message)s")
        from calfeed import create_app
        app = create_app({{"INSTANCE_PATH": {str(tmp_path / "instance")!r},
                          "CALFEED_RELOAD_INTERVAL": 0}})
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        print("ready", flush=True)
        import sys; sys.stdin.readline()  # the test edits the rules now
        assert client.get("/healthz").json["status"] == "ok"
    """)
    env = {**os.environ, "CALFEED_RULES": str(rules), "CALFEED_PROVIDERS": str(roster),
           "CALFEED_TODAY": TODAY, "CALFEED_SECRET_KEY": SECRET}
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    before = []
    for line in process.stdout:  # type: ignore[union-attr]
        if line == "ready\n":
            break
        before.append(line)
    reviewed_edit(rules)
    output, _ = process.communicate("go\n", timeout=60)
    output = "".join(before) + output
    assert process.returncode == 0, output
    lines = [line for line in output.splitlines() if "calfeed" in line]
    assert lines == [f"operator: calfeed: loaded {rules} (revised 2026-11-21T00:00:00+00:00, "
                     "4 providers)",
                     f"operator: calfeed: loaded {rules} (revised 2026-11-22T00:00:00+00:00, "
                     "4 providers)",
                     f"operator: calfeed: reload of {rules}: {WHAT_MOVED}"], output
