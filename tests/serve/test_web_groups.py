"""A group's private URLs: its page (overview first), feeds, JSON and CSV twins, one-event
files, reminder variants, `calfeed links`, the static build and the logs.

"Today" is March 1, 2025 unless a test says otherwise: ACCME's data year 2024 deadline,
Monday, March 31, 2025 at 11:59 p.m. Central Time, and the California Medical
Association's, Friday, March 14, 2025, are both ahead (shared/seeds/published-dates.md).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from html.parser import HTMLParser

import pytest
import vobject
from click.testing import CliRunner

from calfeed.cli import main
from calfeed.core import tokens
from calfeed.build import site as build
from calfeed import create_app

from apps import SECRET, make_app, settings
from grouping import GROUP_ADDRESSES, set_groups
from serving import rewrite

TODAY = "2025-03-01"
SITE = "https://deadlines.example.org"


def group_token(group: str, rotation: int = 0) -> str:
    """The private token the test secret gives a group."""
    return tokens.token(SECRET.encode(), group, rotation, "group")


def provider_token(provider: str) -> str:
    """The private token the test secret gives a provider."""
    return tokens.token(SECRET.encode(), provider, 0)


@pytest.fixture
def grouped(tmp_path, data):
    """A client of the app on the demo data with the acme and cma groups."""
    set_groups(data)
    return make_app(tmp_path, data, CALFEED_TODAY=TODAY, CALFEED_BASE_URL=SITE).test_client()


class Table(HTMLParser):
    """The overview table's rows, as text cells, and the links in its first column."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.inside = self.cell = False
        self.headers: list[tuple[str, str | None]] = []
        self.head = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("class") == "providers":
            self.inside = True
        elif self.inside and tag == "thead":
            self.head = True
        elif self.inside and tag == "tr" and not self.head:
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = True
            if self.head:
                self.headers.append(("", attrs.get("aria-sort")))
            else:
                self.rows[-1].append("")
        elif self.inside and tag == "a" and self.rows and len(self.rows[-1]) == 1:
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag == "thead":
            self.head = False
        elif tag in ("td", "th"):
            self.cell = False

    def handle_data(self, data):
        if self.inside and self.cell:
            if self.head:
                text, sort = self.headers[-1]
                self.headers[-1] = (text + data, sort)
            else:
                self.rows[-1][-1] += data


def overview(html: str) -> Table:
    """The page's overview table, parsed."""
    table = Table()
    table.feed(html)
    table.rows = [[" ".join(c.split()) for c in row] for row in table.rows]
    table.headers = [(" ".join(t.split()), s) for t, s in table.headers]
    return table


# --- the page ----------------------------------------------------------------------------


def test_the_page_opens_with_every_provider_by_next_deadline_and_links_to_its_page(grouped):
    response = grouped.get(f"/g/{group_token('acme')}/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    html = response.data.decode()
    assert "<h1 dir=\"auto\">Acme CME Consulting</h1>" in html
    table = overview(html)
    assert table.headers == [("Provider", None), ("Next deadline", "ascending"),
                             ("Next Decision Date", None), ("Accredited by", None),
                             ("Estimated dates", None)]
    assert table.rows == [
        ["Demo Hospital (accredited by the California Medical Association)",
         "Friday, March 14, 2025 (in 13 days): Accept the terms of the ACCME annual agreement "
         "— California Medical Association deadline", "None", "California Medical Association",
         "4 of 8"],
        ["Demo Health System (8-month progress report)",
         "Monday, March 31, 2025, 11:59 p.m. Central Time (in 30 days): Accept the terms of "
         "the ACCME annual agreement", "July 31, 2024", "ACCME", "4 of 8"],
        ["Demo Institute (annual reporting only)",
         "Monday, March 31, 2025, 11:59 p.m. Central Time (in 30 days): Accept the terms of "
         "the ACCME annual agreement", "None", "ACCME", "5 of 10"],
        ["Demo Medical Society (12-month progress report)",
         "Monday, March 31, 2025, 11:59 p.m. Central Time (in 30 days): Accept the terms of "
         "the ACCME annual agreement", "November 30, 2024", "ACCME", "5 of 10"],
    ]
    assert table.links == [f"/p/{provider_token(p)}/" for p in (
        "demo-state", "demo-8-month", "demo-annual", "demo-12-month")]
    for link in table.links:
        assert grouped.get(link).status_code == 200
    # The overview comes before the subscribe box and the steps by date.
    assert html.index('id="providers"') < html.index('id="subscribe"') < html.index('id="upcoming"')


def test_sorted_by_name_is_a_path_of_its_own(grouped):
    base = f"/g/{group_token('acme')}"
    html = grouped.get(f"{base}/").data.decode()
    assert f'href="{base}/by-name/"' in html
    by_name = grouped.get(f"{base}/by-name/")
    assert by_name.status_code == 200
    table = overview(by_name.data.decode())
    assert [row[0] for row in table.rows] == [
        "Demo Health System (8-month progress report)",
        "Demo Hospital (accredited by the California Medical Association)",
        "Demo Institute (annual reporting only)",
        "Demo Medical Society (12-month progress report)"]
    assert table.headers[0] == ("Provider", "ascending") and table.headers[1][1] is None
    assert grouped.get(f"{base}/by-deadline/").status_code == 404


def test_steps_ahead_are_listed_by_moment_with_the_providers_they_are_for(grouped):
    html = grouped.get(f"/g/{group_token('acme')}/").data.decode()
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    upcoming = text[text.index("Coming up"):text.index("Past dates")]
    march_14 = upcoming.index("Friday, March 14, 2025 4 steps For Demo Hospital (accredited "
                              "by the California Medical Association) Accept the terms")
    march_31 = upcoming.index("Monday, March 31, 2025, 11:59 p.m. Central Time 5 steps For "
                              "Demo Health System (8-month progress report) , Demo Medical "
                              "Society (12-month progress report) and Demo Institute (annual "
                              "reporting only) Accept the terms of the ACCME annual agreement")
    assert march_14 < march_31
    # The enduring-materials step is for the two providers that offer them.
    assert ("For Demo Medical Society (12-month progress report) and Demo Institute (annual "
            "reporting only) Update the total cumulative learner counts of enduring materials "
            "as of December 31, 2024") in upcoming
    # The passed steps are in one fold.
    assert re.search(r"<details>\s*<summary>Show the \d+ steps that have passed</summary>", html)
    assert text.index("Past dates") > text.index("Coming up")


def test_each_step_has_its_own_ics_and_the_accreditors_variant_its_own_path(grouped):
    base = f"/g/{group_token('acme')}"
    html = grouped.get(f"{base}/").data.decode()
    accme = f"{base}/events/annual-reporting/2024/annual-agreement.ics"
    state = f"{base}/events/annual-reporting/2024/annual-agreement.cma.ics"
    assert f'href="{accme}"' in html and f'href="{state}"' in html
    one = grouped.get(accme)
    assert one.status_code == 200
    assert one.headers["Content-Disposition"] == (
        'attachment; filename="annual-reporting-2024-annual-agreement.ics"')
    body = one.data.decode()
    assert body.count("BEGIN:VEVENT") == 1
    assert "UID:group/acme/annual-reporting/2024/annual-agreement@calfeed" in body
    assert "DTSTART;TZID=America/Chicago:20250331T235900" in body
    other = grouped.get(state).data.decode()
    assert "UID:group/acme/annual-reporting/2024/annual-agreement/cma@calfeed" in other
    assert "DTSTART;VALUE=DATE:20250314" in other
    assert grouped.get(f"{base}/events/annual-reporting/2024/annual-agreement.xyz.ics"
                       ).status_code == 404


def test_the_reminder_pages_of_a_group_subscribe_to_its_reminder_calendars(grouped):
    base = f"/g/{group_token('acme')}"
    page = grouped.get(f"{base}/remind-2w2d/")
    assert page.status_code == 200
    html = page.data.decode()
    assert f"{SITE}{base}/remind-2w2d.ics" in html
    assert "Group calendar" in html
    feed = grouped.get(f"{base}/remind-2w2d.ics")
    assert feed.status_code == 200 and b"BEGIN:VALARM" in feed.data


def test_unknown_and_wrong_group_tokens_are_the_same_404(grouped):
    assert grouped.get(f"/g/{group_token('nobody')}/").status_code == 404
    # A provider's token is no group's, and the reverse.
    assert grouped.get(f"/g/{provider_token('demo-state')}/").status_code == 404
    assert grouped.get(f"/p/{group_token('acme')}/").status_code == 404
    assert grouped.get(f"/g/{group_token('acme')}/by-name/").status_code == 200
    assert grouped.get(f"/g/{group_token('nobody')}/by-name/").status_code == 404


def test_raising_a_groups_rotation_stops_its_old_url(tmp_path, data):
    set_groups(data)
    client = make_app(tmp_path, data, CALFEED_TODAY=TODAY).test_client()
    old = group_token("acme")
    assert client.get(f"/g/{old}.ics").status_code == 200
    text = (data / "groups.csv").read_text(encoding="utf-8")
    rewrite(data / "groups.csv", text.replace("lead@acme-cme.example.com,,0",
                                              "lead@acme-cme.example.com,,1"))
    assert client.get(f"/g/{old}.ics").status_code == 404
    assert client.get(f"/g/{group_token('acme', 1)}.ics").status_code == 200


def test_a_running_server_takes_a_new_group_and_keeps_the_last_good_groups(tmp_path, data, caplog):
    set_groups(data)
    client = make_app(tmp_path, data, CALFEED_TODAY=TODAY).test_client()
    good = client.get(f"/g/{group_token('acme')}.ics").data
    with caplog.at_level(logging.ERROR, logger="calfeed"):
        rewrite(data / "groups.csv", "id,name\nacme,Acme\nacme,Again\n")
        assert client.get(f"/g/{group_token('acme')}.ics").data == good
    assert 'duplicate group id "acme"' in caplog.text
    assert client.get("/healthz").get_json()["status"] == "degraded"
    rewrite(data / "groups.csv", "id,name\nacme,Acme\nbeta,Beta Consulting,\n".replace(",\n", "\n"))
    assert client.get(f"/g/{group_token('beta')}/").status_code == 200
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_group_urls_never_reach_a_log_whole(grouped, caplog):
    token = group_token("acme")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('%s - - [%s] %s', "127.0.0.1", "now",
                                           f'"GET /g/{token}/remind-1w.ics HTTP/1.1" 200 -')
        logging.getLogger("werkzeug").info('%s - - [%s] %s', "127.0.0.1", "now",
                                           f'"GET /%67/{token}.ics HTTP/1.1" 200 -')
    assert token not in caplog.text
    assert f"/g/{token[:6]}.../remind-1w.ics" in caplog.text
    assert f"/g/{token[:6]}....ics" in caplog.text


def test_no_group_address_in_any_answer(grouped):
    base = f"/g/{group_token('acme')}"
    for path in (f"{base}/", f"{base}.ics", f"{base}.json", f"{base}.csv", f"{base}/by-name/",
                 f"{base}/remind-1w/"):
        body = grouped.get(path).data.decode("utf-8")
        for address in GROUP_ADDRESSES:
            assert address not in body, path


# --- the JSON and CSV twins --------------------------------------------------------------


def test_json_keeps_the_feeds_events_and_names_their_providers(grouped):
    answer = grouped.get(f"/g/{group_token('acme')}.json")
    assert answer.headers["Content-Type"] == "application/json"
    found = json.loads(answer.data)
    assert found["calendar"]["uid"] == "group/acme@calfeed"
    assert found["calendar"]["name"] == "Acme CME Consulting — ACCME deadlines"
    providers = {p["name"]: p for p in found["providers"]}
    assert providers["Demo Hospital (accredited by the California Medical Association)"] == {
        "name": "Demo Hospital (accredited by the California Medical Association)",
        "page": f"{SITE}/p/{provider_token('demo-state')}/",
        "accreditor": "cma", "accreditor_name": "California Medical Association",
        "next_decision_date": None,
        "next": {"title": "Accept the terms of the ACCME annual agreement — California Medical "
                          "Association deadline", "start": "2025-03-14", "precision": "day",
                 "status": "published", "track": "annual-reporting", "cycle": "2024",
                 "milestone": "annual-agreement"},
        "upcoming": 8, "estimated": 4}
    events = {e["uid"]: e for e in found["events"]}
    agreement = events["group/acme/annual-reporting/2024/annual-agreement@calfeed"]
    assert agreement["start"] == "2025-03-31T23:59:00-05:00"
    assert agreement["providers"] == ["Demo Health System (8-month progress report)",
                                      "Demo Medical Society (12-month progress report)",
                                      "Demo Institute (annual reporting only)"]
    assert agreement["step_title"] == "Accept the terms of the ACCME annual agreement"
    assert all(e["providers"] for e in found["events"])
    feed = grouped.get(f"/g/{group_token('acme')}.ics").data.decode()
    in_feed = set(re.findall(r"UID:(group/\S+@calfeed)", feed)) - {"group/acme@calfeed"}
    assert sorted(events) == sorted(in_feed | {u for u, e in events.items() if e["start"] is None})


def test_csv_has_one_row_per_step_and_provider_the_provider_first(grouped):
    answer = grouped.get(f"/g/{group_token('acme')}.csv")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="acme.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert list(rows[0])[:3] == ["Provider", "Accredited by", "Date"]
    assert all(r["Provider"] for r in rows)
    # First what is ahead, soonest first: the CMA's four steps for its one provider.
    assert [(r["Date"], r["Provider"], r["Step"]) for r in rows[:2]] == [
        ("2025-03-14", "Demo Hospital (accredited by the California Medical Association)",
         "Accept the terms of the ACCME annual agreement — California Medical Association "
         "deadline"),
        ("2025-03-14", "Demo Hospital (accredited by the California Medical Association)",
         "Enter all activities that started in 2024, and close all of them that also ended in "
         "2024 — California Medical Association deadline")]
    march_31 = [r for r in rows if r["Date"] == "2025-03-31"
                and r["milestone"] == "annual-agreement"]
    assert [r["Provider"] for r in march_31] == ["Demo Health System (8-month progress report)",
                                                 "Demo Medical Society (12-month progress report)",
                                                 "Demo Institute (annual reporting only)"]
    assert {r["uid"] for r in march_31} == {
        "group/acme/annual-reporting/2024/annual-agreement@calfeed"}
    assert {r["Time"] for r in march_31} == {"23:59"}
    assert {r["Accredited by"] for r in march_31} == {"ACCME"}


# --- calfeed links ------------------------------------------------------------------------


def test_links_lists_the_groups_after_the_providers_in_the_same_shape(tmp_path, data):
    set_groups(data)
    runner = make_app(tmp_path, data).test_cli_runner()
    result = runner.invoke(args=["links", "--base-url", SITE])
    assert result.exit_code == 0, result.output
    blocks = result.output.split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [
        "demo-8-month: Demo Health System (8-month progress report)",
        "demo-12-month: Demo Medical Society (12-month progress report)",
        "demo-annual: Demo Institute (annual reporting only)",
        "demo-state: Demo Hospital (accredited by the California Medical Association)",
        "acme: Acme CME Consulting",
        "cma: California Medical Association providers"]
    token = group_token("acme")
    assert blocks[4] == (f"acme: Acme CME Consulting\n"
                         f"  page   {SITE}/g/{token}/\n"
                         f"  webcal webcal://deadlines.example.org/g/{token}.ics\n"
                         f"  ics    {SITE}/g/{token}.ics\n"
                         f"  json   {SITE}/g/{token}.json\n"
                         f"  csv    {SITE}/g/{token}.csv")
    one = runner.invoke(args=["links", "cma", "--base-url", SITE])
    assert one.exit_code == 0
    assert one.output.splitlines()[0] == "cma: California Medical Association providers"
    assert one.output.splitlines()[1] == f"  page   {SITE}/g/{group_token('cma')}/"


# --- the static build ---------------------------------------------------------------------


def test_the_build_writes_every_groups_files_byte_for_byte_as_the_server_answers(data, tmp_path):
    set_groups(data)
    site = tmp_path / "site"
    result = CliRunner().invoke(main, ["build", str(site), "--rules", str(data / "rules.toml"),
                                       "--base-url", SITE, "--today", TODAY],
                                env={"CALFEED_SECRET_KEY": SECRET, "CALFEED_RULES": None,
                                     "CALFEED_PROVIDERS": None, "CALFEED_GROUPS": None,
                                     "CALFEED_BASE_URL": None, "CALFEED_TODAY": None, "CI": "1"})
    assert result.exit_code == 0, result.output
    assert ", 9 calendars (" in result.stdout  # 3 tracks, 4 providers, 2 groups
    entries = json.loads((site / "manifest.json").read_text())["files"]
    paths = [e["path"] for e in entries]
    assert len(paths) == len(set(paths))
    for group in ("acme", "cma"):
        token = group_token(group)
        for name in ("index.html", "by-name/index.html", "remind-1w/index.html",
                     "remind-2w2d/index.html", "remind-1m1w1d/index.html"):
            assert f"g/{token}/{name}" in paths, name
        for name in (".ics", ".json", ".csv", "/remind-1w.ics", "/remind-2w2d.ics",
                     "/remind-1m1w1d.ics"):
            assert f"g/{token}{name}" in paths, name
    assert (f"g/{group_token('acme')}/events/annual-reporting/2024/annual-agreement.cma.ics"
            in paths)
    app = create_app(build.site_config(settings(data.parent, data, CALFEED_BASE_URL=SITE,
                                                CALFEED_TODAY=TODAY)))
    client = app.test_client()
    mine = [e for e in entries if e["path"].startswith("g/")]
    assert len(mine) > 60
    for entry in mine:
        url = "/" + entry["path"].removesuffix("index.html")
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data == (site / entry["path"]).read_bytes(), url
        assert response.headers["Content-Type"] == entry["content_type"]
    # No group address anywhere in the site, and no group id in a path.
    for path in site.rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            assert not [a for a in GROUP_ADDRESSES if a.encode() in body], path
    assert not [p for p in paths if "acme" in p or "/cma/" in p]


def test_a_worker_started_while_the_groups_file_is_broken_serves_the_kept_groups(tmp_path, data):
    set_groups(data)
    first = make_app(tmp_path, data, CALFEED_TODAY=TODAY).test_client()
    good = first.get(f"/g/{group_token('acme')}.ics").data
    (data / "groups.csv").write_text("id,name\nacme,Acme\nacme,Again\n", encoding="utf-8")
    # A worker gunicorn starts now reads the broken file, and answers from the copy the
    # first one kept of the rules, the roster and the groups file together.
    second = make_app(tmp_path, data, CALFEED_TODAY=TODAY).test_client()
    assert second.get("/healthz").get_json()["status"] == "degraded"
    assert second.get(f"/g/{group_token('acme')}.ics").data == good
    kept = list((tmp_path / "instance" / "last-good").glob("*/groups-*.csv"))
    assert len(kept) == 1 and "acme,Acme CME Consulting" in kept[0].read_text(encoding="utf-8")


def test_hostile_names_are_text_on_the_page_and_in_every_twin(tmp_path, data):
    set_groups(data, groups_csv=('id,name\nacme,"<script>alert(1)</script>; Acme, \\\\Co"\n'
                                 'cma,CMA providers\n'))
    (data / "providers.csv").write_text(
        (data / "providers.csv").read_text(encoding="utf-8").replace(
            "Demo Health System (8-month progress report)", '=HYPERLINK("x") <b>Health</b>'),
        encoding="utf-8")
    client = make_app(tmp_path, data, CALFEED_TODAY=TODAY).test_client()
    base = f"/g/{group_token('acme')}"
    page = client.get(f"{base}/").data.decode()
    assert "<script>" not in page and "<b>Health" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;; Acme, \\\\Co" in page
    assert "=HYPERLINK(&#34;x&#34;) &lt;b&gt;Health&lt;/b&gt;" in page
    calendar = vobject.readOne(client.get(f"{base}.ics").data.decode())
    assert calendar.x_wr_calname.value == "<script>alert(1)</script>; Acme, \\\\Co — ACCME deadlines"
    assert any(e.summary.value.startswith('=HYPERLINK("x") <b>Health</b>')
               for e in calendar.vevent_list)
    assert json.loads(client.get(f"{base}.json").data)["calendar"]["name"].startswith(
        "<script>alert(1)</script>; Acme")
    rows = list(csv.DictReader(io.StringIO(client.get(f"{base}.csv").data.decode("utf-8-sig"))))
    assert "'=HYPERLINK(\"x\") <b>Health</b>" in {r["Provider"] for r in rows}
