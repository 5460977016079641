"""Whatever a browser, a calendar client or a scanner sends, the answer is never a 500:
every query parameter and every path segment, fuzzed; and the limits
(reminders, the window of years, file sizes) refuse with a message.

The rules and roster fuzzing is in tests/core/test_rules_fuzz.py; this file is about the web app.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calfeed.core import rules, tokens

from apps import SECRET, make_app

ANSWERS = {200, 301, 302, 304, 308, 400, 404, 405}
FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PROVIDERS = ("demo-8-month", "demo-12-month", "demo-annual", "demo-state")
TOKENS = tuple(tokens.token(SECRET.encode(), p, 0) for p in PROVIDERS)
PARAMETERS = ("next_decision_date", "enduring_materials", "accreditor", "remind", "download",
              "plain")
# Values the app knows, near misses, and the usual attacks.
KNOWN_VALUES = (
    "", " ", "yes", "no", "YES", "1", "0", "true", "off", "maybe", "none", "None",
    "2024-07-31", "2024-11-30", "2024-7-31", "2024-02-30", "20240731", "2024-07-31T00:00",
    "9999-12-31", "0000-01-01", "-1", "cma", "CMA", "accme", "texas", "../cma",
    "P14D,P2D", "PT12H", "P1D,P2D,P3D", "P1D,P2D,P3D,P4D", "P1Y", "P1M", "-P1D", "P0D", "P",
    "PT", "P367D", "P366D", "P52W", "PT" + "9" * 400 + "S", "P1D," * 500,
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "%00", "\x00", "\r\nX: y",
    "é", "\u202e", "\ufeff", "𝟚𝟘𝟚𝟜-𝟘𝟟-𝟛𝟙", "٢٠٢٤-٠٧-٣١",
)
VALUES = st.one_of(
    st.sampled_from(KNOWN_VALUES),
    st.text(max_size=30),
    st.text(alphabet="P0123456789DTHMSW,-+. ", max_size=25),
    # huge values: a long run of one character or of a valid-looking piece
    st.builds(lambda piece, count: piece * count,
              st.sampled_from(["a", "9", "%", "é", "P1D,", "yes", "2024-07-31,"]),
              st.integers(1_000, 20_000)),
)
NAMES = st.one_of(st.sampled_from(PARAMETERS), st.text(max_size=15),
                  st.sampled_from(["", "remind[]", "download ", "PLAIN", "a" * 3000]))
QUERIES = st.lists(st.tuples(NAMES, VALUES), max_size=6)

FORMATS = ("ics", "json", "csv")
KNOWN_SEGMENTS = (
    "", ".", "..", "%2e%2e", "%2E%2E%2F", "..%2f..%2fetc", "%2F", "%00", "%", "%zz", "%ff%fe",
    "%C3%A9", "%E2%80%AE", "annual-reporting", "progress-8-month", "progress-12-month",
    "ANNUAL-REPORTING", "2025", "2023-11", "program-summary", "decision", "events", "static",
    "style.css", "index.html", "a" * 5000, "%41" * 2000, "0" * 200,
) + TOKENS + tuple(t.upper() for t in TOKENS) + tuple(t + "x" for t in TOKENS) + tuple(
    t[:-1] for t in TOKENS)


def _as_segment(text: str, encode: bool) -> str:
    """Free text as a path segment: percent-encoded whole, or raw minus the URL's delimiters."""
    if encode:
        return quote(text, safe="")
    return "".join(c for c in text if c not in "/?#%")


SEGMENTS = st.one_of(
    st.sampled_from(KNOWN_SEGMENTS),
    st.builds(_as_segment, st.text(max_size=40), st.booleans()),
    st.builds(lambda s, n: s * n, st.sampled_from(["a", "..%2f", "%00"]), st.integers(100, 3000)),
)
SHAPES = (
    "/{0}", "/{0}/{1}", "/tracks/{0}/", "/tracks/{0}", "/tracks/{0}.{f}", "/tracks/{0}/{1}",
    "/tracks/{0}/events/{1}/{2}/{3}.ics", "/tracks/annual-reporting/events/{1}/{2}/{3}.ics",
    "/calendar/{0}", "/calendar.{0}", "/calendar/events/{1}/{2}/{3}.ics", "/p/{0}/", "/p/{0}",
    "/p/{0}.{f}", "/p/{0}/{1}", "/p/{0}/events/{1}/{2}/{3}.ics", "/p/{0}/events/annual-reporting/{2}/{3}.ics",
    "/static/{0}", "/healthz/{0}", "/{0}/../{1}",
)


@st.composite
def paths(draw) -> str:
    """A path of one of the app's shapes (and some of none) with fuzzed segments."""
    shape = draw(st.sampled_from(SHAPES))
    segments = [draw(SEGMENTS) for _ in range(4)]
    path = shape.format(*segments, f=draw(st.sampled_from(FORMATS + ("html", "ICS", ""))))
    if draw(st.booleans()):
        path += draw(st.sampled_from(["/", "//", "/.", "?", "#x", "%2F"]))
    return path


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """One app for every example: a test client on the bundled rules and demo roster."""
    folder = tmp_path_factory.mktemp("fuzz")
    return make_app(folder, TESTING=False).test_client()


def check(response, what: str) -> None:
    """An answer calfeed means to give: a known status, the safety headers, errors never cached."""
    assert response.status_code in ANSWERS, (what, response.status_code, response.data[:2000])
    if response.status_code >= 400:
        assert response.headers["Cache-Control"] == "no-store", what
    assert response.headers["X-Content-Type-Options"] == "nosniff", what
    assert response.headers["Referrer-Policy"] == "no-referrer", what


FEEDS = ("/calendar/", "/calendar.ics", "/calendar.json", "/calendar.csv",
         "/tracks/annual-reporting.ics", "/tracks/progress-8-month/",
         f"/p/{TOKENS[0]}.ics", f"/p/{TOKENS[3]}/", f"/p/{TOKENS[1]}.csv",
         "/calendar/events/annual-reporting/2025/program-summary.ics",
         f"/p/{TOKENS[2]}/events/annual-reporting/2025/program-summary.ics")


@FUZZ
@given(path=st.sampled_from(FEEDS), query=QUERIES)
def test_any_query_parameters_are_answered_never_a_500(client, path, query):
    string = urlencode(query)
    check(client.get(path, query_string=string), f"{path}?{string[:300]}")


@FUZZ
@given(path=st.sampled_from(FEEDS), raw=st.text(max_size=60))
def test_any_raw_query_string_is_answered(client, path, raw):
    # not encoded by anyone: stray %, &&, =, unicode, NUL, as a scanner sends them; a WSGI
    # server hands the bytes on as latin-1 text
    wire = raw.encode("utf-8", "surrogatepass").decode("latin-1")
    check(client.get(path, query_string=wire), f"{path}?{raw!r}")


@FUZZ
@given(path=paths(), method=st.sampled_from(["GET", "GET", "HEAD", "POST", "OPTIONS"]))
def test_any_path_is_answered_never_a_500(client, path, method):
    # An absolute URL, because the test client reads a path that starts with "//" as a
    # host; an HTTP server gets the same bytes as a path, and so must the app here.
    check(client.open("http://localhost" + path, method=method), f"{method} {path[:300]}")


@FUZZ
@given(path=st.sampled_from(FEEDS), etag=st.text(max_size=50), since=st.text(max_size=40),
       accept=st.text(max_size=30))
def test_any_conditional_headers_are_answered(client, path, etag, since, accept):
    def clean(value: str) -> str:
        return "".join(c for c in value if c.isprintable() and ord(c) < 256)

    headers = {"If-None-Match": clean(etag), "If-Modified-Since": clean(since),
               "Accept": clean(accept)}
    check(client.get(path, headers=headers), f"{path} {headers!r}")


@pytest.mark.parametrize("path", ["/calendar/", "/calendar.ics", "/calendar.json", "/calendar.csv",
                                  "/calendar/events/annual-reporting/2025/program-summary.ics",
                                  "/calendar/remind-1w/", "/calendar/remind-1w.ics"])
def test_a_repeated_builder_answer_is_refused_on_every_format(client, path):
    # which of two Next Decision Dates was meant cannot be known: never the first silently
    for query in ["next_decision_date=2027-07-31&next_decision_date=2027-11-30",
                  "accreditor=cma&accreditor=cma", "enduring_materials=yes&enduring_materials=no"]:
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == 400, (path, query)
        name = query.split("=")[0]
        assert f"{name}: given twice".encode() in answer.data, answer.data


@pytest.mark.parametrize("path", ["/tracks/annual-reporting.ics", "/tracks/annual-reporting.json",
                                  f"/p/{TOKENS[0]}.csv", "/calendar.ics"])
def test_a_repeated_feed_option_is_refused(client, path):
    for query in ["remind=P1D&remind=P2D", "download=1&download=1", "plain=1&plain=0"]:
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == 400, (path, query)
        assert answer.data.startswith(b"400 Bad Request\n" + query.split("=")[0].encode()
                                      + b": given twice (")


# --- limits -----------------------------------------------------------------


def test_too_many_reminders_are_refused_with_a_message(client):
    response = client.get("/tracks/annual-reporting.ics?remind=P1D,P2D,P3D,P4D")
    assert response.status_code == 400
    assert "4 durations are too many" in response.data.decode()
    # the same duration written three ways is one reminder, not three
    assert client.get("/tracks/annual-reporting.ics?remind=P1D,PT24H,P1D,P2D,P3D"
                      ).status_code == 200


def test_a_reminder_too_long_is_refused_with_a_message(client):
    response = client.get("/tracks/annual-reporting.ics?remind=P367D")
    assert response.status_code == 400
    assert "'P367D' is longer than a year" in response.data.decode()
    assert client.get("/tracks/annual-reporting.ics?remind=P366D").status_code == 200
    huge = client.get("/tracks/annual-reporting.ics?remind=P" + "9" * 5000 + "D")
    assert huge.status_code == 400
    assert "is not an ISO 8601 duration" in huge.data.decode()


@pytest.mark.parametrize("today", ["2201-01-01", "9998-06-01", "9999-12-31", "1899-12-31",
                                   "0001-01-01"])
def test_a_pinned_today_outside_the_supported_years_is_refused_at_start(tmp_path, today):
    # Data years run from the track's first cycle to two deadlines after "today": a today
    # in year 9998 would ask for year 10000, which no date can hold.
    with pytest.raises(ValueError, match=f"CALFEED_TODAY: '{today}' is out of range "
                                         f"\\(expected a date in the years 1900-2200\\)"):
        make_app(tmp_path, CALFEED_TODAY=today)


def test_the_last_supported_today_gives_a_bounded_feed(tmp_path):
    client = make_app(tmp_path, CALFEED_TODAY="2200-12-31").test_client()
    feed = client.get("/tracks/annual-reporting.json")
    assert feed.status_code == 200
    years = {int(event["cycle"]) for event in feed.json["events"]}
    # first_cycle = 2023 in rules.toml, to two deadlines after today (data year 2201 is
    # due in 2202): the window is bounded by the supported years, not unbounded
    assert years == set(range(2023, 2202))


def _grow(path: Path, size: int) -> None:
    """Make a file `size` bytes long (sparse: no disk is spent on it) with a new mtime."""
    with path.open("r+b") as handle:
        handle.truncate(size)


def refused(caplog) -> list[str]:
    """The problems a refused reload logged."""
    return [record.getMessage().removeprefix("reload refused: ") for record in caplog.records
            if record.getMessage().startswith("reload refused: ")]


def test_a_rules_file_too_large_is_refused_and_the_last_good_data_kept(tmp_path, data, caplog):
    client = make_app(tmp_path, data).test_client()
    before = client.get("/tracks/annual-reporting.ics")
    rules_file = data / "rules.toml"
    # a valid file, padded past the limit with a comment
    rules_file.write_text(rules_file.read_text() + "#" + "x" * rules.MAX_RULES_BYTES + "\n")
    with caplog.at_level(logging.ERROR, logger="calfeed"):
        after = client.get("/tracks/annual-reporting.ics")
    assert after.status_code == 200 and after.data == before.data
    assert after.headers["ETag"] == before.headers["ETag"]
    assert client.get("/healthz").json["status"] == "degraded"
    assert refused(caplog) == [f"{rules_file}: file: larger than 1024 KiB (expected at most "
                               f"1024 KiB)"]


def test_a_roster_too_large_is_refused_and_the_last_good_data_kept(tmp_path, data, caplog):
    client = make_app(tmp_path, data).test_client()
    token = tokens.token(SECRET.encode(), "demo-annual", 0)
    before = client.get(f"/p/{token}.ics")
    assert before.status_code == 200
    roster = data / "providers.csv"
    _grow(roster, rules.MAX_ROSTER_BYTES + 1)
    with caplog.at_level(logging.ERROR, logger="calfeed"):
        after = client.get(f"/p/{token}.ics")
    assert after.status_code == 200 and after.data == before.data
    assert client.get("/healthz").json["status"] == "degraded"
    assert refused(caplog) == [f"{roster}: file: larger than 16384 KiB (expected at most "
                               f"16384 KiB)"]
