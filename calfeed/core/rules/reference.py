"""The README's key tables, made from the schema: `python -m calfeed.core.rules.reference README.md`.

Each table in the README follows a marker `<!-- keys: NAME -->` naming its schema; this
rewrites the table after each marker, and tests/core/test_rules.py fails when they differ.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from calfeed.core.rules.accreditors import ACCREDITOR, RULE
from calfeed.core.rules.document import NOTIFY, TOP
from calfeed.core.rules.groups import COLUMNS as GROUP_COLUMNS
from calfeed.core.rules.history import CHANGE
from calfeed.core.rules.progress import COHORT, PROGRESS, STEP
from calfeed.core.rules.roster import COLUMNS, STEP_COLUMNS
from calfeed.core.rules.schema import Table, markdown
from calfeed.core.rules.tracks import MILESTONE, TRACK, YEARLY

# Every schema the README documents, by the name its marker gives.
TABLES: dict[str, Table] = {t.name: t for t in (TOP, NOTIFY, TRACK, YEARLY, MILESTONE, PROGRESS,
                                                  STEP, COHORT, ACCREDITOR, RULE, CHANGE, COLUMNS,
                                                  STEP_COLUMNS, GROUP_COLUMNS)}
MARKER = re.compile(r"<!-- keys: (.+?) -->\n((?:\|.*\n)*)")


def tables(readme: str) -> dict[str, str]:
    """The key tables a README holds, by the name of their marker."""
    return {match[1]: match[2] for match in MARKER.finditer(readme)}


def rewritten(readme: str) -> str:
    """The README with every marked table made from its schema."""
    return MARKER.sub(lambda m: f"<!-- keys: {m[1]} -->\n{markdown(TABLES[m[1]])}", readme)


def main(argv: list[str]) -> None:
    """Rewrite the key tables of the README files named."""
    for name in argv:
        path = Path(name)
        path.write_text(rewritten(path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
