"""Groups for the tests: a consultant's group of the four demo providers, and the CMA's.

`acme` is named in every demo provider's `groups` cell (a consultant with four clients);
`cma` has `accreditor = cma`, so demo-state, accredited by the California Medical
Association, is in both.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

GROUPS_CSV = (
    "id,name,email,accreditor,rotation\n"
    "acme,Acme CME Consulting,team@acme-cme.example.com;lead@acme-cme.example.com,,0\n"
    "cma,California Medical Association providers,cme-staff@cma-docs.example.org,cma,0\n"
)
DEMO = ("demo-8-month", "demo-12-month", "demo-annual", "demo-state")
GROUP_ADDRESSES = ("team@acme-cme.example.com", "lead@acme-cme.example.com",
                   "cme-staff@cma-docs.example.org")


def set_groups(data: Path, membership: dict[str, str] | None = None,
               groups_csv: str = GROUPS_CSV) -> None:
    """Name groups.csv in the data folder's rules.toml, write it, and give the roster a
    `groups` column (provider id → cell; by default every demo provider is in acme)."""
    rules = data / "rules.toml"
    text = rules.read_text(encoding="utf-8")
    if 'groups = "groups.csv"' not in text:
        text = text.replace('roster = "providers.csv"\n',
                            'roster = "providers.csv"\ngroups = "groups.csv"\n', 1)
        rules.write_text(text, encoding="utf-8")
    (data / "groups.csv").write_text(groups_csv, encoding="utf-8")
    set_members(data, {p: "acme" for p in DEMO} if membership is None else membership)


def set_members(data: Path, membership: dict[str, str]) -> None:
    """Rewrite the roster's `groups` column: provider id → cell (absent: empty)."""
    roster = data / "providers.csv"
    rows = list(csv.DictReader(io.StringIO(roster.read_text(encoding="utf-8-sig"))))
    fields = [f for f in rows[0] if f != "groups"] + ["groups"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**{f: row.get(f, "") for f in fields},
                         "groups": membership.get(row["id"], "")})
    roster.write_text(out.getvalue(), encoding="utf-8")
