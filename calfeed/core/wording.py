"""Every human wording of calfeed's facts: dates, times, zones, actors, statuses, yes/no.

Pages (as Jinja filters and globals), feeds, the JSON/CSV twins and the command line
all word things through these functions, so a date or an actor reads the same
everywhere and a new channel (email) has nothing to copy. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone

from calfeed.core import zones
from calfeed.core.model import Change, Day, Event, Lead, Month

# The words a yes/no answer may be, in the roster and in query strings alike.
YES = frozenset({"yes", "y", "true", "1", "x", "on"})
NO = frozenset({"no", "n", "false", "0", "off", ""})
YES_NO_ACCEPTED = "yes or no (also y/n, 1/0, true/false, on/off, x)"

ZONE_NAMES = {"CT": "Central Time", "ET": "Eastern Time", "MT": "Mountain Time",
              "PT": "Pacific Time"}
# Who acts, as a page labels it and as a feed's description says it.
ACTOR_LABELS = {"provider": "Provider", "accme": "ACCME", "accreditor": "Your accreditor"}
ACTOR_LABEL_YOU = "You (the provider)"
ACTOR_PHRASES = {"provider": "the provider", "accme": "ACCME", "accreditor": "your accreditor"}

# What a title adds in parentheses when a step is not simply ACCME's published date:
# "(estimated; if you offer enduring materials)" (the engine puts them in Event.caveats).
ESTIMATED = "estimated"
FLAG_CAVEATS = {"enduring_materials": "if you offer enduring materials"}
# An estimated date: the feed's note, the page's tag and note.
ESTIMATED_FEED_NOTE = ("Estimated: ACCME has not yet published this date; "
                       "it follows ACCME's usual rule.")
ESTIMATED_TAG = "Estimated date"
ESTIMATED_PAGE_NOTE = ("ACCME has not published this date yet: it follows ACCME's usual "
                       "rule and may change.")
# A date from the provider's own decision report (status "reported"): the page's tag,
# the CSV's Status, where the feed's description says it comes from.
REPORTED = "from your decision report"
REPORTED_TAG = "From your decision report"
REPORTED_SOURCE = "Your organization's decision report"
REPORTED_CALENDAR_NOTE = ("Dates from your decision report are as your organization "
                          "entered them.")
STATUS_LABELS = {"reported": REPORTED_TAG}
# A date that moved: the page's tags, and its heading over the moves that are news.
MOVED_TAG = "Moved"
CHANGED_RECENTLY_TAG = "Changed recently"
CHANGED_RECENTLY_HEADING = "Changed in the last 30 days"


def title(event: Event, estimated: bool = True) -> str:
    """A step's title as people read it, caveats in one parenthesis: "Submit (estimated; …)".

    `estimated=False` leaves out the "estimated" caveat, for a table whose Status
    column already says it.
    """
    caveats = event.caveats if estimated else tuple(c for c in event.caveats if c != ESTIMATED)
    return f"{event.bare_title} ({'; '.join(caveats)})" if caveats else event.bare_title


def summary(event: Event) -> str:
    """An event's title as a calendar shows it: "… (estimated) — due 11:59 p.m. CT"."""
    return title(event) + due(event)


def alarm_text(events: Sequence[Event]) -> str:
    """What one reminder says: its step's title, or every step due at that moment.

    "Annual Reporting in PARS, data year 2025: 5 steps due Tuesday, March 31, 2026,
    11:59 p.m. CT: Accept the terms …; Enter all activities …; …".
    """
    first = events[0]
    if len(events) == 1:
        return summary(first)
    assert first.start is not None
    tracks = {schedule(e) for e in events}
    prefix = f"{schedule(first)}: " if len(tracks) == 1 else ""
    return (f"{prefix}{len(events)} steps due {moment_words(first.start, first.precision)}: "
            + "; ".join(title(e) for e in events))


def yes_no(text: str) -> bool | None:
    """A yes/no answer as True or False; None if the text is neither."""
    lowered = text.strip().lower()
    return True if lowered in YES else False if lowered in NO else None


def long_date(day: date) -> str:
    """A date as ACCME writes it: March 31, 2025."""
    return f"{day:%B} {day.day}, {day.year}"


def weekday_date(day: date) -> str:
    """A date with its weekday: Monday, April 1, 2024."""
    return f"{day:%A}, {long_date(day)}"


def month_year(day: date) -> str:
    """The month of a date: July 2024."""
    return f"{day:%B} {day.year}"


def clock(moment: datetime) -> str:
    """A wall-clock time as ACCME writes it: "11:59 p.m.", "noon", "midnight"."""
    if (moment.hour, moment.minute) == (12, 0):
        return "noon"
    if (moment.hour, moment.minute) == (0, 0):
        return "midnight"
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'a.m.' if moment.hour < 12 else 'p.m.'}"


def clock_span(start: datetime, end: datetime, between: str = " to ") -> str:
    """Two wall-clock times: "2:00 to 3:00 a.m.", "11:30 p.m. to 12:30 a.m.".

    "midnight to 1:00 a.m." as well; `between` "-" gives "2:00-3:00 a.m.".
    """
    first, last = clock(start), clock(end)
    half = first[-5:]
    if half in (" a.m.", " p.m.") and last.endswith(half):
        first = first[:-5]
    return f"{first}{between}{last}"


def zone(moment: datetime) -> str:
    """An aware moment's zone as people write it: "CT" for CST and CDT, else its abbreviation."""
    return zones.everyday_name(zones.key(moment), moment.year) or moment.tzname() or "UTC"


def zone_name(moment: datetime) -> str:
    """An aware moment's zone in full: "Central Time" (else as zone() writes it)."""
    short = zone(moment)
    return ZONE_NAMES.get(short, short)


def deadline_time(moment: datetime) -> str:
    """A deadline's time and zone in full: "11:59 p.m. Central Time"."""
    return f"{clock(moment)} {zone_name(moment)}"


def when(event: Event) -> str:
    """An event's date in words, in its true precision, as pages show it."""
    start = event.start
    if start is None:
        return event.when or "No date published"
    if event.precision == "month":
        if event.status == "reported":
            return f"{month_year(start)} (the month your decision report gives)"
        return f"{month_year(start)} (no exact day published)"
    if isinstance(start, datetime):
        return f"{weekday_date(start.date())}, {deadline_time(start)}"
    return weekday_date(start)


def schedule(event: Event) -> str:
    """The schedule a step belongs to, with the data year of a yearly one."""
    if event.data_year is None:
        return event.track_name
    return f"{event.track_name}, data year {event.data_year}"


def when_short(event: Event) -> str:
    """An event's date in a table column: 2024-04-01 23:59 CDT, July 2024, 2024-01-24."""
    start = event.start
    if start is None:
        return event.when or "undated"
    if event.precision == "month":
        return month_year(start)
    if isinstance(start, datetime):
        return f"{start:%Y-%m-%d %H:%M} {start.tzname()}"
    return start.isoformat()


def due(event: Event) -> str:
    """What a feed's title adds to say when: " — due 11:59 p.m. CT", " — expected during July 2024"."""
    start = event.start
    if event.precision == "time":
        assert isinstance(start, datetime)
        return f" — due {clock(start)} {zone(start)}"
    if event.precision == "month":
        assert isinstance(start, date)
        return f" — expected during {month_year(start)}"
    return ""


def days_left(days: int, precision: str, day: date) -> str:
    """How far off the next deadline is: "today", "tomorrow", "in 12 days", "this month"."""
    if precision == "month":
        return "this month" if days <= 0 else month_year(day)
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days} days"


def actor_label(actor: str, you: bool = False) -> str:
    """Who acts, as a page labels it; `you` when the reader is the provider."""
    if you and actor == "provider":
        return ACTOR_LABEL_YOU
    return ACTOR_LABELS.get(actor, actor)


def status_label(status: str) -> str:
    """A date's status as a table labels it: "Published", "Estimated", "From your decision report"."""
    return STATUS_LABELS.get(status, status.capitalize())


def actor_phrase(actor: str) -> str:
    """Who acts, as a feed's description says it: "the provider"."""
    return ACTOR_PHRASES.get(actor, actor)


def moment_words(start: date | datetime, precision: str, with_clock: bool = True) -> str:
    """A date in its true precision: "July 2024", "Tuesday, March 31, 2020, 11:59 p.m. CT"."""
    if precision == "month":
        return month_year(start)
    if isinstance(start, datetime):
        text = weekday_date(start.date())
        return f"{text}, {clock(start)} {zone(start)}" if with_clock else text
    return weekday_date(start)


def announced_words(when: Day | Month) -> str:
    """When a move was announced: "March 18, 2020", or "March 2020" when only the month is known."""
    if isinstance(when, Day):
        return long_date(when.day)
    return month_year(date(when.year, when.month, 1))


def change_words(change: Change, start: date | datetime | None, precision: str) -> str:
    """One move as a sentence: "Moved: was Tuesday, March 31, 2020; announced March 2020. Why."

    The old time of day is only said when it differs from the new one.
    """
    was = change.was
    same_clock = (isinstance(was, datetime) and isinstance(start, datetime)
                  and (was.hour, was.minute, was.tzinfo)
                  == (start.hour, start.minute, start.tzinfo))
    text = (f"Moved: was {moment_words(was, precision, not same_clock)}; "
            f"announced {announced_words(change.announced)}.")
    if change.note:
        note = change.note.strip()
        text += " " + (note if note.endswith((".", "!", "?")) else note + ".")
    return text


def authority(name: str) -> str:
    """Who sets a date, in a sentence: "ACCME", "the California Medical Association"."""
    return name if name == "ACCME" else f"the {name}"


# Who gave a date that is no longer calfeed's estimate, by its new status: a status
# that comes later (a date the provider reports) gets its own words here.
CONFIRMED_BY = {"published": "Published by {authority}"}


def confirmed_by(event: Event) -> str:
    """Who gave an event's date, now that it is no longer an estimate: "Published by ACCME"."""
    words = CONFIRMED_BY.get(event.status, event.status.capitalize() + " by {authority}")
    return words.format(authority=authority(event.authority))


def replaced_words(event: Event) -> str | None:
    """What a published date replaced, as a sentence; None if it replaced no other estimate.

    "Published by ACCME: replaces calfeed's estimate of Wednesday, January 20, 2027."
    Never "moved": calfeed's estimate was never a date ACCME gave.
    """
    replaced = event.replaced
    if replaced is None:
        return None
    return (f"{confirmed_by(event)}: replaces calfeed's estimate of "
            f"{moment_words(replaced.was, replaced.precision)}.")


def utc_stamp(moment: datetime) -> str:
    """A moment in UTC as ISO 8601 with a Z: 2026-11-21T00:00:00Z."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def count(number: int, word: str) -> str:
    """A number of things: "1 track", "3 tracks"."""
    return f"{number} {word}{'' if number == 1 else 's'}"


def lead(before: Lead) -> str:
    """How long before a step a reminder comes: "1 month", "2 weeks", "2 days", "12 hours"."""
    if before.exact is not None:
        hours, rest = divmod(int(before.exact.total_seconds()), 3600)
        minutes, seconds = divmod(rest, 60)
        parts = [count(n, w) for n, w in ((hours, "hour"), (minutes, "minute"),
                                           (seconds, "second")) if n]
        return " ".join(parts)
    parts = [count(before.months, "month")] if before.months else []
    if before.days:
        weeks, days = divmod(before.days, 7)
        parts += [count(weeks, "week")] if weeks and not days else [count(before.days, "day")]
    return " ".join(parts)


def leads(chosen: Sequence[Lead]) -> str:
    """A set of reminders in words: "1 month, 1 week and 1 day before", "no reminders"."""
    if not chosen:
        return "no reminders"
    words = [lead(before) for before in chosen]
    return (", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]) + " before"


# ---------------------------------------------------------------------------
# Accreditors' deadlines, and progress-report schedules calfeed estimated


def accreditor_suffix(name: str) -> str:
    """What an annual-reporting step's title adds when the date is its accreditor's."""
    return f" — {name} deadline"


def accreditor_published_note(name: str, accme_at: datetime) -> str:
    """The description's note on a deadline an accreditor published."""
    return (f"Deadline set by your Recognized Accreditor, the {name}, which reviews providers "
            f"before ACCME's own deadline of {long_date(accme_at.date())} at "
            f"{deadline_time(accme_at)}.")


def accreditor_estimate_note(name: str, data_year: int, weekday: str, days_before: int,
                             accme_at: datetime) -> str:
    """The description's note on an accreditor's deadline estimated from its rule."""
    return (f"Estimated deadline of your Recognized Accreditor, the {name}, which has not yet "
            f"published its deadline for data year {data_year}. Its published deadlines fell "
            f"on the {weekday.capitalize()} on or before ACCME's deadline minus {days_before} "
            f"days; ACCME's own deadline is {long_date(accme_at.date())} at "
            f"{deadline_time(accme_at)}. Check the {name}'s announcement for the exact date.")


def accme_not_accreditor_note(name: str, data_year: int) -> str:
    """The description's note when an accreditor's deadline is unknown and ACCME's is shown."""
    return (f"This is ACCME's deadline, not your accreditor's: the {name} has published no "
            f"deadline for data year {data_year}, and its deadline is usually earlier, because "
            f"a Recognized Accreditor reviews its providers' reports before ACCME's deadline. "
            f"Check with the {name}.")


def accme_not_accreditor_caveat(name: str) -> str:
    """The title's caveat when ACCME's date stands for an accreditor's unknown one."""
    return f"ACCME's deadline: the {name}'s is usually earlier"


def accreditor_page_note(name: str, weekday: str | None, days_before: int | None) -> str:
    """What a provider's page says about whose annual-reporting deadlines it shows."""
    if weekday is not None:
        return (f"Your annual-reporting deadlines are the {name}'s, earlier than ACCME's: its "
                f"published dates, and for years it has not published, an estimate from its "
                f"usual deadline (the {weekday.capitalize()} on or before ACCME's deadline "
                f"minus {days_before} days).")
    return (f"Your annual-reporting deadlines are the {name}'s where it has published them. "
            f"For other years this calendar shows ACCME's deadline, and the {name}'s is "
            f"usually earlier: check with it.")


def with_next_decision_date(name: str, ndd: date) -> str:
    """A progress-report schedule's name told apart by its date: "… — Next Decision Date July 31, 2024"."""
    return f"{name} — Next Decision Date {long_date(ndd)}"


def estimated_schedule_name(name: str, ndd: date) -> str:
    """The title of an estimated progress-report schedule."""
    return f"{with_next_decision_date(name, ndd)} (estimated)"


def estimated_schedule_source(follows: str) -> str:
    """Where an estimated progress-report schedule comes from."""
    return f"Estimated by calfeed from {follows}"


def estimated_step_note(follows: str) -> str:
    """The description's note on each step of an estimated progress-report schedule."""
    return (f"Estimated: ACCME has not published the milestones for this Next Decision Date. "
            f"calfeed placed this step as it fell before the Next Decision Date in {follows}, "
            f"on the same weekday and never later. The decision report ACCME sent your "
            f"organization has the exact dates.")


def estimated_schedule_page_note(ndd: date, follows: str) -> str:
    """What a page says above an estimated progress-report schedule."""
    return (f"ACCME has not published the progress-report milestones for Next Decision Date "
            f"{long_date(ndd)}. These dates are estimated from {follows}: each step as far "
            f"before the Next Decision Date as it was there, on the same weekday, never later. "
            f"Your organization's decision report from ACCME has the exact dates.")


# ---------------------------------------------------------------------------
# Progress-report dates from the provider's own decision report


def when_words(when: Day | Month) -> str:
    """A step's date as written in rules or a report: "Wednesday, April 3, 2024", "July 2024"."""
    if isinstance(when, Day):
        return weekday_date(when.day)
    return month_year(date(when.year, when.month, 1))


def reported_step_note(accreditor: str | None, accme: Day | Month | None) -> str:
    """The description's note on a step dated from the provider's own decision report.

    `accme` is ACCME's published date for the step where it differs: both are said,
    and the report's stands.
    """
    if accreditor is not None:
        return (f"From your decision report: your Recognized Accreditor, the {accreditor}, "
                f"sets your progress-report dates, and your organization entered this one "
                f"from its decision report. The step is worded as ACCME words it.")
    text = ("From your decision report: your organization entered this date from the "
            "decision report ACCME sent it; calfeed shows it as entered, not estimated.")
    if accme is not None:
        text += (f" ACCME's published milestones for this Next Decision Date give "
                 f"{when_words(accme)}; the date in your decision report stands.")
    return text


def reported_schedule_name(name: str, ndd: date) -> str:
    """A progress-report schedule whose every date is from the provider's decision report."""
    return f"{with_next_decision_date(name, ndd)} ({REPORTED})"


def with_reported(name: str) -> str:
    """A schedule some of whose dates are from the provider's decision report."""
    return f"{name}, with dates {REPORTED}"


def accreditor_schedule_suffix(name: str) -> str:
    """What a progress-report step's title adds when its accreditor sets the provider's dates."""
    return f" — {name} schedule"


def accreditor_schedule_name(progress: str, ndd: date, name: str) -> str:
    """The progress-report schedule of a provider whose Recognized Accreditor sets its dates."""
    return f"{with_next_decision_date(progress, ndd)} (from your {name} decision report)"


def accreditor_schedule_source(name: str) -> str:
    """Where that schedule comes from."""
    return f"Your organization's decision report from the {name}"


def accreditor_progress_note(name: str, ndd: date, reported: bool) -> str:
    """What a calendar says of the progress-report dates of a state-accredited provider."""
    sets = (f"Your progress report (Next Decision Date {long_date(ndd)}) is decided by the "
            f"{name}, your Recognized Accreditor, which sets its dates in your decision report: "
            f"calfeed shows no ACCME dates for it.")
    if reported:
        return f"{sets} The progress-report dates here are the ones entered from that report."
    return f"{sets} Enter the dates from that report to have them in this calendar."


def reported_page_note(count_: int) -> str:
    """What a page says above a calendar with dates from the provider's own decision report."""
    return (f"{count(count_, 'date')} in this calendar {'is' if count_ == 1 else 'are'} "
            f"{REPORTED}, as your organization entered {'it' if count_ == 1 else 'them'}: "
            f"shown as given, never estimated, and kept when ACCME publishes its own.")


# ---------------------------------------------------------------------------
# Groups: many providers in one calendar, page and digest

# A group event's title names at most this many providers; more are counted.
NAMED_IN_TITLE = 3


def and_list(words: Sequence[str]) -> str:
    """Words as a sentence lists them: "A", "A and B", "A, B and C"."""
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]])) if words else ""


def providers_short(names: Sequence[str]) -> str:
    """Whom a group event is due for, short enough for a title: "A, B and C", or "12 providers"."""
    if len(names) > NAMED_IN_TITLE:
        return f"{len(names):,} providers"
    return and_list(list(names))


def group_title(names: Sequence[str], bare_title: str) -> str:
    """A group event's bare title: its providers first, as a shared calendar is kept by hand."""
    return f"{providers_short(names)}: {bare_title}"


def providers_line(names: Sequence[str], which: str | None = None) -> str:
    """The paragraph a group event's description ends with: every provider it is due for
    (`which`: what they share, "the 150 providers accredited by …")."""
    if len(names) == 1:
        return f"For {names[0]}."
    return f"For {which or f'{len(names):,} providers'}: " + "; ".join(names) + "."


def group_calendar_name(name: str) -> str:
    """A group calendar's name, as calendar apps list it."""
    return f"{name} — ACCME deadlines"


def group_calendar_description(name: str, members: int, schedules: Sequence[str]) -> str:
    """A group calendar's description: whose deadlines, and how events name them."""
    return (f"ACCME deadlines for the {count(members, 'provider')} of {name}: "
            + "; ".join(schedules) + ". Each event names the providers it is due for; a step "
            "due at the same moment for several providers is one event. Made by calfeed from "
            "ACCME's published schedules; dates marked (estimated) follow ACCME's usual rule "
            "and are not yet published.")


def providers_with(facts: Sequence[tuple[str, object]], count_: int,
                   accreditors: dict[str, str]) -> str:
    """A set of a group's providers by what they share: "the 150 providers accredited by the
    California Medical Association that offer enduring materials"."""
    words = [f"the {count_:,} providers" if count_ > 1 else "the provider"]
    for name, value in facts:
        if name == "accreditor":
            words.append("accredited by " + (f"the {accreditors.get(str(value), value)}"
                                             if value else "ACCME"))
    verb = "offer" if count_ > 1 else "offers"
    for name, value in facts:
        if name == "enduring_materials":
            words.append(f"that {verb} enduring materials")
        elif name == "next_decision_date" and isinstance(value, date):
            words.append(f"with the Next Decision Date {long_date(value)}")
    return " ".join(words)
