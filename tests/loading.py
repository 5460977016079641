"""A rules text loaded as `calfeed check` loads it: the one-line problems it reports."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from calfeed.core import rules

EMPTY_ROSTER = "id,name\n"


def problems(folder: Path, text: str, roster: str | None = EMPTY_ROSTER,
             today: date | None = None) -> list[str]:
    """The problem lines of a rules text, without the file's name; [] if it loads.

    The text is written to folder/rules.toml and the roster text beside it as
    providers.csv; with roster None the rules load without a roster.
    """
    path = folder / "rules.toml"
    path.write_text(text, encoding="utf-8")
    try:
        if roster is None:
            rules.load(path, roster=False, today=today)
        else:
            (folder / "providers.csv").write_text(roster, encoding="utf-8")
            rules.load(path, folder / "providers.csv", today=today)
    except rules.RulesError as err:
        return [line.removeprefix(f"{path}: ") for line in err.problems]
    return []
