"""The web service as calendar clients, browsers and coordinators meet it (docs/design.md §5, §6)."""

from __future__ import annotations

import json
import logging
import stat
from email.utils import format_datetime
from datetime import date, datetime, timedelta, timezone

import pytest
import vobject
from click.testing import CliRunner

from calfeed import bundled
from calfeed.core import tokens
from calfeed.serve import web
from serving import rewrite
from calfeed.cli import main

from conftest import SECRET, TODAY, make_app

PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")
BUILDER_8_MONTH = "/calendar/?next_decision_date=2024-07-31"


def token_of(provider: str, rotation: int = 0) -> str:
    """The private token the test secret gives a provider."""
    return tokens.token(SECRET.encode(), provider, rotation)


# --- content types ---------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "text/html,application/xhtml+xml", "application/json", "*/*"])
def test_ics_is_text_calendar_whatever_the_accept_header(client, accept):
    headers = {"Accept": accept} if accept else {}
    response = client.get("/tracks/annual-reporting.ics", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.data.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert "Content-Disposition" not in response.headers


def test_json_and_csv_twins_content_types(client):
    as_json = client.get("/tracks/annual-reporting.json", headers={"Accept": "text/html"})
    assert as_json.headers["Content-Type"] == "application/json"
    assert json.loads(as_json.data)["calendar"]["name"] == "Annual Reporting in PARS — ACCME deadlines"
    as_csv = client.get("/tracks/annual-reporting.csv")
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["Content-Disposition"] == 'attachment; filename="annual-reporting.csv"'


def test_csv_header_row_then_one_line_per_event(client):
    response = client.get("/calendar.csv?next_decision_date=2024-07-31")
    # A byte-order mark first, so that Excel reads the file as UTF-8.
    assert response.data.startswith(b"\xef\xbb\xbfDate,")
    lines = response.data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ("Date,Last day,Time,Time zone,When,Step,Who acts,Status,Changes,Schedule,"
                        "Details,Link,uid,track,cycle,milestone,precision,start")
    # November 21, 2026: the next deadline first, "estimated" in Status only.
    assert lines[1].startswith('2027-03-31,2027-03-31,23:59,Central Time,"Wednesday, March 31, '
                               '2027, 11:59 p.m. Central Time",Accept the terms of the ACCME '
                               "annual agreement,Provider,Estimated,,")


# --- conditional requests, HEAD, download, plain, remind --------------------


def test_if_none_match_gives_304_only_for_the_current_etag(client):
    first = client.get("/tracks/progress-8-month.ics")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith('W/')
    again = client.get("/tracks/progress-8-month.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    other = client.get("/tracks/progress-8-month.ics", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.data == first.data


def test_if_modified_since_gives_304_only_when_unchanged(client):
    first = client.get("/tracks/progress-8-month.ics")
    last_modified = first.headers["Last-Modified"]
    same = client.get("/tracks/progress-8-month.ics", headers={"If-Modified-Since": last_modified})
    assert same.status_code == 304
    earlier = datetime.strptime(last_modified, "%a, %d %b %Y %H:%M:%S GMT").replace(
        tzinfo=timezone.utc) - timedelta(seconds=1)
    older = client.get("/tracks/progress-8-month.ics",
                       headers={"If-Modified-Since": format_datetime(earlier, usegmt=True)})
    assert older.status_code == 200
    assert older.data == first.data


def test_if_none_match_wins_over_if_modified_since(client):
    first = client.get("/tracks/progress-8-month.ics")
    stale_tag = client.get("/tracks/progress-8-month.ics", headers={
        "If-None-Match": '"old"', "If-Modified-Since": first.headers["Last-Modified"]})
    assert stale_tag.status_code == 200
    old_date = client.get("/tracks/progress-8-month.ics", headers={
        "If-None-Match": first.headers["ETag"], "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert old_date.status_code == 304


@pytest.mark.parametrize("path", ["/tracks/annual-reporting.json", "/calendar.csv?enduring_materials=yes"])
def test_json_and_csv_are_conditional_too(client, path):
    first = client.get(path)
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304


def test_head_has_the_headers_of_get_and_no_body(client):
    got = client.get("/calendar.ics?next_decision_date=2024-07-31")
    head = client.head("/calendar.ics?next_decision_date=2024-07-31")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert int(head.headers["Content-Length"]) == len(got.data)


def test_cache_control_public_for_tracks_private_for_providers(client):
    assert client.get("/tracks/annual-reporting.ics").headers["Cache-Control"] == "public, max-age=3600"
    private = client.get(f"/p/{token_of('demo-annual')}.ics")
    assert private.headers["Cache-Control"] == "private, max-age=3600"


def test_download_names_the_file(client):
    response = client.get("/tracks/progress-8-month.ics?download=1")
    assert response.headers["Content-Disposition"] == 'attachment; filename="progress-8-month.ics"'
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    builder = client.get("/calendar.ics?next_decision_date=2024-07-31&enduring_materials=yes"
                         "&accreditor=cma&download=1")
    assert builder.headers["Content-Disposition"] == (
        'attachment; filename="calendar-2024-07-31-em-cma.ics"')


def test_plain_serves_the_same_bytes_as_text(client):
    feed = client.get("/tracks/progress-8-month.ics")
    plain = client.get("/tracks/progress-8-month.ics?plain=1")
    assert plain.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert plain.data == feed.data


def test_remind_adds_valarms_to_the_providers_steps(tmp_path):
    # As of January 1, 2024, when the 8-month cohort's steps are ahead (source 000).
    client = make_app(tmp_path, CALFEED_TODAY="2024-01-01").test_client()
    plain = client.get("/tracks/progress-8-month.ics").data.decode()
    assert "BEGIN:VALARM" not in plain
    reminded = client.get("/tracks/progress-8-month.ics?remind=P14D,P2D").data.decode()
    assert reminded.count("BEGIN:VEVENT") == 5  # the fee has no date: not in the feed
    # two of the five are the provider's (activity data 2024-01-24, materials 2024-04-03);
    # ACCME's three get none
    assert reminded.count("BEGIN:VALARM") == 2 * 2
    # the same as the path that offers these reminders
    assert reminded == client.get("/tracks/progress-8-month/remind-2w2d.ics").data.decode()
    assert "ACTION:DISPLAY" in reminded


def test_a_reminder_calendar_refuses_a_second_remind_parameter(client):
    response = client.get("/tracks/progress-8-month/remind-2w2d.ics?remind=P1D")
    assert response.status_code == 400
    assert response.data.decode() == (
        "400 Bad Request\nremind: this calendar's path already chooses its reminders "
        "(2 weeks and 2 days before); expected no remind parameter\n")


@pytest.mark.parametrize("path", [
    "/tracks/progress-8-month/remind-3w.ics", "/tracks/progress-8-month/remind-.ics",
    "/tracks/progress-8-month/remind-2w2d.json", "/tracks/progress-8-month/remind-2w2d",
    "/tracks/progress-8-month/remind-P14D/", f"/p/{'a' * 32}/remind-1w.ics",
    "/tracks/no-such-track/remind-1w.ics", "/calendar/remind-1w.ics?next_decision_date=1999-01-01",
])
def test_unknown_reminder_paths_are_not_found_or_refused(client, path):
    assert client.get(path).status_code == (400 if "1999" in path else 308 if path.endswith("2w2d")
                                            else 404)


# --- 400s ------------------------------------------------------------------


@pytest.mark.parametrize("query, parameter, accepted", [
    ("remind=P2X", "remind", "P14D,P2D"),
    ("remind=P1Y", "remind", "P14D,P2D"),
    ("remind=P1D,P2D,P3D,P4D", "remind", "P14D,P2D"),
    ("download=maybe", "download", "yes or no"),
    ("plain=2", "plain", "yes or no"),
])
@pytest.mark.parametrize("fmt", ["ics", "json", "csv"])
def test_bad_feed_parameters_are_400_naming_the_parameter(client, query, parameter, accepted, fmt):
    # on every format: a bad remind is refused on .json and .csv too, though they carry no alarms
    for path in [f"/tracks/annual-reporting.{fmt}", f"/calendar.{fmt}",
                 f"/p/{token_of('demo-annual')}.{fmt}"]:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, path
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        body = response.data.decode()
        assert parameter in body and accepted in body
        assert body.startswith("400 Bad Request\n") and body.count("\n") == 2  # one line says why


def test_a_good_remind_leaves_json_and_csv_as_they_are(client):
    for fmt in ["json", "csv"]:
        plain = client.get(f"/tracks/progress-8-month.{fmt}")
        reminded = client.get(f"/tracks/progress-8-month.{fmt}?remind=P14D,P2D")
        assert reminded.status_code == 200 and reminded.data == plain.data
        assert reminded.headers["ETag"] == plain.headers["ETag"]


@pytest.mark.parametrize("path", [
    "/calendar/", "/calendar.ics", "/calendar.json", "/calendar.csv", "/calendar/remind-1w/",
    "/calendar/remind-1w.ics", "/calendar/events/annual-reporting/2025/program-summary.ics"])
def test_an_unknown_builder_answer_is_400_on_every_format(client, path):
    response = client.get(f"{path}?next_decison_date=2024-07-31")
    assert response.status_code == 400
    text = response.data.decode()
    assert "next_decison_date" in text
    assert "calfeed does not know this parameter; did you mean next_decision_date?" in text


NDD_ACCEPTED = ("a Next Decision Date from 2024-07-31 (the first published cohort) to 2028-11-21 "
                "(2 years after today), as YYYY-MM-DD, or empty for no progress report")


@pytest.mark.parametrize("query, parameter, accepted", [
    ("next_decision_date=2099-01-01", "next_decision_date", NDD_ACCEPTED),
    ("next_decision_date=2029-01-01", "next_decision_date",
     "2029-01-01 is more than 2 years after today (2026-11-21)"),
    ("next_decision_date=2024-03-31", "next_decision_date",
     "2024-03-31 is before the first published cohort (Next Decision Date 2024-07-31)"),
    ("next_decision_date=2024-02-30", "next_decision_date", "2024-02-30 is not a day on the calendar"),
    ("next_decision_date=2027-13-01", "next_decision_date", NDD_ACCEPTED),
    ("next_decision_date=July", "next_decision_date", NDD_ACCEPTED),
    ("next_decision_date=20270731", "next_decision_date", NDD_ACCEPTED),
    ("accreditor=texas", "accreditor", "cma"),
    ("enduring_materials=sometimes", "enduring_materials", "yes or no"),
])
def test_bad_builder_answers_are_400_on_page_and_feed(client, query, parameter, accepted):
    page = client.get(f"/calendar/?{query}")
    assert page.status_code == 400
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    text = page.data.decode()
    assert f"<code>{parameter}</code>" in text and accepted in text
    feed = client.get(f"/calendar.ics?{query}")
    assert feed.status_code == 400
    assert parameter in feed.data.decode() and accepted in feed.data.decode()


# --- 404s ------------------------------------------------------------------


def test_unknown_track_and_path_are_the_same_404_page(client):
    unknown_path = client.get("/no/such/page")
    assert unknown_path.status_code == 404
    assert b"There is no calendar at this address." in unknown_path.data
    assert b'href="/static/style.css"' in unknown_path.data
    for path in ["/tracks/no-such-track/", "/tracks/no-such-track.ics", "/tracks/x/events/a/b/c.ics",
                 "/tracks/annual-reporting/events/annual-reporting/1999/program-summary.ics"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.data == unknown_path.data


def test_wrong_and_unknown_tokens_look_like_an_unknown_path(client):
    unknown_path = client.get("/no/such/page").data
    good = token_of("demo-8-month")
    wrong = good[:-1] + ("a" if good[-1] != "a" else "b")
    assert client.get(f"/p/{good}/").status_code == 200
    for path in [f"/p/{wrong}/", f"/p/{wrong}.ics", f"/p/{wrong}.json", f"/p/{wrong}.csv",
                 "/p/unknown/", f"/p/{good.upper()}/", f"/p/{good}x.ics", "/p/demo-8-month/"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.data == unknown_path, path


@pytest.mark.parametrize("path", [
    "/p/%00/", "/p/%ff%fe.ics", "/tracks/..%2f..%2fetc/", "/tracks/%2e%2e/", "/" + "a" * 5000,
    "/p/" + "x" * 5000 + ".ics", "/calendar.ics?accreditor=%ff", "/calendar/?next_decision_date=%00",
    "/calendar.ics?remind=" + "P1D," * 1000, "/calendar.ics?remind=PT" + "9" * 400 + "S",
])
def test_odd_input_is_never_a_server_error(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404), path
    if response.status_code == 404:
        assert response.data == client.get("/no-such-page").data, path
    else:  # the answer names the parameter it refused
        parameter = path.split("?", 1)[1].split("=", 1)[0]
        assert f"{parameter}: ".encode() in response.data or (
            f"<code>{parameter}</code>".encode() in response.data), path
    assert response.headers["Cache-Control"] == "no-store"


def test_wrong_method_is_a_page_not_an_error(client):
    response = client.post("/calendar.ics")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


# --- pages -----------------------------------------------------------------


def test_home_lists_tracks_and_the_builder_choices_but_no_provider(client):
    page = client.get("/").data.decode()
    for name in ["8-Month Progress Report Milestones", "12-Month Progress Report Milestones",
                 "Annual Reporting in PARS"]:
        assert name in page
    assert '<form class="builder" action="/calendar/" method="get">' in page
    # Any Next Decision Date, as a date input, from the first cohort's to 2 years after today.
    assert ('<input type="date" id="next_decision_date" name="next_decision_date" value="" '
            'min="2024-07-31" max="2028-11-21" aria-describedby="ndd-hint">') in page
    assert ("ACCME's published milestones for July 31, 2024 and November 30, 2024, an "
            "estimate from them for any other date.") in page
    # an accreditor's name keeps its own direction, whatever script it is written in
    assert '<option value="cma" dir="auto">California Medical Association</option>' in page
    assert 'name="enduring_materials" value="yes"' in page
    assert "Demo" not in page and "/p/" not in page


def test_home_subscribes_to_the_public_tracks_instead_of_downloading_them(tmp_path):
    # March 15, 2024: both November 2023 cohorts are still running.
    page = make_app(tmp_path, CALFEED_TODAY="2024-03-15").test_client().get("/").data.decode()
    assert 'href="webcal://localhost/tracks/annual-reporting.ics"' in page
    assert ('href="https://calendar.google.com/calendar/r?cid='
            'webcal%3A%2F%2Flocalhost%2Ftracks%2Fannual-reporting.ics"') in page
    assert ('href="https://outlook.live.com/calendar/0/addfromweb?url='
            'http%3A%2F%2Flocalhost%2Ftracks%2Fprogress-8-month.ics'
            '&amp;name=8-Month%20Progress%20Report%20Milestones%20%E2%80%94%20ACCME%20deadlines"') in page
    assert ('href="https://outlook.office.com/calendar/0/addfromweb?url='
            'http%3A%2F%2Flocalhost%2Ftracks%2Fprogress-12-month.ics') in page
    # no link to the bare feed: opened in a browser, it downloads a file that never updates
    assert 'href="/tracks/annual-reporting.ics"' not in page
    # each button says, to a screen reader, which schedule it subscribes to
    assert ('Google Calendar<span class="vh"> (subscribe to <bdi>Annual Reporting in PARS</bdi>)'
            '</span></a>') in page


def test_builder_takes_a_next_decision_date_no_cohort_covers(client):
    response = client.get("/calendar/?next_decision_date=2027-07-31")
    assert response.status_code == 200
    page = response.data.decode()
    assert ("ACCME has not published the progress-report milestones for Next Decision Date "
            "July 31, 2027. These dates are estimated from ACCME Progress Report Milestones — "
            "For November 2023 Cohort Decisions Requiring a Progress Report (8-month progress "
            "report review)") in page
    assert "decision report from ACCME has the exact dates" in page
    assert '<time datetime="2027-03-31">Wednesday, March 31, 2027</time>' in page
    assert ('value="2027-07-31" min="2024-07-31" max="2028-11-21"') in page
    feed = vobject.readOne(client.get("/calendar.ics?next_decision_date=2027-07-31").data.decode())
    due = {v.uid.value: v for v in feed.contents["vevent"]}[
        "calendar-2027-07-31/progress-2027-07-31/2027-07-31/materials-due@calfeed"]
    assert (due.dtstart.value, due.status.value) == (date(2027, 3, 31), "TENTATIVE")
    assert due.summary.value == "Progress Report Materials Submission Deadline (estimated)"


def test_provider_page_names_its_accreditor_with_its_link(client):
    page = client.get(f"/p/{token_of('demo-state')}/").data.decode()
    assert ('Accredited by the <a href="https://www.cmadocs.org/cme/accreditation/eligibility">'
            "California Medical Association</a>.") in page
    assert ("an estimate from its usual deadline (the Friday on or before ACCME&#39;s deadline "
            "minus 12 days)") in page
    # Data year 2025: CMA's rule gives Friday March 13, 2026, two and a half weeks before ACCME's.
    assert '<time datetime="2026-03-13">Friday, March 13, 2026</time>' in page


def test_builder_page_for_the_8_month_report_shows_its_milestones_with_literal_dates(client):
    response = client.get(BUILDER_8_MONTH)
    assert response.status_code == 200
    page = response.data.decode()
    for day in ["Wednesday, January 24, 2024", "Wednesday, February 7, 2024",
                "Wednesday, February 21, 2024", "Wednesday, April 3, 2024"]:
        assert day in page
    assert "July 2024 (no exact day published)" in page
    assert "Monday, April 1, 2024, 11:59 p.m. Central Time" in page
    assert "Provider enters CME activity data" in page
    assert "Progress Report Materials Submission Deadline" in page
    # the undated step keeps ACCME's wording (in the fold of past dates with its cohort:
    # see test_pages.py)
    assert "Due upon receipt of invoice" in page
    # the 12-month track is not this provider's
    assert "May 8, 2024" not in page
    # today is 2026-11-21: the next deadline is the (estimated) annual one
    assert "in 130 days" in page
    assert "Wednesday, March 31, 2027, 11:59 p.m. Central Time" in page
    assert "Estimated date" in page


def test_builder_page_subscribe_links(client):
    page = client.get("/calendar/?next_decision_date=2024-07-31&enduring_materials=yes").data.decode()
    feed = "http://localhost/calendar.ics?next_decision_date=2024-07-31&amp;enduring_materials=yes"
    assert 'href="webcal://localhost/calendar.ics?next_decision_date=2024-07-31&amp;enduring_materials=yes"' in page
    assert ('href="https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Flocalhost%2Fcalendar.ics'
            '%3Fnext_decision_date%3D2024-07-31%26enduring_materials%3Dyes"') in page
    assert ('href="https://outlook.live.com/calendar/0/addfromweb?url=http%3A%2F%2Flocalhost%2F'
            'calendar.ics%3Fnext_decision_date%3D2024-07-31%26enduring_materials%3Dyes'
            # the calendar's name, as calendar apps list it, in plain words from the answers
            '&amp;name=Progress%20report%20%28Next%20Decision%20Date%20July%2031%2C%202024%29'
            '%20and%20annual%20reporting%2C%20with%20enduring%20materials%20%E2%80%94%20ACCME%20deadlines"') in page
    assert 'href="https://outlook.office.com/calendar/0/addfromweb?url=http%3A%2F%2Flocalhost%2F' in page
    assert f'<textarea id="feed-url" class="url" readonly rows="2" spellcheck="false" autocomplete="off">{feed}</textarea>' in page
    assert 'href="/calendar.ics?next_decision_date=2024-07-31&amp;enduring_materials=yes&amp;download=1"' in page
    assert 'href="/calendar.json?next_decision_date=2024-07-31&amp;enduring_materials=yes"' in page
    assert 'href="/calendar.csv?next_decision_date=2024-07-31&amp;enduring_materials=yes"' in page
    assert "roughly once a day" in page
    # the reminder choices: links to the pages that subscribe with them, the builder's answers kept
    for choice in ("1w", "2w2d", "1m1w1d"):
        assert (f'href="/calendar/remind-{choice}/?next_decision_date=2024-07-31'
                f'&amp;enduring_materials=yes#subscribe"') in page
    assert ('<a class="choice selected" href="/calendar/?next_decision_date=2024-07-31'
            '&amp;enduring_materials=yes#subscribe" aria-current="page">No reminders</a>') in page


def test_absolute_links_use_the_configured_base_url(tmp_path, data):
    app = make_app(tmp_path, data, CALFEED_BASE_URL="https://deadlines.example.org/")
    page = app.test_client().get("/tracks/annual-reporting/").data.decode()
    assert 'href="webcal://deadlines.example.org/tracks/annual-reporting.ics"' in page
    assert '>https://deadlines.example.org/tracks/annual-reporting.ics</textarea>' in page


def test_every_dated_event_has_its_own_ics(client):
    page = client.get(BUILDER_8_MONTH).data.decode()
    path = "/calendar/events/progress-8-month/2023-11/materials-due.ics?next_decision_date=2024-07-31"
    assert f'href="{path}"' in page
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="progress-8-month-2023-11-materials-due.ics"')
    text = response.data.decode()
    assert text.count("BEGIN:VEVENT") == 1
    assert "DTSTART;VALUE=DATE:20240403" in text
    assert "UID:calendar-2024-07-31/progress-8-month/2023-11/materials-due@calfeed" in text
    # the undated fee has no .ics
    assert client.get("/calendar/events/progress-8-month/2023-11/review-fee.ics"
                      "?next_decision_date=2024-07-31").status_code == 404
    track = client.get("/tracks/annual-reporting/events/annual-reporting/2024/program-summary.ics")
    assert "DTSTART;TZID=America/Chicago:20250331T235900" in track.data.decode()


def test_track_page_shows_the_conditional_step_as_conditional(client):
    page = client.get("/tracks/annual-reporting/").data.decode()
    assert "(if you offer enduring materials)" in page
    assert "Monday, March 31, 2025, 11:59 p.m. Central Time" in page


def test_provider_page_is_private_and_not_indexed(client):
    response = client.get(f"/p/{token_of('demo-state')}/")
    page = response.data.decode()
    assert "Demo Hospital (accredited by the California Medical Association)" in page
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert response.headers["Cache-Control"].startswith("private")
    assert "California Medical Association deadline" in page
    assert "Friday, March 14, 2025" in page  # CMA's published deadline for data year 2024


def test_hostile_provider_names_are_text(tmp_path, data):
    (data / "providers.csv").write_text(
        "id,name,next_decision_date,enduring_materials,accreditor\n"
        'evil,"<script>alert(1)</script> & <b>Co</b>",2024-07-31,no,\n', encoding="utf-8")
    client = make_app(tmp_path, data).test_client()
    response = client.get(f"/p/{token_of('evil')}/")
    page = response.data.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;" in page
    assert "<script" not in page and "<b>Co" not in page
    feed = client.get(f"/p/{token_of('evil')}.json")
    assert json.loads(feed.data)["calendar"]["name"].startswith("<script>alert(1)</script>")


def test_security_headers_everywhere(client):
    for path in ["/", BUILDER_8_MONTH, "/tracks/annual-reporting.ics", "/no/such/page",
                 "/static/style.css", "/calendar.ics?remind=x", "/healthz"]:
        with client.get(path) as response:
            assert response.headers["Referrer-Policy"] == "no-referrer", path
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
    page = client.get("/")
    assert page.headers["Content-Security-Policy"] == PAGE_CSP
    assert b"<script" not in page.data and b"style=" not in page.data


# --- the JSON contract ------------------------------------------------------


def test_json_twin_is_the_cli_json_contract(client):
    cli = CliRunner().invoke(main, ["events", "demo-8-month", "--json", "--today", TODAY])
    assert cli.exit_code == 0
    expected = json.loads(cli.output)
    served = json.loads(client.get(f"/p/{token_of('demo-8-month')}.json").data)
    assert served["events"] == expected["events"]
    assert served["calendar"].pop("url") == f"http://localhost/p/{token_of('demo-8-month')}/"
    expected["calendar"].pop("url")
    assert served["calendar"] == expected["calendar"]


# --- tokens and the secret key ----------------------------------------------


def test_tokens_are_long_url_safe_and_differ_per_provider_and_rotation():
    first = tokens.token(b"k" * 32, "demo-8-month", 0)
    assert len(first) == 32 and first.isalnum() and first == first.lower()  # 160 bits of base32
    assert tokens.token(b"k" * 32, "demo-8-month", 0) == first
    assert tokens.token(b"k" * 32, "demo-8-month", 1) != first
    assert tokens.token(b"k" * 32, "demo-12-month", 0) != first
    assert tokens.token(b"j" * 32, "demo-8-month", 0) != first


def test_raising_rotation_stops_the_old_url_at_once(tmp_path, data):
    client = make_app(tmp_path, data).test_client()
    old = token_of("demo-annual", 0)
    assert client.get(f"/p/{old}.ics").status_code == 200
    roster = (data / "providers.csv").read_text().splitlines()
    roster[0] += ",rotation"
    roster[1:] = [line + (",1" if line.startswith("demo-annual,") else ",") for line in roster[1:]]
    rewrite(data / "providers.csv", "\n".join(roster) + "\n")
    assert client.get(f"/p/{old}.ics").status_code == 404
    assert client.get(f"/p/{old}/").status_code == 404
    assert client.get(f"/p/{token_of('demo-annual', 1)}.ics").status_code == 200
    assert client.get(f"/p/{token_of('demo-8-month', 0)}.ics").status_code == 200


def test_secret_key_is_generated_once_and_reused(tmp_path, data, monkeypatch):
    monkeypatch.delenv("CALFEED_SECRET_KEY", raising=False)
    first = make_app(tmp_path, data, CALFEED_SECRET_KEY=None)
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    assert len(key.strip()) == 64

    def links(app):
        return app.test_cli_runner().invoke(args=["links", "demo-annual"]).output

    printed = links(first)
    second = make_app(tmp_path, data, CALFEED_SECRET_KEY=None)
    assert key_file.read_text() == key
    assert links(second) == printed
    token = tokens.token(key.strip().encode(), "demo-annual", 0)
    assert f"/p/{token}/" in printed
    assert second.test_client().get(f"/p/{token}.ics").status_code == 200
    # another instance folder, another key: the old URLs mean nothing there
    other = make_app(tmp_path / "elsewhere", data, CALFEED_SECRET_KEY=None)
    assert other.test_client().get(f"/p/{token}.ics").status_code == 404


def test_logged_request_lines_carry_only_a_token_prefix(app, caplog):
    token = token_of("demo-8-month")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('%s - - [%s] %s', "127.0.0.1", "now",
                                           f'"GET /p/{token}.ics HTTP/1.1" 200 -')
    assert token not in caplog.text
    assert f"/p/{token[:6]}....ics" in caplog.text


# --- `calfeed links` --------------------------------------------------------


def test_links_prints_every_providers_private_urls(runner):
    result = runner.invoke(args=["links", "--base-url", "https://deadlines.example.org/"])
    assert result.exit_code == 0, result.output
    token = token_of("demo-8-month")
    assert (f"demo-8-month: Demo Health System (8-month progress report)\n"
            f"  page   https://deadlines.example.org/p/{token}/\n"
            f"  webcal webcal://deadlines.example.org/p/{token}.ics\n"
            f"  ics    https://deadlines.example.org/p/{token}.ics\n"
            f"  json   https://deadlines.example.org/p/{token}.json\n"
            f"  csv    https://deadlines.example.org/p/{token}.csv\n") in result.output
    for provider in ["demo-12-month", "demo-annual", "demo-state"]:
        assert f"/p/{token_of(provider)}/" in result.output


def test_links_for_one_provider_and_an_unknown_one(runner, client):
    result = runner.invoke(args=["links", "demo-state"])
    assert result.exit_code == 0
    assert "demo-8-month" not in result.output
    page = result.output.splitlines()[1].split()[-1]
    assert page == f"http://127.0.0.1:5000/p/{token_of('demo-state')}/"
    assert client.get(page.replace("http://127.0.0.1:5000", "")).status_code == 200
    unknown = runner.invoke(args=["links", "nobody"])
    assert unknown.exit_code != 0
    assert "no provider 'nobody'" in unknown.output


# --- live reload ------------------------------------------------------------


def test_broken_rules_keep_the_last_good_feed_and_the_log_says_why(tmp_path, data, caplog):
    client = make_app(tmp_path, data).test_client()
    before = client.get("/tracks/progress-8-month.ics")
    assert client.get("/healthz").json["status"] == "ok"
    rules = data / "rules.toml"
    good = rules.read_text()
    rewrite(rules, good.replace("materials-due = 2024-04-03", "materials-due = 2024-04-31"))
    with caplog.at_level(logging.ERROR, logger="calfeed"):
        during = client.get("/tracks/progress-8-month.ics")
    assert during.status_code == 200
    assert during.headers["ETag"] == before.headers["ETag"]
    assert during.data == before.data
    assert client.get("/tracks/progress-8-month.ics",
                      headers={"If-None-Match": before.headers["ETag"]}).status_code == 304
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json["status"] == "degraded"
    assert health.json["revision"] == "2026-11-21T00:00:00Z"
    assert health.json["failed_at"] is not None
    assert any(record.getMessage().startswith(f"reload refused: {rules}: line ")
               and "TOML syntax error" in record.getMessage() for record in caplog.records)
    assert b"TOML" not in health.data and str(data).encode() not in health.data
    # fixed, with a moved date (and its history, which `calfeed diff` asks for) and a later
    # revision: the new feed, a new ETag
    rewrite(rules, good.replace("materials-due = 2024-04-03,", "materials-due = { date = "
                                "2024-04-10, changes = [{ was = 2024-04-03, announced = "
                                "2024-03-20 }] },").replace(
        "revised = 2026-11-21T00:00:00Z", "revised = 2026-11-22T00:00:00Z"))
    after = client.get("/tracks/progress-8-month.ics", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert b"DTSTART;VALUE=DATE:20240410" in after.data
    health = client.get("/healthz").json
    assert health["status"] == "ok"
    assert health["revision"] == "2026-11-22T00:00:00Z"


def test_a_broken_roster_alone_is_noticed_and_its_fix_too(tmp_path, data, caplog):
    client = make_app(tmp_path, data).test_client()
    roster = data / "providers.csv"
    good = roster.read_text()
    rewrite(roster, good.replace("2024-07-31,no", "2024-02-30,no"))
    row = next(n for n, line in enumerate(good.splitlines(), 1) if "2024-07-31,no" in line)
    with caplog.at_level(logging.ERROR, logger="calfeed"):
        assert client.get(f"/p/{token_of('demo-8-month')}.ics").status_code == 200
    refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reload refused")]
    assert len(refused) == 1 and refused[0].startswith(f"reload refused: {roster}: row {row} ")
    assert client.get("/healthz").json["status"] == "degraded"
    rewrite(roster, good.replace("Demo Health System", "Demo Health System East"))
    assert client.get("/healthz").json["status"] == "ok"
    assert b"Demo Health System East" in client.get(f"/p/{token_of('demo-8-month')}/").data


def test_first_load_failing_answers_503_and_the_log_says_why(tmp_path, data, caplog):
    (data / "rules.toml").write_text("revised = \n", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="calfeed"):
        app = make_app(tmp_path, data)
    assert "TOML syntax error" in caplog.text
    client = app.test_client()
    for path in ["/", "/tracks/annual-reporting/", "/tracks/annual-reporting.ics",
                 BUILDER_8_MONTH, f"/p/{token_of('demo-8-month')}.ics"]:
        response = client.get(path)
        assert response.status_code == 503, path
        assert b"The deadline rules did not load" in response.data
        assert b"TOML" not in response.data
        assert response.headers["Retry-After"] == "60"
        assert response.headers["Cache-Control"] == "no-store"
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json == {"status": "unavailable", "revision": None, "loaded_at": None,
                           "failed_at": health.json["failed_at"]}
    # and once the file is fixed, the same app serves
    rewrite(data / "rules.toml", bundled("rules.toml").read_text())
    assert client.get("/tracks/annual-reporting.ics").status_code == 200
    assert client.get("/healthz").json["status"] == "ok"


# A roster save with problems whose lines name a provider, its name and its Next
# Decision Date (which says it has a progress report), and the server's own paths.
LEAKY_ROWS = ('hidden-clinic,Hidden Valley Clinic,2027-13-31,no,,\n'
              'named-x,"Quiet\x01Harbor Clinic",2027-07-31,maybe,,\n')
PRIVATE = ("hidden-clinic", "named-x", "Harbor Clinic", "2027-13-31", "providers.csv", "row ")
EVERY_SHAPE = ["/", "/healthz", "/tracks/annual-reporting/", "/tracks/annual-reporting.ics",
               "/tracks/annual-reporting.json", "/tracks/annual-reporting/remind-1w/",
               "/tracks/annual-reporting/remind-1w.ics",
               "/tracks/annual-reporting/events/annual-reporting/2025/program-summary.ics",
               BUILDER_8_MONTH, "/calendar.csv?next_decision_date=2024-07-31",
               f"/p/{token_of('demo-8-month')}/", f"/p/{token_of('demo-8-month')}.ics",
               f"/p/{token_of('demo-8-month')}/remind-2w2d.ics"]


def reveals(response, data) -> list[str]:
    """What of the roster's problems, or of the server's paths, an answer shows."""
    shown = response.get_data(as_text=True) + "".join(f"{k}: {v}\n" for k, v in response.headers)
    return [text for text in PRIVATE + (str(data),) if text in shown]


def test_healthz_says_degraded_and_nothing_of_the_roster_problem(tmp_path, data, caplog):
    client = make_app(tmp_path, data).test_client()
    roster = data / "providers.csv"
    rewrite(roster, roster.read_text() + LEAKY_ROWS)
    with caplog.at_level(logging.ERROR, logger="calfeed"):
        for path in EVERY_SHAPE:
            response = client.get(path)
            assert response.status_code == 200, path
            assert reveals(response, data) == [], path
    assert client.get("/healthz").json["status"] == "degraded"
    # the operator finds every problem in the log
    assert all(text in caplog.text for text in PRIVATE), caplog.text


def test_a_server_that_never_loaded_says_unavailable_and_nothing_of_why(tmp_path, data, caplog):
    roster = data / "providers.csv"
    roster.write_text(roster.read_text() + LEAKY_ROWS, encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="calfeed"):
        client = make_app(tmp_path, data).test_client()
    assert all(text in caplog.text for text in PRIVATE), caplog.text
    for path in EVERY_SHAPE + ["/nothing-here", "/calendar/?next_decision_date=2099-01-01"]:
        response = client.get(path)
        assert response.status_code in (503, 404), path
        assert reveals(response, data) == [], path
    health = client.get("/healthz")
    assert health.status_code == 503
    assert set(health.json) == {"status", "revision", "loaded_at", "failed_at"}
    assert health.json["status"] == "unavailable" and health.json["loaded_at"] is None
    # and `calfeed check` still says exactly what is wrong
    result = CliRunner().invoke(main, ["check", "--rules", str(data / "rules.toml"),
                                       "--today", TODAY])
    assert result.exit_code == 1
    assert f'{roster}: row 6 (id "hidden-clinic"), column next_decision_date: 2027-13-31 is not ' \
           f'a day on the calendar' in result.stderr


def test_a_warm_feed_is_not_rendered_again(client, monkeypatch):
    calls = []
    real = web.ical.render

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(web.ical, "render", counting)
    first = client.get("/tracks/annual-reporting.ics")
    client.get("/tracks/annual-reporting.ics")
    client.get("/tracks/annual-reporting.ics", headers={"If-None-Match": first.headers["ETag"]})
    client.get("/tracks/annual-reporting.ics?download=1&plain=1")
    assert len(calls) == 1
    client.get("/tracks/annual-reporting.ics?remind=P1D")
    assert len(calls) == 2


def test_the_feed_cache_is_bounded_by_size_and_keeps_what_is_used():
    from calfeed.serve.store import FeedCache

    cache = FeedCache(max_bytes=100)
    for n in range(3):
        cache.put(n, f"feed {n}", 30)
    cache.get(0)  # used again: kept
    cache.put(3, "feed 3", 30)
    assert cache.get(1) is None
    assert [cache.get(n) for n in (0, 2, 3)] == ["feed 0", "feed 2", "feed 3"]
    assert cache.size == 90


@pytest.mark.parametrize("choice, first", [("1w", "1 week"), ("2w2d", "2 weeks"), ("1m1w1d", "1 month")])
def test_a_reminder_page_says_what_each_app_does(client, choice, first):
    base = f"/p/{token_of('demo-12-month')}"
    page = client.get(f"{base}/remind-{choice}/").data.decode()
    feed = f"http://localhost{base}/remind-{choice}.ics"
    assert f'autocomplete="off">{feed}</textarea>' in page
    assert f'href="webcal://localhost{base}/remind-{choice}.ics"' in page
    assert f'href="{base}/remind-{choice}.ics?download=1"' in page
    assert f"keeps one reminder per event, the first: <strong>{first} before</strong>" in page
    # What the feed does (tests/test_reminders.py): a later reminder is first once the
    # earlier one's day has passed; steps due together ring once; nothing past rings.
    words = " ".join(page.split())
    assert ("once that day has passed, the calendar carries the next one instead" in words) == (
        choice != "1w")
    assert ("Steps due at the same moment, like annual reporting's five, share one reminder, on "
            "the first of them, which names them all.") in words.replace("&#39;", "'")
    assert "Nothing reminds you of a date that has passed, so no reminder shows up overdue." in words
    assert "<strong>Apple Calendar</strong> (Mac, iPhone, iPad) shows every reminder" in page
    assert "<strong>Thunderbird</strong> shows every reminder" in page
    assert "<strong>Google Calendar</strong> ignores reminders in a subscribed calendar" in page
    assert "Email reminders: the people who run this site can email your office" in page
    assert 'aria-current="page">' in page and f'href="{base}/#subscribe">No reminders</a>' in page
    assert client.get(f"{base}/remind-{choice}/").headers["Cache-Control"] == "private, max-age=300"


def test_a_page_without_reminders_still_sends_google_users_to_email(client):
    page = client.get("/tracks/annual-reporting/").data.decode()
    assert "This calendar has no reminders: pick some above" in page
    assert "Google Calendar ignores reminders in a subscribed calendar: use email reminders instead." in page
    assert "the people who run this site can email the providers on its roster" in page
