"""Load and check rules.toml and the roster: every problem at once, one line each.

The only package that reads data files. A problem reads `FILE: WHERE: what is wrong
(expected …)`, so a coordinator can find the place without a traceback; a warning says
`warning:` after WHERE and stops nothing. By job:

    report     the problem report         schema      keys declared as data, the one loop
    values     value parsers              text        texts every output carries as written
    tracks     [tracks.ID]                progress    [progress], its steps and cohorts
    accreditors [accreditors.ID]          document    the top level, [notify], rules.toml whole
    history    `changes` of a date        checks      checks across keys and tables
    roster     providers.csv              sheets      CSV files read by a column schema
    groups     groups.csv
    ndd        which Next Decision Dates  files       size limit and UTF-8 diagnostics
    reported   dates from a provider's own decision report (the roster's, the builder's)
    reference  the README's key tables, made from the schema
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from calfeed.core.dates import YEARS
from calfeed.core.model import ACTORS, MOVES, Rules
from calfeed.core.rules import checks, files
from calfeed.core.rules.document import parse_rules
from calfeed.core.rules.groups import GROUP_COLUMNS, parse_groups
from calfeed.core.rules.ndd import first_ndd, last_ndd, ndd_accepted, ndd_problem
from calfeed.core.rules.report import Report, RulesError
from calfeed.core.rules.roster import MAX_ROWS as MAX_ROSTER_ROWS
from calfeed.core.rules.roster import ROSTER_COLUMNS, parse_roster
from calfeed.core.rules.tracks import DATE_FORMS, MILESTONE

__all__ = ["ACTORS", "DATE_FORMS", "GROUP_COLUMNS", "MAX_GROUPS_BYTES", "MAX_ROSTER_BYTES", "MAX_ROSTER_ROWS", "MAX_RULES_BYTES", "MILESTONE_KEYS",
           "MOVES", "ROSTER_COLUMNS", "YEARS", "Rules", "RulesError", "first_ndd", "last_ndd",
           "load", "ndd_accepted", "ndd_problem"]

# Big enough for any real schedule and for a roster of every ACCME provider many
# times over; small enough that a wrong file (a log, a database dump) is refused
# before it is parsed. A server holds two rosters while it reloads: at 100,000
# providers (about 30 times every provider ACCME and the state accreditors have) a
# worker peaks near 300 MiB and reloads in seconds; 950,000 rows (50.7 MB) took 1.4 GiB
# per worker and a minute (roster.MAX_ROWS counts the rows).
MAX_RULES_BYTES = 1 << 20
MAX_ROSTER_BYTES = 16 << 20
MAX_GROUPS_BYTES = 1 << 20
MILESTONE_KEYS = MILESTONE.names


def load(rules_path: str | Path, providers_path: str | Path | None = None,
         roster: bool = True, today: date | None = None,
         groups_path: str | Path | None = None) -> Rules:
    """Load rules.toml, its roster and its groups file, or raise RulesError listing every problem.

    With roster=False neither the roster nor the groups file rules.toml names is read
    (`calfeed diff` reads the old rules alone: their roster may be gone, and the new one
    is what counts).
    `today` (default: the clock) bounds the roster's Next Decision Dates from above.
    Warnings (unusual but possible) are the Rules' `warnings`, or the RulesError's.
    """
    rules_path = Path(rules_path)
    report = Report(str(rules_path))
    text = files.read(rules_path, MAX_RULES_BYTES, report)
    if text is None:
        raise RulesError(report.problems)
    parsed = parse_rules(report, text)
    problems, warnings = report.problems, report.warnings
    if providers_path is None and parsed is not None and parsed.roster and roster:
        providers_path = rules_path.parent / parsed.roster
    if groups_path is None and parsed is not None and parsed.groups and roster:
        groups_path = rules_path.parent / parsed.groups
    rows, group_ids = None, None
    if groups_path is not None and parsed is not None:
        board = Report(str(groups_path))
        board_text = files.read(Path(groups_path), MAX_GROUPS_BYTES, board, rows=True)
        # A file that does not read at all (its problem is reported) leaves the roster's
        # group cells unchecked, rather than making each of them a problem too.
        if board_text is not None:
            rows, group_ids = parse_groups(board, board_text, parsed.accreditor_ids,
                                           today or date.today())
        else:
            rows = {}
        problems += board.problems
        warnings += board.warnings
    providers = {}
    if providers_path is not None and parsed is not None:
        sheet = Report(str(providers_path))
        sheet_text = files.read(Path(providers_path), MAX_ROSTER_BYTES, sheet, rows=True)
        if sheet_text is not None:
            providers = parse_roster(sheet, sheet_text, parsed.first_ndd, parsed.accreditor_ids,
                                     today or date.today(), parsed.steps, group_ids,
                                     Path(groups_path).name if groups_path else "")
        problems += sheet.problems
        warnings += sheet.warnings
    groups = {}
    if rows:
        board = Report(str(groups_path))
        groups = checks.members(board, rows, providers)
        warnings += board.warnings
    if problems or parsed is None or parsed.revised is None:
        raise RulesError(problems, warnings)
    return Rules(str(rules_path), parsed.revised, parsed.tracks, parsed.accreditors, providers,
                 str(providers_path) if providers_path else None, lead_days=parsed.lead_days,
                 progress=parsed.progress, warnings=tuple(warnings), groups=groups,
                 groups_path=str(groups_path) if groups_path else None,
                 digest_day=parsed.digest_day, digest_weeks=parsed.digest_weeks)
