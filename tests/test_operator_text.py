"""Operator text all the way to the bytes: every text field, every output, read back.

Whatever text a coordinator puts in rules.toml or the roster — names, titles, sources,
link titles, the accreditor's name, an undated step's wording, a description — either
reaches the .ics, the JSON, the CSV and the page as written (a description's line
breaks as line breaks), or `calfeed check` refuses it with one line naming the file,
the key or row, and the character. Each output is read back with a parser calfeed does
not write it with: vobject and `ical` for the feed, `csv` for the CSV, `json` for the
JSON and html.parser for the page; the email reminder is read back from its bytes with
the standard library's MIME parser, its HTML part with html.parser and its attached
.ics with vobject.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import tomllib
import unicodedata
from datetime import date
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

import vobject
from click.testing import CliRunner
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from ical.calendar_stream import IcsCalendarStream

from calfeed import bundled
from calfeed.notify import mail, plan as notify
from calfeed.core import rules as rules_file, tokens
from calfeed.cli import main

from apps import SECRET, TODAY, make_app
from tomlwrite import toml_document

BASE = tomllib.loads(bundled("rules.toml").read_text(encoding="utf-8"))

DEEPER = int(os.environ.get("CALFEED_FUZZ_EXAMPLES", "0"))
TEXTS = settings(max_examples=DEEPER or 120, deadline=None, derandomize=not DEEPER,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])

# The 8-month cohort (the first); the second progress-report step is a dated one with
# a link, the first is undated.
TRACK = "progress-8-month"
DATED = "enter-activity-data"
# Where each text field lives, as calfeed check names it.
WHERE = {
    "provider": 'row 2 (id "fuzz"), column name',
    "track_name": "progress.cohorts[1].name",
    "source": "progress.cohorts[1].source",
    "track_link": "progress.cohorts[1].links[1].title",
    "title": "progress.steps[2].title",
    "description": "progress.steps[2].description",
    "milestone_link": "progress.steps[2].links[1].title",
    "when": "progress.steps[1].when",
    "accreditor": "accreditors.cma.name",
}
# What each output escapes or treats specially, characters that look like nothing, and
# the rest of Unicode; braces are left out (they are placeholders, tested in
# test_fuzz_rules). A description may also hold line breaks and tabs.
PRINTABLE = list(';,\\:"\'<>&=+-@ N\u00a0\u200b\u202e\ufeff\ufffe—é😀')
BREAKS = list("\n\r\t")
# Every kind of line break and control character, for the texts calfeed must refuse.
CONTROLS = list("\t\n\r\x00\x0b\x0c\x1b\x1f\x7f\x85\u2028\u2029")
OTHERS = st.characters(codec="utf-8", exclude_characters="{}",
                       exclude_categories=("Cc", "Cs", "Zl", "Zp"))


def texts_of(*specials: list[str]) -> st.SearchStrategy[str]:
    """Short texts mostly made of the given characters, with any other ones mixed in."""
    return st.text(st.one_of(st.sampled_from([c for group in specials for c in group]), OTHERS),
                   min_size=1, max_size=30)


CLEAN = {field: texts_of(PRINTABLE, BREAKS) if field == "description" else texts_of(PRINTABLE)
         for field in WHERE}
# All fields clean (they load, and the outputs are compared), or one of them with a
# control character (refused, unless it is a description's line break or tab, or
# surrounds a roster cell, which is read without its surrounding spaces).
FIELDS = st.tuples(st.fixed_dictionaries(CLEAN), st.one_of(
    st.none(), st.tuples(st.sampled_from(list(WHERE)), st.builds(
        "".join, st.lists(st.one_of(texts_of(PRINTABLE), st.sampled_from(CONTROLS)),
                          min_size=1, max_size=4).filter(lambda parts: set(parts) & set(CONTROLS)))
    ))).map(
    lambda drawn: drawn[0] | ({drawn[1][0]: drawn[1][1]} if drawn[1] else {}))
# What a spreadsheet would run as a formula; the CSV puts an apostrophe before it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def refusal(field: str, text: str) -> str | None:
    """What `calfeed check` must say about a field's text, or None if it must load.

    The README's rule: a description may hold tabs and line breaks (CRLF and CR become
    LF); every other text is one line; none holds another control character, a line or
    paragraph separator, or a backslash before N.
    """
    if field == "provider":
        text = text.strip()  # a roster cell is read without its surrounding spaces
    if field == "description":
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    elif not text.strip():
        return "empty"
    allowed = "\n\t" if field == "description" else ""
    for index, char in enumerate(text):
        if char not in allowed and unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return f"(U+{ord(char):04X}) at character {index + 1}"
    if text.startswith("\ufeff"):  # calendar files drop a leading byte-order mark
        return "(U+FEFF) at character 1"
    if "\\N" in text:
        return 'backslash before N ("\\N")'
    return None


def write_files(folder: Path, texts: dict[str, str]) -> tuple[Path, Path]:
    """The bundled rules with the texts put in place, and a roster: the provider with the
    8-month cohort, and one accredited by the CMA (whose accreditor, not ACCME, sets its
    progress-report dates: it has annual reporting only)."""
    data = copy.deepcopy(BASE)
    cohort = data["progress"]["cohorts"][0]
    assert cohort["id"] == TRACK
    cohort["name"], cohort["source"] = texts["track_name"], texts["source"]
    cohort["links"][0]["title"] = texts["track_link"]
    undated, dated = data["progress"]["steps"][0], data["progress"]["steps"][1]
    assert "when" in undated and dated["id"] == DATED
    undated["when"] = texts["when"]
    dated["title"], dated["description"] = texts["title"], texts["description"]
    dated["links"][0]["title"] = texts["milestone_link"]
    data["accreditors"]["cma"]["name"] = texts["accreditor"]
    del data["roster"]
    folder.mkdir(parents=True, exist_ok=True)
    rules = folder / "rules.toml"
    rules.write_text(toml_document(data), encoding="utf-8")
    roster = folder / "providers.csv"
    with roster.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "next_decision_date", "enduring_materials", "accreditor",
                         "email"])
        writer.writerow(["fuzz", texts["provider"], "2024-07-31", "no", "", CONTACT])
        writer.writerow(["fuzz-state", "State provider", "", "no", "cma", ""])
    return rules, roster


CONTACT = "coordinator@example.org"
# 7 days before the dated step (January 24 2024 in the 8-month table), a reminder's lead.
REMINDER_DAY = date(2024, 1, 17)


def stored(field: str, text: str) -> str:
    """The text as calfeed keeps it: a trimmed roster cell, a description's breaks as LF."""
    if field == "provider":
        return text.strip()
    if field == "description":
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


# --- reading the outputs back --------------------------------------------------------------

class Page(HTMLParser):
    """Every element of a page with its attributes, its own and its ancestors' classes, its text."""

    VOID = {"meta", "link", "br", "input", "img", "hr", "source", "wbr"}

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, dict, list[str]]] = []
        self.elements: list[tuple[str, dict, list[str], str]] = []
        self.feed(html)
        self.close()
        assert not self.open, f"unclosed elements: {[tag for tag, _, _ in self.open]}"

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append((tag, dict(attrs), []))

    def handle_endtag(self, tag):
        assert self.open and self.open[-1][0] == tag, f"</{tag}> closes {self.open[-1:]}"
        tag, attrs, chunks = self.open.pop()
        classes = [c for _, a, _ in self.open + [(tag, attrs, chunks)]
                   for c in (a.get("class") or "").split()]
        self.elements.append((tag, attrs, classes, "".join(chunks)))

    def handle_data(self, data):
        for _, _, chunks in self.open:
            chunks.append(data)

    def texts(self, tag: str, within: str | None = None) -> list[str]:
        """The text of every `tag` element (inside an element of class `within`)."""
        return [text for t, _, classes, text in self.elements
                if t == tag and (within is None or within in classes)]


def read_feed(body: bytes) -> dict:
    """What two independent iCalendar parsers read from a feed, and that they agree."""
    by_vobject = vobject.readOne(body.decode("utf-8"))
    by_ical = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    events = {e.uid.value: e for e in by_vobject.contents["vevent"]}
    for event in by_ical.events:
        # ical splits CATEGORIES on escaped commas too, so only vobject's are compared
        assert (event.summary, event.description) == (
            events[event.uid].summary.value, events[event.uid].description.value)
    assert by_ical.name == [by_vobject.contents["name"][0].value]
    assert by_ical.description == [by_vobject.contents["description"][0].value]
    return {"calendar": by_vobject, "events": events}


def check_outputs(client, texts: dict[str, str]) -> None:
    """Every output of the provider's calendar carries every text as calfeed keeps it."""
    t = {field: stored(field, text) for field, text in texts.items()}
    token = tokens.token(SECRET.encode(), "fuzz", 0)
    uid = f"fuzz/{TRACK}/2023-11/{DATED}@calfeed"
    undated_uid = f"fuzz/{TRACK}/2023-11/review-fee@calfeed"
    state_token = tokens.token(SECRET.encode(), "fuzz-state", 0)
    cma_uid = "fuzz-state/annual-reporting/2024/annual-agreement@calfeed"
    name = f"{t['provider']} — ACCME deadlines"
    links = f"{t['milestone_link']}: https://pars.accme.org/"
    track_links = f"{t['track_link']}: https://www.accme.org/progress-reports"

    answers = {fmt: client.get(f"/p/{token}{fmt}") for fmt in (".ics", ".json", ".csv", "/")}
    for fmt, answer in answers.items():
        assert answer.status_code == 200, (fmt, answer.data[-2000:])

    feed = read_feed(answers[".ics"].data)
    calendar, events = feed["calendar"], feed["events"]
    assert calendar.contents["name"][0].value == name
    assert calendar.contents["x-wr-calname"][0].value == name
    description = calendar.contents["description"][0].value
    assert description.startswith(f"ACCME deadlines for {t['provider']}: {t['track_name']}; ")
    assert f"Provider remits the progress report review fee ({t['when']})" in description
    assert calendar.contents["x-wr-caldesc"][0].value == description
    event = events[uid]
    assert event.summary.value == t["title"]
    assert event.description.value.startswith(t["description"] + "\n\nWho acts: the provider")
    assert f"\n\n{links}\n{track_links}\nThis calendar: " in event.description.value
    assert event.categories.value == [t["track_name"]]
    cma = read_feed(client.get(f"/p/{state_token}.ics").data)["events"][cma_uid]
    # the accreditor's own deadline: a whole day (2025-03-14 for data year 2024)
    assert cma.summary.value == (
        f"Accept the terms of the ACCME annual agreement — {t['accreditor']} deadline")
    assert f"Recognized Accreditor, the {t['accreditor']}, which reviews" in cma.description.value

    served = json.loads(answers[".json"].data)
    assert served["calendar"]["name"] == name
    # the feed's description adds the undated steps, which the JSON lists as events
    assert description.startswith(served["calendar"]["description"] + " Not in this calendar")
    by_uid = {e["uid"]: e for e in served["events"]}
    assert by_uid[uid]["title"] == t["title"]
    assert by_uid[uid]["description"] == t["description"]
    assert by_uid[uid]["track_name"] == t["track_name"]
    assert [link["title"] for link in by_uid[uid]["links"]] == [t["milestone_link"],
                                                                t["track_link"]]
    assert by_uid[undated_uid]["when"] == t["when"]
    state = {e["uid"]: e for e in json.loads(client.get(f"/p/{state_token}.json").data)["events"]}
    assert state[cma_uid]["title"] == cma.summary.value

    rows = {row["uid"]: row for row in csv.DictReader(io.StringIO(answers[".csv"].data.decode(
        "utf-8-sig"), newline=""))}

    def cell(text: str) -> str:
        return "'" + text if text.startswith(FORMULA_START) else text

    assert rows[uid]["Step"] == cell(t["title"])
    assert rows[uid]["Details"] == cell(t["description"])
    assert rows[undated_uid]["When"] == cell(t["when"])

    page = Page(answers["/"].data.decode("utf-8"))
    assert page.texts("h1") == [t["provider"]]
    assert page.texts("title") == [f"{t['provider']} · calfeed"]
    assert t["title"] in page.texts("h4")
    assert t["track_name"] in page.texts("strong")
    assert t["track_name"] in page.texts("span", within="meta")
    assert any(t["source"] in text for text in page.texts("p", within="sources"))
    assert t["milestone_link"] in page.texts("a", within="links")
    assert t["track_link"] in page.texts("a", within="links")
    # listed apart, or with its cohort in the fold of past dates once the cohort is over
    assert any(t["when"] in text for text in
               page.texts("div", within="undated") + page.texts("div", within="archive"))
    # A blank line starts a paragraph; a single line break stays in its paragraph, and
    # the page shows it as one (white-space: pre-line).
    paragraphs = [p.strip() for p in t["description"].split("\n\n") if p.strip()]
    texts = page.texts("p", within="text")
    for paragraph in paragraphs:
        assert paragraph in texts, (paragraph, texts)


def unspaced(text: str) -> str:
    """Text without its whitespace: the plain part wraps lines and HTML collapses spaces."""
    return "".join(text.split())


def check_email(rules: Path, roster: Path, texts: dict[str, str]) -> None:
    """The reminder email for the dated step carries every text it shows, in every part."""
    t = {field: stored(field, text) for field, text in texts.items()}
    loaded = rules_file.load(rules, roster, today=REMINDER_DAY)
    plan = notify.plan(loaded, REMINDER_DAY, {}, set())
    (message,) = [m for m in plan.messages if m.recipient == CONTACT]
    composed = mail.compose(message, loaded, "Deadlines <deadlines@example.org>",
                            {"fuzz": "https://cme.example.org/p/fuzz/"})
    parsed = BytesParser(policy=policy.default).parsebytes(composed.as_bytes())
    assert parsed["To"] == CONTACT
    assert t["title"] in parsed["Subject"] and "January 24, 2024" in parsed["Subject"]
    plain = unspaced(parsed.get_body(("plain",)).get_content())
    for field in ("provider", "title", "milestone_link", "track_link"):
        assert unspaced(t[field]) in plain, field
    for paragraph in t["description"].split("\n\n"):
        assert unspaced(paragraph) in plain
    html = Page(parsed.get_body(("html",)).get_content())
    assert t["title"] in html.texts("strong")
    assert t["milestone_link"] in html.texts("a")
    assert unspaced(t["description"]) in unspaced("".join(html.texts("p")))
    (attached,) = [part for part in parsed.iter_attachments()
                   if part.get_content_type() == "text/calendar"]
    event = vobject.readOne(attached.get_content()).contents["vevent"][0]
    assert event.summary.value == t["title"]
    assert event.description.value.startswith(t["description"] + "\n\nWho acts: the provider")


# --- the property --------------------------------------------------------------------------

def app_on(folder: Path, rules: Path, roster: Path):
    """An app on the example's files."""
    return make_app(folder, CALFEED_RULES=str(rules), CALFEED_PROVIDERS=str(roster))


@TEXTS
@given(texts=FIELDS)
@example(texts={  # what the issue found: a spreadsheet's Alt+Enter, and TEXT's specials
    "provider": "Line one\nLine two", "track_name": "Track; with, specials\\",
    "source": "Source", "track_link": "Guide", "title": "T", "description": "D",
    "milestone_link": "PARS", "when": "W", "accreditor": "CMA"})
@example(texts={field: f"{field}; a, b\\ c: \"q\" <b>&amp;</b> é😀" for field in WHERE} | {
    "description": "First line\nsecond line\r\nthird\rfourth\n\nA paragraph\twith a tab"})
def test_every_text_reaches_every_output_or_is_refused_by_name(folder, texts):
    rules, roster = write_files(folder, texts)
    expected = {field: refusal(field, text) for field, text in texts.items()}
    result = CliRunner().invoke(main, ["check", "--rules", str(rules), "--providers", str(roster)])
    refused = {field: why for field, why in expected.items() if why}
    event("refused" if refused else "loaded")  # --hypothesis-show-statistics
    assert "Traceback" not in result.output
    if refused:
        assert result.exit_code == 1, result.output
        lines = result.output.strip().split("\n")
        assert len(lines) == len(refused), result.output
        for field, why in refused.items():
            path = roster if field == "provider" else rules
            line = next((l for l in lines if l.startswith(f"{path}: {WHERE[field]}: ")), None)
            assert line is not None, (field, result.output)
            assert why in line if why != "empty" else ("empty" in line), line
            assert line.endswith(")") and "(expected " in line and line.isprintable(), line
        return
    assert result.exit_code == 0, result.output
    check_outputs(app_on(folder, rules, roster).test_client(), texts)
    check_email(rules, roster, texts)


# --- the static build --------------------------------------------------------------------

def test_the_static_build_carries_hostile_text_faithfully(tmp_path):
    texts = {field: f"{field}; a, b\\ c: \"q\" <i>&amp;</i> =1 é😀" for field in WHERE}
    texts["description"] = "=First line\nsecond; line, with \\ backslash\n\nA paragraph\twith a tab"
    rules, roster = write_files(tmp_path / "data", texts)
    site = tmp_path / "site"
    result = CliRunner().invoke(main, [
        "build", str(site), "--rules", str(rules), "--providers", str(roster),
        "--base-url", "https://cme.example.org", "--today", TODAY],
        env={"CALFEED_SECRET_KEY": SECRET, "CI": "1"})
    assert result.exit_code == 0, result.output
    token = tokens.token(SECRET.encode(), "fuzz", 0)

    class Static:
        """The built files, answered like the app's client answers."""

        def get(self, url: str):
            path = site / url.strip("/") / "index.html" if url.endswith("/") else site / url[1:]
            return type("Answer", (), {"status_code": 200, "data": path.read_bytes()})

    check_outputs(Static(), texts)
    ics = (site / "p" / f"{token}.ics").read_bytes().decode("utf-8")
    assert "\r\nNAME:provider\\; a\\, b\\\\ c: " in ics.replace("\r\n ", "")  # TEXT-escaped


# --- the roster's bytes ------------------------------------------------------------------

HEADER = b"id,name,next_decision_date,enduring_materials,accreditor\r\n"
GOOD_ROW = b"demo-annual,Demo Institute,,yes,\r\n"


def roster_problems(tmp_path: Path, data: bytes) -> list[str]:
    """What calfeed check says about a roster's bytes, the file name cut off."""
    roster = tmp_path / "providers.csv"
    roster.write_bytes(data)
    result = CliRunner().invoke(main, ["check", "--providers", str(roster)])
    assert "Traceback" not in result.output
    return [line.removeprefix(f"{roster}: ") for line in result.output.strip().split("\n")]


def test_a_line_break_inside_a_spreadsheet_cell_is_refused_by_row_and_character(tmp_path):
    # Excel writes Alt+Enter inside a cell as a quoted LF (CRLF between rows)
    assert roster_problems(tmp_path, HEADER + GOOD_ROW + b'evil,"Line one\nLine two",,no,\r\n') == [
        'row 3 (id "evil"), column name: line break (U+000A) at character 9 in '
        '"Line one\\nLine two" (expected text on one line, without line breaks or other '
        "control characters)"]


def test_a_bare_cr_inside_a_quoted_cell_is_refused_by_row_and_character(tmp_path):
    assert roster_problems(tmp_path, HEADER + b'evil,"Name\rwith CR",,no,\r\n' + GOOD_ROW) == [
        'row 2 (id "evil"), column name: carriage return (U+000D) at character 5 in '
        '"Name\\rwith CR" (expected text on one line, without line breaks or other control '
        "characters)"]


def test_a_bare_cr_outside_quotes_is_reported_at_its_row_and_the_next_rows_still_read(tmp_path):
    found = roster_problems(tmp_path, HEADER + b"evil,Name\rwith CR,,no,\r\n" + GOOD_ROW
                            + b"elsewhere,Elsewhere,,no,nope\r\n")
    assert found == [
        "row 2: carriage return (U+000D) inside the row, outside quotes (expected each row on "
        "one line ending in LF or CRLF; save the file again as CSV)",
        'row 4 (id "elsewhere"), column accreditor: unknown accreditor "nope" (expected one '
        "of: cma, or empty for ACCME)"]


def test_a_latin1_roster_names_the_row_the_column_and_the_byte(tmp_path):
    data = HEADER + GOOD_ROW + "cafe,Café Médical,,no,\r\n".encode("latin-1")
    at = data.index(b"\xe9")
    assert roster_problems(tmp_path, data) == [
        f"row 3, column name: byte 0xE9 (é in Windows-1252) at byte {at} is not UTF-8 "
        '(expected a UTF-8 file: save it from the spreadsheet as "CSV UTF-8 (Comma delimited)")']


def test_a_utf16_roster_is_named_as_such(tmp_path):
    data = (HEADER + GOOD_ROW).decode().encode("utf-16")
    assert roster_problems(tmp_path, data) == [
        'file: a UTF-16 file (Excel\'s "Unicode Text") (expected a UTF-8 file: save it as '
        '"CSV UTF-8 (Comma delimited)")']


def test_a_quote_that_never_closes_is_named_with_its_column(tmp_path):
    assert roster_problems(tmp_path, HEADER + b'evil,"Unclosed,,no,\r\n' + GOOD_ROW) == [
        'row 2: 2 cells; the quoted cell in column name runs over 2 lines (a " that never '
        "closes?) (expected 5 cells, one per column of the header)"]


def test_a_rules_file_in_latin1_names_the_line_and_column(tmp_path):
    rules = tmp_path / "rules.toml"
    text = (Path(__file__).parents[1] / "rules.toml").read_text(encoding="utf-8")
    rules.write_bytes(text.replace('name = "California Medical Association"',
                                   'name = "Asociación Médica"').encode("utf-8", "strict")
                      .replace("ó".encode(), b"\xf3"))
    data = rules.read_bytes()
    line = next(n for n, l in enumerate(data.split(b"\n"), 1) if b"\xf3" in l)
    at = data.index(b"\xf3")
    result = CliRunner().invoke(main, ["check", "--rules", str(rules)])
    # `name = "Asociaci` is 16 characters: the byte is the 17th
    assert result.output == (
        f"{rules}: line {line}, column 17: byte 0xF3 (ó in Windows-1252) at byte {at} is not "
        "UTF-8 (expected a UTF-8 file: save it as UTF-8)\n")
