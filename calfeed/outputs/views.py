"""What the page templates get: a calendar's events as dated, grouped, worded views.

Pure: the web layer passes the data, the calendars, their events, today and the site's
address. An event carries all its view needs; only the page-level functions read the
rules, for the builder's form and the accreditor's note.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from calfeed.core import engine, reminders, wording
from calfeed.core.calendars import BadParameter, Subject, webcal
from calfeed.core.dates import progress_fields
from calfeed.core.model import Calendar, Day, Event, Link, Month, PerCohort, Rules, Track
from calfeed.core.rules import first_ndd, last_ndd, ndd_accepted
from calfeed.core.rules import ndd as ndd_rules
from calfeed.core.rules import reported
from calfeed.core.rules.checks import field_date

# Steps further ahead than this fold their full text on a page (the first one never
# does), so the next few months read at a glance and a year ahead is a list of titles.
TEXT_AHEAD = timedelta(days=60)
# A move announced this many days ago or less is news: pages flag it.
RECENT_DAYS = 30


@dataclass(frozen=True)
class EventView:
    """An event as the page shows it: its date in words, its text, its own .ics."""

    event: Event
    title: str  # with its caveats: "… (estimated)"
    when: str
    iso: str | None
    day: date | None  # the local date, for grouping and "past"
    past: bool
    actor: str
    paragraphs: tuple[str, ...]
    links: tuple[Link, ...]
    ics: str | None
    # "Moved: was …; announced …", newest first, then "Published by ACCME: replaces …"
    moves: tuple[str, ...] = ()
    recent: bool = False  # a move announced in the last 30 days


@dataclass(frozen=True)
class SlotView:
    """The steps due at one moment (annual reporting has five), shown under one date.

    Text and links that every step repeats (an accreditor's note, PARS) are
    shown once for the slot instead of once per step.
    """

    when: str
    iso: str | None
    day: date | None
    past: bool
    steps: tuple[EventView, ...]
    shared: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    moves: tuple[str, ...] = ()  # a move every step shares (a data year's deadline), said once
    folded: bool = False  # the steps' full text behind a "Full text and links" fold


@dataclass(frozen=True)
class MonthView:
    """The slots of one month."""

    label: str
    slots: tuple[SlotView, ...]
    past: bool


@dataclass(frozen=True)
class CycleView:
    """The passed steps of one data year or cohort, under one heading in the fold."""

    label: str
    slots: tuple[SlotView, ...]


@dataclass(frozen=True)
class Timeline:
    """A page's steps in the order a coordinator needs them: what is ahead, then the past.

    Only `upcoming` and `undated` are shown open, and both hold at most the data years
    and cohorts still running, so a page does not grow as the years go by; `past` is
    folded away, newest first.
    """

    upcoming: tuple[MonthView, ...]
    undated: tuple[SlotView, ...]
    past: tuple[CycleView, ...]
    passed: int  # how many steps are in the fold


@dataclass(frozen=True)
class NextView:
    """The next thing the reader must do, how far off it is, and how many steps share its day."""

    view: EventView
    days: int
    left: str
    others: int
    moved: str | None = None  # its move, when that was announced in the last 30 days


@dataclass(frozen=True)
class RecentView:
    """Steps whose date moved in the last 30 days: where they are now, and the move."""

    when: str
    iso: str | None
    move: str
    titles: tuple[str, ...]


def changed_recently(event: Event, today: date, days: int = RECENT_DAYS) -> bool:
    """Whether a move of the event was announced within the last `days` days.

    An announcement known only by its month counts while any day of that month does.
    """
    for change in event.changes:
        first, last = change.announced_days()
        if first <= today and last >= today - timedelta(days=days):
            return True
    return False


def event_view(event: Event, today: date, subject: Subject) -> EventView:
    """One event as the page shows it."""
    start = event.start
    day = start.date() if isinstance(start, datetime) else start
    iso = None
    if start is not None:
        iso = start.isoformat()[:7] if event.precision == "month" else start.isoformat()
    paragraphs = tuple(p.strip() for p in event.description.split("\n\n") if p.strip())
    moves = tuple(wording.change_words(c, start, event.precision) for c in reversed(event.changes))
    # The estimate its publication replaced: older than any move, so said last.
    replaced = wording.replaced_words(event)
    moves += (replaced,) if replaced else ()
    return EventView(event, wording.title(event), wording.when(event), iso, day,
                     event.passed(today),
                     wording.actor_label(event.actor, you=subject.kind != "track"),
                     paragraphs, event.links, subject.event(event) if start is not None else None,
                     moves, changed_recently(event, today))


def _slot(views: list[EventView]) -> SlotView:
    """Steps due at the same moment, with what they all repeat taken out once."""
    first = views[0]
    if len(views) == 1:
        return SlotView(first.when, first.iso, first.day, first.past, (first,))
    # A step's first paragraph is its own text, never hoisted, so no step is left empty.
    shared = tuple(p for p in first.paragraphs[1:] if all(p in v.paragraphs[1:] for v in views))
    links = tuple(l for l in first.links if all(l in v.links for v in views))
    moves = first.moves if all(v.moves == first.moves for v in views) else ()
    steps = tuple(
        replace(v, paragraphs=v.paragraphs[:1] + tuple(p for p in v.paragraphs[1:] if p not in shared),
                links=tuple(l for l in v.links if l not in links),
                moves=() if moves else v.moves)
        for v in views)
    return SlotView(first.when, first.iso, first.day, all(v.past for v in views), steps,
                    shared, links, moves)


def slots(views: list[EventView]) -> list[SlotView]:
    """Consecutive events at the same moment, grouped."""
    groups: list[list[EventView]] = []
    for view in views:
        if view.day is not None and groups and groups[-1][0].event.start == view.event.start \
                and groups[-1][0].event.precision == view.event.precision:
            groups[-1].append(view)
        else:
            groups.append([view])
    return [_slot(g) for g in groups]


def months(dated: list[SlotView]) -> list[MonthView]:
    """Dated slots grouped by month, in order."""
    found: list[MonthView] = []
    for slot in dated:
        assert slot.day is not None
        label = wording.month_year(slot.day)
        if found and found[-1].label == label:
            last = found[-1]
            found[-1] = MonthView(label, last.slots + (slot,), last.past and slot.past)
        else:
            found.append(MonthView(label, (slot,), slot.past))
    return found


def timeline(views: list[EventView], today: date) -> Timeline:
    """Upcoming steps by month, the undated steps still open, and the passed ones by cycle."""
    def cycle(view: EventView) -> tuple[str, str]:
        return (view.event.track, view.event.cycle)

    dated = [v for v in views if v.day is not None]
    running = {cycle(v) for v in dated if not v.past}
    # A cycle whose every date has passed takes its undated steps (a fee "due upon
    # receipt of invoice") into the fold with it.
    finished = {cycle(v) for v in dated} - running
    gone: dict[tuple[str, str], list[EventView]] = {}
    for view in views:
        if view.past or (view.day is None and cycle(view) in finished):
            gone.setdefault(cycle(view), []).append(view)
    # Newest first: last year's steps are the ones a coordinator looks back for.
    order = sorted(gone, key=lambda k: max((v.day for v in gone[k] if v.day), default=date.min),
                   reverse=True)
    past = tuple(CycleView(wording.schedule(gone[k][0].event), tuple(slots(gone[k])))
                 for k in order)
    ahead = []
    for i, s in enumerate(slots([v for v in dated if not v.past])):
        assert s.day is not None  # the slots of dated steps
        ahead.append(replace(s, folded=i > 0 and s.day > today + TEXT_AHEAD))
    return Timeline(
        upcoming=tuple(months(ahead)),
        undated=tuple(slots([v for v in views if v.day is None and cycle(v) not in finished])),
        past=past, passed=sum(len(g) for g in gone.values()))


def next_step(views: list[EventView], today: date) -> NextView | None:
    """The next thing the provider must do, with the days left and what else falls that day."""
    upcoming = [v for v in views if v.day is not None and not v.past]
    if not upcoming:
        return None
    mine = [v for v in upcoming if v.event.actor != "accme"] or upcoming
    first = mine[0]
    same = [v for v in mine if v.event.start == first.event.start]
    assert first.day is not None  # upcoming steps are dated
    days = (first.day - today).days
    left = wording.days_left(days, first.event.precision, first.day)
    # A move of the next deadline announced lately is said in the box itself.
    moved = next((v for v in same if v.recent), None)
    return NextView(first, days, left, len(same) - 1, moved.moves[0] if moved else None)


def recent(views: list[EventView]) -> list[RecentView]:
    """Steps whose date moved in the last 30 days, the steps of one move together."""
    groups: dict[tuple[str, str], list[EventView]] = {}
    for view in views:
        if view.recent:
            groups.setdefault((view.when, view.moves[0]), []).append(view)
    return [RecentView(when, group[0].iso, move, tuple(v.title for v in group))
            for (when, move), group in groups.items()]


def subscribe_links(ics_url: str, name: str) -> dict[str, str]:
    """The one-click subscribe links of the big calendar services."""
    feed = webcal(ics_url)
    add = f"url={quote(ics_url, safe='')}&name={quote(name, safe='')}"
    return {
        "webcal": feed,
        "google": "https://calendar.google.com/calendar/r?cid=" + quote(feed, safe=""),
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?" + add,
        "office": "https://outlook.office.com/calendar/0/addfromweb?" + add,
    }


@dataclass(frozen=True)
class DateField:
    """One step's field in "Dates from your decision report": a date, or a month."""

    id: str  # the step's id: its parameter
    label: str  # the step's wording
    type: str  # "date" or "month", as calfeed's date for the step is a day or a month
    value: str  # the coordinator's date, else calfeed's
    calfeed: str | None  # calfeed's own date for the step, in words, and whose it is
    error: str | None = None  # why the value was refused (on the 400 page)


def _step_forms(rules: Rules, ndd: date) -> dict[str, tuple[str, Day | Month | None, str]]:
    """Each dated step's label, ACCME's date for this Next Decision Date (published or
    estimated) and its status."""
    progress = rules.progress
    assert progress is not None
    schedule = engine.accme_schedule(rules, ndd)
    whens = {m.id: m.when for m in schedule.milestones} if schedule else {}
    status = "estimated" if schedule is None or schedule.estimated else "published"
    fields = progress_fields(ndd)
    return {s.id: (s.title.format_map(fields),
                   w if isinstance(w := whens.get(s.id), (Day, Month)) else None, status)
            for s in progress.steps if isinstance(s.when, PerCohort)}


def date_fields(rules: Rules, ndd: date, accreditor: str | None,
                own: dict[str, Day | Month], typed: dict[str, str] | None = None,
                error: BadParameter | None = None) -> list[DateField]:
    """The fields of "Dates from your decision report": each step's, prefilled with the
    coordinator's dates, or before they gave any, calfeed's (none for a provider whose
    accreditor sets them); on the 400 page, what was typed and why one was refused."""
    found = []
    for ident, (label, when, status) in _step_forms(rules, ndd).items():
        accme = None if accreditor else when
        calfeed = (f"calfeed's date: {wording.when_words(accme)} ({status})" if accme else None)
        mine = own.get(ident)
        if typed is not None:
            value = typed.get(ident, "")
        else:
            # calfeed's dates fill the form until the coordinator has given any: from then
            # on a step they left out stays empty (its date in the hint), so sending the
            # form again never makes an estimate theirs unasked.
            value = field_date(mine) if mine else field_date(accme) if accme and not own else ""
        form = mine or when
        month = isinstance(form, Month) or bool(typed and reported.ISO_MONTH.match(value))
        found.append(DateField(ident, label, "month" if month else "date", value, calfeed,
                               error.reason if error and error.name == ident else None))
    return found


def builder_form(rules: Rules, today: date, subject: Subject | None = None) -> dict[str, Any]:
    """The builder form: the Next Decision Dates it takes, the accreditors, a subject's answers,
    and with a Next Decision Date the fields of the dates from the decision report."""
    profile = subject.profile if subject else None
    ndd = profile.next_decision_date if profile else None
    accreditor = profile.accreditor if profile else None
    own = dict(profile.reported) if profile else {}
    return {
        **_form(rules, today),
        "ndd": ndd.isoformat() if ndd else "",
        "enduring": bool(profile and profile.enduring_materials),
        "accreditor": accreditor or "",
        "reported": [(ident, field_date(when)) for ident, when in own.items()],
        "dates": date_fields(rules, ndd, accreditor, own) if ndd and rules.progress else [],
        "accreditor_name": rules.accreditors[accreditor].name if accreditor else None,
    }


def _form(rules: Rules, today: date) -> dict[str, Any]:
    """What every builder form says: the Next Decision Dates it takes, the accreditors."""
    first = first_ndd(rules.progress)
    published = sorted(t.next_decision_date for t in rules.tracks.values()
                       if t.kind == "progress" and t.next_decision_date)
    return {
        "first": first.isoformat() if first else None,
        "last": last_ndd(today).isoformat(),
        "accepted": ndd_accepted(first, today),
        "published": [wording.long_date(d) for d in published],
        "accreditors": [(a.id, a.name) for a in rules.accreditors.values()],
    }


def builder_refilled(rules: Rules, today: date, args: Mapping[str, str],
                     error: BadParameter) -> dict[str, Any]:
    """The builder form as it was sent, for the 400 page: every answer as typed, the refused
    one marked, so the coordinator corrects one field instead of starting again."""
    raw_ndd = args.get("next_decision_date", "").strip()
    ndd, _ = ndd_rules.parse(raw_ndd, first_ndd(rules.progress), today)
    accreditor = args.get("accreditor", "").strip()
    typed = {ident: args.get(ident, "").strip() for ident in reported.steps(rules.progress)}
    dates = date_fields(rules, ndd, accreditor or None, {}, typed, error) \
        if ndd and rules.progress else []
    return {
        **_form(rules, today),
        "ndd": raw_ndd,
        "enduring": wording.yes_no(args.get("enduring_materials", "")) is True,
        "accreditor": accreditor,
        # Shown in their own fields when there are any, carried unseen only when not.
        "reported": [] if dates else [(ident, text) for ident, text in typed.items() if text],
        "dates": dates,
        "accreditor_name": rules.accreditors[accreditor].name
        if accreditor in rules.accreditors else None,
    }


@dataclass(frozen=True)
class ReminderOption:
    """One reminder choice as the subscribe box offers it: a link to its page."""

    label: str  # "2 weeks and 2 days before"
    path: str  # the page that subscribes with it (root-relative)
    selected: bool


@dataclass(frozen=True)
class SubscribeBox:
    """The subscribe box: the reminder choices, and the links that follow the chosen one."""

    options: tuple[ReminderOption, ...]
    chosen: str  # the chosen reminders in words ("no reminders")
    reminded: bool  # whether the calendar has alarms
    outlook_keeps: str  # the one reminder Outlook keeps ("2 weeks")
    # Whether a later one takes its place once its day has passed (the feed leaves out
    # reminders before its "today", so the first it carries is the next still to come).
    outlook_next: bool
    links: dict[str, str]  # webcal, google, outlook, office
    ics_url: str  # the address to copy
    download: str  # the .ics as a one-off download (root-relative)


def subscribe_box(subject: Subject, site: str, name: str, choice: str | None) -> SubscribeBox:
    """The subscribe box of a page, following a reminder choice (None: no reminders)."""
    options = [ReminderOption(wording.leads(()).capitalize(), subject.page() + "#subscribe",
                              choice is None)]
    options += [ReminderOption(wording.leads(c.leads), subject.page(c.id) + "#subscribe",
                               c.id == choice) for c in reminders.CHOICES]
    leads = reminders.BY_ID[choice].leads if choice else ()
    ics_url = site + subject.feed(remind=choice)
    return SubscribeBox(tuple(options), wording.leads(leads), bool(leads),
                        wording.lead(leads[0]) if leads else "", len(leads) > 1,
                        subscribe_links(ics_url, name), ics_url,
                        subject.feed(remind=choice, download="1"))


def calendar_page(rules: Rules, subject: Subject, calendar: Calendar, tracks: list[Track],
                  events: list[Event], today: date, site: str,
                  choice: str | None = None) -> dict[str, Any]:
    """Everything calendar.html shows for one subject, or subscribe.html for a reminder choice.

    `calendar` is the header of the subject's feed and `tracks` the schedules in it.
    """
    page = {
        "subject": subject, "private": subject.private, "calendar": calendar, "today": today,
        "tracks": tracks, "subscribe": subscribe_box(subject, site, calendar.name, choice),
    }
    if choice:
        return page
    views = [event_view(e, today, subject) for e in events]
    dated = [v for v in views if v.day is not None]
    estimate = next((t for t in tracks if t.follows), None)
    estimate_note = None
    if estimate is not None:
        # A schedule that follows others is an estimated progress-report one: it has both.
        assert estimate.next_decision_date is not None and estimate.follows is not None
        estimate_note = wording.estimated_schedule_page_note(estimate.next_decision_date,
                                                             estimate.follows)
    accreditor = rules.accreditors.get(subject.profile.accreditor or "")
    return {
        **page, "timeline": timeline(views, today), "next": next_step(dated, today),
        "recent": recent(views),
        "estimate": estimate_note,
        "accreditor": accreditor,
        "accreditor_note": wording.accreditor_page_note(
            accreditor.name, accreditor.rule.weekday if accreditor.rule else None,
            accreditor.rule.days_before if accreditor.rule else None) if accreditor else None,
        "progress_note": engine.progress_note(rules, subject.profile),
        "reported": sum(1 for e in events if e.status == "reported"),
        "builder": builder_form(rules, today, subject) if subject.kind == "builder" else None,
    }


@dataclass(frozen=True)
class TrackCard:
    """A published schedule on the home page: a title no other card has, its subscribe links."""

    subject: Subject
    track: Track
    title: str  # the track's name; with its Next Decision Date when another card has the name
    links: dict[str, str] | None  # webcal, google, outlook, office; None once every date passed
    passed: bool  # every date of it has passed: folded at the end of the list


def home_page(rules: Rules, schedules: list[tuple[Subject, Calendar, list[Event]]], site: str,
              today: date) -> dict[str, Any]:
    """Everything home.html shows: the schedules that apply now, the passed ones, the builder.

    `schedules` holds each public track's subject, calendar header and events for today.
    """
    names = Counter(rules.tracks[s.filename].name for s, _, _ in schedules)
    current: list[TrackCard] = []
    passed: list[TrackCard] = []
    for subject, calendar, events in schedules:
        track = rules.tracks[subject.filename]
        dated = [e for e in events if e.start is not None]
        over = bool(dated) and all(e.passed(today) for e in dated)
        title = track.name
        if names[title] > 1 and track.next_decision_date is not None:
            title = wording.with_next_decision_date(title, track.next_decision_date)
        # Subscribe links, as on a calendar page: a downloaded file would never update.
        links = None if over else subscribe_links(site + subject.feed(), calendar.name)
        (passed if over else current).append(TrackCard(subject, track, title, links, over))
    return {"current": current, "passed": passed, "builder": builder_form(rules, today)}
