"""The command line, on Flask's CLI: `calfeed …` and `flask --app calfeed …` alike."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import Flask, current_app, has_app_context
from flask.cli import FlaskGroup, with_appcontext

from calfeed import bundled, create_app, settings
from calfeed.build import lock  # the standard library only: the web layer loads for `build` alone
from calfeed.core import engine, rules, wording
from calfeed.outputs import export
from calfeed.outputs import diff as changes
from calfeed.core.model import Event, Profile, Rules

if TYPE_CHECKING:  # the sign-up commands alone open the state file
    import sqlite3

# Where a run keeps the settings it read (click's root context), so they are read once.
SETTINGS_KEY = "calfeed.settings"


def configured() -> Mapping[str, Any]:
    """This run's CALFEED_* settings: the app's when one is running, else the environment's,
    read once; an unknown or malformed one is a one-line error (exit 1)."""
    if has_app_context():
        return current_app.config  # read and parsed by create_app
    root = click.get_current_context().find_root()
    found = root.meta.get(SETTINGS_KEY)
    if found is None:
        found = root.meta[SETTINGS_KEY] = settings.read(os.environ)  # SettingsError: one line
    return found


def _current_app() -> Flask:
    """The app itself behind current_app, to hand to code that keeps it or reads its state."""
    return current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, not its proxy


def setting(name: str, given: Any = None) -> Any:
    """A setting's value for this run: the command line's, else the environment's (or app's)."""
    return given if given is not None else configured()[name]


class SettingType(click.ParamType):
    """A command-line value read by its setting's parser, so both spellings mean the same."""

    def __init__(self, entry: settings.Setting) -> None:
        self.entry = entry
        self.name = entry.option.lstrip("-") if entry.option else entry.name

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        """The parsed value, or click's usage error (exit 2) with the parser's reason."""
        if not isinstance(value, str):
            return value
        try:
            return self.entry.parse(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


def setting_option(name: str, dest: str, extra_help: str = "",
                   default: str | None = None) -> Callable[[Any], Any]:
    """The command-line option that overrides a setting, with its help from the settings table
    (and what this command does without it, when that is not the table's default)."""
    entry = settings.BY_NAME[name]
    assert entry.option is not None
    text = (f"{entry.help[0].upper()}{entry.help[1:]}{extra_help} (default: "
            f"{default or entry.shown_default}; env {name}).")
    return click.option(entry.option, dest, type=SettingType(entry), metavar=entry.metavar,
                        help=text.replace("`", ""))  # the README's Markdown, as plain text


rules_option = setting_option("CALFEED_RULES", "rules_path")
providers_option = setting_option("CALFEED_PROVIDERS", "providers_path")
groups_option = setting_option("CALFEED_GROUPS", "groups_path")
today_option = setting_option("CALFEED_TODAY", "today")


def parse_today(value: date | None) -> date:
    """Today: the given one, else CALFEED_TODAY, else the clock."""
    return setting("CALFEED_TODAY", value) or date.today()


def rules_paths(rules_path: str | None, providers_path: str | None) -> tuple[str, str | None]:
    """The rules file and roster of this run: the options, else the settings, else the bundled."""
    return (setting("CALFEED_RULES", rules_path) or str(bundled("rules.toml")),
            setting("CALFEED_PROVIDERS", providers_path))


def load_or_exit(rules_path: str | None, providers_path: str | None,
                 today: date | None = None, groups_path: str | None = None) -> Rules:
    """Load the rules, or print every problem (one line each) and exit 1."""
    path, roster = rules_paths(rules_path, providers_path)
    try:
        return rules.load(path, roster, today=parse_today(today),
                          groups_path=setting("CALFEED_GROUPS", groups_path))
    except rules.RulesError as err:
        for problem in err.problems + err.warnings:
            click.echo(problem, err=True)
        sys.exit(1)


def served_rules_or_exit(app: Flask) -> Rules:
    """The rules the app serves (with its secret key), or every problem and exit 1."""
    from calfeed.serve import web  # `check` and `events` need no web layer

    try:
        snap = web.snapshot(app)
    except web.Unavailable as err:
        for problem in err.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    assert snap.rules is not None
    return snap.rules


def app_rules_or_exit(app: Flask, rules_path: str | None, providers_path: str | None,
                      today: date | None, groups_path: str | None = None) -> Rules:
    """The app's own data, unless the command line names other files or another today."""
    if rules_path is None and providers_path is None and today is None and groups_path is None:
        return served_rules_or_exit(app)
    return load_or_exit(rules_path, providers_path, today, groups_path)


def find_provider(loaded: Rules, ident: str) -> Profile:
    """A roster provider by id, or a one-line error naming the known ids."""
    if ident in loaded.providers:
        return loaded.providers[ident]
    known = ", ".join(loaded.providers) or "none"
    raise click.ClickException(
        f"{loaded.providers_path or loaded.path}: no provider {ident!r} (expected one of: {known})")


@click.command("check")
@rules_option
@providers_option
@groups_option
@today_option
def check(rules_path: str | None, providers_path: str | None, groups_path: str | None,
          today: date | None) -> None:
    """Validate rules.toml, the roster and the groups file; list every problem and exit 1 if any."""
    loaded = load_or_exit(rules_path, providers_path, today, groups_path)
    for warning in loaded.warnings:  # unusual but possible: printed, and still exit 0
        click.echo(warning, err=True)
    milestones = sum(len(t.milestones) for t in loaded.tracks.values())
    counted = [(len(loaded.tracks), "track"), (milestones, "milestone"),
               (len(loaded.accreditors), "accreditor"), (len(loaded.providers), "provider")]
    if loaded.groups_path:  # only with a groups file: a plain roster's line stays as it was
        counted.append((len(loaded.groups), "group"))
    counts = ", ".join(wording.count(n, word) for n, word in counted)
    click.echo(f"{loaded.path}: OK: {counts} (revised {wording.utc_stamp(loaded.revised)})")


def table(events: list[Event]) -> str:
    """A readable, aligned table of events."""
    rows = [(wording.when_short(e), e.status, e.actor, e.track, wording.title(e)) for e in events]
    heads = ("when", "status", "actor", "track", "title")
    widths = [max(len(r[i]) for r in rows + [heads]) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4]
             for r in [heads] + rows]
    return "\n".join(lines)


@click.command("events")
@click.argument("provider")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON contract instead of a table.")
@rules_option
@providers_option
@today_option
def events(provider: str, as_json: bool, rules_path: str | None, providers_path: str | None,
           today: date | None) -> None:
    """List a provider's events: a table, or the JSON contract with --json."""
    day = parse_today(today)
    loaded = load_or_exit(rules_path, providers_path, day)
    profile = find_provider(loaded, provider)
    found = engine.schedule(loaded, profile, day)
    if as_json:
        click.echo(export.to_json(engine.calendar(loaded, profile), found), nl=False)
    else:
        click.echo(table(found))


@click.command("links")
@click.argument("provider", required=False)
@setting_option("CALFEED_BASE_URL", "base_url",
                default="http://127.0.0.1:5000, where `calfeed run` serves")
@rules_option
@providers_option
@groups_option
@today_option
@with_appcontext
def links(provider: str | None, base_url: str | None, rules_path: str | None,
          providers_path: str | None, groups_path: str | None, today: date | None) -> None:
    """Print each provider's private page and feed URLs, then each group's (they need the
    server's secret key); PROVIDER may name a provider or a group."""
    from calfeed.core import calendars
    from calfeed.serve import web  # the app holds the secret key; `check` needs no web layer

    app = _current_app()
    loaded = app_rules_or_exit(app, rules_path, providers_path, today, groups_path)
    secret = web.state(app).secret
    site = setting("CALFEED_BASE_URL", base_url) or "http://127.0.0.1:5000"
    if provider and provider not in loaded.providers and provider in loaded.groups:
        chosen = [(loaded.groups[provider].id, loaded.groups[provider].name,
                   calendars.group_urls(secret, loaded.groups[provider], site))]
    else:
        profiles = [find_provider(loaded, provider)] if provider else loaded.providers.values()
        chosen = [(p.id, p.name, calendars.provider_urls(secret, p, site)) for p in profiles]
        if not provider:  # the groups after the providers, in the same shape
            chosen += [(g.id, g.name, calendars.group_urls(secret, g, site))
                       for g in loaded.groups.values()]
    for n, (ident, name, urls) in enumerate(chosen):
        if n:
            click.echo()
        click.echo(f"{ident}: {name}")
        for label, url in urls.items():
            click.echo(f"  {label:<7}{url}")


@click.command("build")
@click.argument("outdir", type=click.Path(file_okay=False))
@setting_option("CALFEED_BASE_URL", "base_url", default="http://localhost, with a warning")
@click.option("--workers", type=click.IntRange(min=1),
              help="Processes for large rosters (default: all cores).")
@click.option("--wait", type=click.FloatRange(min=0), default=lock.WAIT, show_default=True,
              metavar="SECONDS",
              help="How long to wait for another build of OUTDIR to finish (0: refuse at once).")
@rules_option
@providers_option
@groups_option
@today_option
def build(outdir: str, base_url: str | None, workers: int | None, wait: float,
          rules_path: str | None, providers_path: str | None, groups_path: str | None,
          today: date | None) -> None:
    """Write every page and feed to OUTDIR for a static host, swapped in atomically."""
    day = parse_today(today)
    groups_path = setting("CALFEED_GROUPS", groups_path)
    load_or_exit(rules_path, providers_path, day, groups_path)
    base_url = setting("CALFEED_BASE_URL", base_url)
    if not base_url:
        click.echo("calfeed build: no --base-url (or CALFEED_BASE_URL): subscribe links will "
                   "point at http://localhost", err=True)
        base_url = "http://localhost"
    path, roster = rules_paths(rules_path, providers_path)
    config = {"CALFEED_RULES": path, "CALFEED_PROVIDERS": roster, "CALFEED_GROUPS": groups_path,
              "CALFEED_BASE_URL": base_url, "CALFEED_TODAY": day.isoformat()}
    _build_or_exit(Path(outdir), config, workers or os.cpu_count() or 1, wait)


def _build_or_exit(target: Path, config: dict[str, Any], workers: int, wait: float) -> None:
    """Run the build; print one summary line, or one line saying why not and exit 1 (130 if stopped)."""
    from calfeed.build import site as site  # the web layer loads only for this command

    def waiting(holder: int | None, seconds: float) -> None:
        who = f"another calfeed build (pid {holder})" if holder else "another calfeed build"
        click.echo(f"calfeed build: {target} is being built by {who}; waiting up to "
                   f"{seconds:g} s for it to finish (--wait SECONDS)", err=True)

    try:
        with _terminate_as_interrupt(), _progress() as (update, total):
            summary = site.build(target, config, workers, update, total, wait, waiting)
    except KeyboardInterrupt:
        click.echo(f"calfeed build: interrupted; {target} is unchanged", err=True)
        sys.exit(130)
    except site.BuildError as err:
        click.echo(f"calfeed build: {err}; {target} is unchanged", err=True)
        sys.exit(1)
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        click.echo(f"calfeed build: {where}{err.strerror or err}; {target} is unchanged", err=True)
        sys.exit(1)
    click.echo(f"{summary.outdir}: {summary.files} files, {summary.calendars} calendars "
               f"({summary.changed} changed, {summary.removed} removed) in "
               f"{summary.seconds:.1f} s")


def _show_progress() -> bool:
    """A progress bar only for a person watching a terminal, never in CI logs."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def _interrupt(signum: int, frame: Any) -> None:
    """`kill` (SIGTERM) stops a build as Ctrl-C does: cleaned up, the old site kept."""
    raise KeyboardInterrupt


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while the build runs."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _progress() -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(update, set_total) for a click progress bar on stderr, or no-ops."""
    if not _show_progress():
        yield (lambda n: None), (lambda n: None)
        return
    bars: dict[str, Any] = {}

    def total(n: int) -> None:
        bar = click.progressbar(length=n, label="calendars", file=sys.stderr,
                                show_pos=True, show_eta=False)
        bars["bar"] = bar.__enter__()

    try:
        yield (lambda n: bars["bar"].update(n) if "bar" in bars else None), total
    finally:
        if "bar" in bars:
            bars["bar"].__exit__(None, None, None)


@click.command("diff")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@setting_option("CALFEED_PROVIDERS", "providers_path", " to count providers with",
                default="the file `roster` in NEW names")
@setting_option("CALFEED_TODAY", "today", "; it decides which data years calendars show")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def diff(old: str, new: str, providers_path: str | None, today: date | None,
         as_json: bool) -> None:
    """What an edit does to every calendar; exit 1 if it needs revised raised or a history entry."""
    day = parse_today(today)
    providers_path = setting("CALFEED_PROVIDERS", providers_path)
    problems: list[str] = []
    loaded = []
    # Both files are checked before either is compared, so one run lists every problem.
    for path, roster in ((old, None), (new, providers_path)):
        try:
            loaded.append(rules.load(path, roster, roster=path == new, today=day,
                                     groups_path=setting("CALFEED_GROUPS") if path == new
                                     else None))
        except rules.RulesError as err:
            problems += err.problems
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        sys.exit(1)
    report = changes.compare(loaded[0], loaded[1], day)
    if as_json:
        click.echo(json.dumps(changes.as_dict(report), ensure_ascii=False, indent=2))
    else:
        for problem in report.problems:
            click.echo(problem, err=True)
        click.echo("\n".join(changes.lines(report)))
    sys.exit(1 if report.problems else 0)



@click.command("notify")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send and record nothing.")
@setting_option("CALFEED_STATE", "state")
@setting_option("CALFEED_BASE_URL", "base_url", default="none: required for the links in "
                "each message")
@rules_option
@providers_option
@groups_option
@today_option
@click.option("--time-limit", type=click.FloatRange(min=1),
              help="Seconds a run may send for (default 1800); what is left waits for the next run.")
@with_appcontext
def notify(dry_run: bool, state: str | None, base_url: str | None, rules_path: str | None,
           providers_path: str | None, groups_path: str | None, today: date | None,
           time_limit: float | None) -> None:
    """Email each provider's contacts, and everyone who signed up, the reminders and notices
    due today, and each group's addresses its weekly digest (run it daily)."""
    from calfeed.core import calendars
    from calfeed.notify import dispatch, smtp
    from calfeed.serve import web

    day = parse_today(today)
    app = _current_app()
    loaded = app_rules_or_exit(app, rules_path, providers_path, today, groups_path)
    log = settings.state_path(setting("CALFEED_STATE", state), app.instance_path)
    secret = web.state(app).secret
    site = setting("CALFEED_BASE_URL", base_url)
    # With sign-up on, sign-ups are planned and every message links to its manage page.
    signup = dispatch.Signup(secret, site) if configured()["CALFEED_SIGNUP"] and site else None
    try:
        if dry_run:
            for line in dispatch.preview(log, loaded, day, signup):
                click.echo(f"calfeed notify: {line}")
            return
        mail = settings.mail(configured(), site)
    except (ValueError, dispatch.sendlog.StateError) as err:
        raise click.ClickException(str(err)) from None
    pages = {profile.id: calendars.provider_urls(secret, profile, mail.site)["page"]
             for profile in loaded.providers.values() if profile.contacts}
    group_pages = {group.id: calendars.group_urls(secret, group, mail.site)["page"]
                   for group in loaded.groups.values() if group.contacts}

    def say(line: str, problem: bool) -> None:
        click.echo(f"calfeed notify: {line}", err=problem)

    try:
        with smtp.Mailer(mail.server) as mailer:
            outcome = dispatch.run(log, loaded, day, mail.sender, pages, mailer, say,
                                   time_limit=time_limit or dispatch.RUN_SECONDS,
                                   group_pages=group_pages, signup=signup)
    except dispatch.sendlog.StateError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"calfeed notify: {day.isoformat()}: {len(outcome.sent)} sent, "
               f"{len(outcome.failed)} failed, of {wording.count(outcome.planned, 'message')} due")
    if outcome.failed:
        sys.exit(1)


@click.group("subscribers")
def subscribers() -> None:
    """The email sign-ups: counts per calendar, one address's data exported or deleted."""


def _state_db(state: str | None) -> tuple[Path, sqlite3.Connection]:
    """The state file of this run and the open sign-ups in it, or a one-line error."""
    from calfeed.notify import subscriptions

    app = _current_app()
    path = settings.state_path(setting("CALFEED_STATE", state), app.instance_path)
    if not path.exists():
        raise click.ClickException(f"{path}: no state file yet (expected CALFEED_STATE or "
                                   f"--state to name the server's)")
    try:
        return path, subscriptions.connect(path)
    except subscriptions.StateError as err:
        raise click.ClickException(str(err)) from None


def _calendar_name(key: str, app: Flask, loaded: Rules) -> str:
    """A stored calendar in words: its name and key, or that it no longer exists."""
    from calfeed.notify import signups
    from calfeed.serve import web

    subject = signups.subject_of(key, loaded, parse_today(None), web.state(app).secret)
    return f"{subject.profile.name} ({key})" if subject else f"no longer exists ({key})"


@subscribers.command("counts")
@setting_option("CALFEED_STATE", "state")
@with_appcontext
def subscribers_counts(state: str | None) -> None:
    """Confirmed and waiting sign-ups per calendar."""
    import time

    from calfeed.notify import subscriptions

    app = _current_app()
    loaded = served_rules_or_exit(app)
    _, db = _state_db(state)
    with closing(db):
        found = subscriptions.counts(db, time.time())
        people, stopped = subscriptions.people_counts(db)
    click.echo("confirmed  waiting  calendar")
    for count in found:
        click.echo(f"{count.confirmed:>9}  {count.waiting:>7}  "
                   f"{_calendar_name(count.calendar, app, loaded)}")
    click.echo(f"addresses with a sign-up: {people}; addresses that stopped the roster's "
               f"emails: {stopped}")


@subscribers.command("export")
@click.argument("address")
@setting_option("CALFEED_STATE", "state")
@with_appcontext
def subscribers_export(address: str, state: str | None) -> None:
    """Print, as JSON, everything the state file holds about ADDRESS."""
    from calfeed.notify import subscriptions
    from calfeed.serve import web

    app = _current_app()
    loaded = served_rules_or_exit(app)
    _, db = _state_db(state)
    with closing(db):
        found = subscriptions.export(db, address.strip(), subscriptions.keyed(
            web.state(app).secret, "address", address))
    for entry in found["subscriptions"] + found["waiting_requests"]:
        entry["name"] = _calendar_name(entry["calendar"], app, loaded)
    found["roster"] = _roster_places(loaded, address)
    click.echo(json.dumps(found, ensure_ascii=False, indent=2))


def _roster_places(loaded: Rules, address: str) -> list[str]:
    """Where the roster lists an address: "demo-annual#2" (compared without case)."""
    wanted = address.strip().lower()
    return [f"{p.id}#{n}" for p in loaded.providers.values()
            for n, contact in enumerate(p.contacts, 1) if contact.lower() == wanted]


@subscribers.command("delete")
@click.argument("address")
@setting_option("CALFEED_STATE", "state")
@with_appcontext
def subscribers_delete(address: str, state: str | None) -> None:
    """Delete everything the state file holds about ADDRESS (waits for a notify run to end)."""
    from calfeed.notify import sendlog, subscriptions
    from calfeed.serve import web

    app = _current_app()
    loaded = served_rules_or_exit(app)
    path, db = _state_db(state)
    db.close()

    def waiting(seconds: float) -> None:
        click.echo(f"calfeed subscribers: {path}: a calfeed notify run holds the lock; waiting "
                   f"for it to finish", err=True)

    try:
        # Under the run lock: a run must not confirm a message to the address afterwards.
        with sendlog.SendLog(path, "subscribers delete", on_wait=waiting) as log:
            gone = subscriptions.delete(log.db, address.strip(), subscriptions.keyed(
                web.state(app).secret, "address", address))
    except sendlog.StateError as err:
        raise click.ClickException(str(err)) from None
    click.echo("calfeed subscribers: deleted " + ", ".join(
        f"{n} {table}" for table, n in gone.items()) + " rows of that address")
    places = _roster_places(loaded, address)
    if places:
        click.echo(f"calfeed subscribers: the roster still lists that address ({', '.join(places)}): "
                   f"remove it there, or the next calfeed notify sends to it again", err=True)


COMMANDS = [check, events, links, build, diff, notify, subscribers]


def register(app: Flask) -> None:
    """Put calfeed's commands on an app's CLI, for `flask --app calfeed`."""
    for command in COMMANDS:
        app.cli.add_command(command)


def _start() -> None:
    """Before any command: read the settings once, refusing an unknown or malformed one."""
    configured()


# `calfeed`: Flask's CLI (run, routes, shell) plus ours, without loading the app
# for commands that only read files; --version is calfeed's, not Flask's.
main = FlaskGroup(name="calfeed", create_app=create_app, help="ACCME deadlines as calendar feeds.",
                  add_version_option=False, callback=_start)
click.version_option(package_name="calfeed", prog_name="calfeed",
                     message="%(prog)s %(version)s")(main)  # adds the option to main
for _command in COMMANDS:
    main.add_command(_command)
