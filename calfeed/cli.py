"""The command line, on Flask's CLI: `calfeed …` and `flask --app calfeed …` alike."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from . import bundled, create_app, engine, export, rules
from .model import Event, Profile, Rules

rules_option = click.option(
    "--rules", "rules_path", envvar="CALFEED_RULES", type=click.Path(dir_okay=False),
    help="rules.toml to read (default: the bundled one; env CALFEED_RULES).")
providers_option = click.option(
    "--providers", "providers_path", envvar="CALFEED_PROVIDERS", type=click.Path(dir_okay=False),
    help="Roster CSV (default: the one rules.toml names; env CALFEED_PROVIDERS).")


def parse_today(value: str | None) -> date:
    """Today: the given YYYY-MM-DD, else CALFEED_TODAY, else the clock."""
    value = value or os.environ.get("CALFEED_TODAY")
    if not value:
        return date.today()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (expected YYYY-MM-DD)", param_hint="today")
    # The yearly track runs to two deadlines after today: a today in 9998 needs year 10000.
    if day.year not in rules.YEARS:
        raise click.BadParameter(f"{value!r} is out of range (expected a date in the years "
                                 f"{rules.YEARS[0]}-{rules.YEARS[-1]})", param_hint="today")
    return day


def load_or_exit(rules_path: str | None, providers_path: str | None) -> Rules:
    """Load the rules, or print every problem (one line each) and exit 1."""
    try:
        return rules.load(rules_path or bundled("rules.toml"), providers_path)
    except rules.RulesError as err:
        for problem in err.problems:
            click.echo(problem, err=True)
        sys.exit(1)


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
def check(rules_path: str | None, providers_path: str | None) -> None:
    """Validate rules.toml and the roster; list every problem and exit 1 if any."""
    loaded = load_or_exit(rules_path, providers_path)
    milestones = sum(len(t.milestones) for t in loaded.tracks.values())
    counts = ", ".join(_count(n, word) for n, word in (
        (len(loaded.tracks), "track"), (milestones, "milestone"),
        (len(loaded.accreditors), "accreditor"), (len(loaded.providers), "provider")))
    click.echo(f"{loaded.path}: OK: {counts} "
               f"(revised {loaded.revised.isoformat().replace('+00:00', 'Z')})")


def _count(number: int, word: str) -> str:
    """"1 track", "3 tracks"."""
    return f"{number} {word}{'' if number == 1 else 's'}"


def _when(event: Event) -> str:
    """An event's date as a person reads it, in its true precision."""
    start = event.start
    if start is None:
        return event.when or "undated"
    if event.precision == "month":
        return f"{start:%B %Y}"
    if isinstance(start, datetime):
        return f"{start:%Y-%m-%d %H:%M} {start.tzname()}"
    return start.isoformat()


def table(events: list[Event]) -> str:
    """A readable, aligned table of events."""
    rows = [(_when(e), e.status, e.actor, e.track, e.title) for e in events]
    heads = ("when", "status", "actor", "track", "title")
    widths = [max(len(r[i]) for r in rows + [heads]) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4]
             for r in [heads] + rows]
    return "\n".join(lines)


@click.command("events")
@click.argument("provider")
@click.option("--today", help="Pin today (YYYY-MM-DD; env CALFEED_TODAY).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON contract instead of a table.")
@rules_option
@providers_option
def events(provider: str, today: str | None, as_json: bool, rules_path: str | None,
           providers_path: str | None) -> None:
    """List a provider's events: a table, or the JSON contract with --json."""
    day = parse_today(today)
    loaded = load_or_exit(rules_path, providers_path)
    profile = find_provider(loaded, provider)
    found = engine.schedule(loaded, profile, day)
    if as_json:
        click.echo(export.to_json(engine.calendar(loaded, profile), found), nl=False)
    else:
        click.echo(table(found))


@click.command("links")
@click.argument("provider", required=False)
@click.option("--base-url", help="The site's address (default: CALFEED_BASE_URL, else "
              "http://127.0.0.1:5000, where `calfeed run` serves).")
@with_appcontext
def links(provider: str | None, base_url: str | None) -> None:
    """Print each provider's private page and feed URLs (they need the server's secret key)."""
    from . import web  # the app knows the secret key; `check` need not import the web layer

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        snap = web.snapshot(app)
    except web.Unavailable as err:
        for problem in err.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    assert snap.rules is not None
    chosen = [find_provider(snap.rules, provider)] if provider else list(snap.rules.providers.values())
    site = (base_url or app.config.get("CALFEED_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    for n, profile in enumerate(chosen):
        if n:
            click.echo()
        click.echo(f"{profile.id}: {profile.name}")
        for label, url in web.provider_urls(app, profile, site).items():
            click.echo(f"  {label:<7}{url}")


@click.command("build")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--base-url", envvar="CALFEED_BASE_URL",
              help="The site's public address, for subscribe links (env CALFEED_BASE_URL).")
@click.option("--today", help="Pin today (YYYY-MM-DD; env CALFEED_TODAY).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Processes for large rosters (default: all cores).")
@rules_option
@providers_option
def build(outdir: str, base_url: str | None, today: str | None, workers: int | None,
          rules_path: str | None, providers_path: str | None) -> None:
    """Write every page and feed to OUTDIR for a static host, swapped in atomically."""
    from . import build as site  # the web layer loads only for this command

    day = parse_today(today)
    load_or_exit(rules_path, providers_path)
    site.run(outdir, rules_path or str(bundled("rules.toml")), providers_path, base_url, day,
             workers)


COMMANDS = [check, events, links, build]


def register(app: Flask) -> None:
    """Put calfeed's commands on an app's CLI, for `flask --app calfeed`."""
    for command in COMMANDS:
        app.cli.add_command(command)


# `calfeed`: Flask's CLI (run, routes, shell) plus ours, without loading the app
# for commands that only read files.
main = FlaskGroup(name="calfeed", create_app=create_app, help="ACCME deadlines as calendar feeds.")
for _command in COMMANDS:
    main.add_command(_command)
