"""A large synthetic roster for benchmarks and tests: `python bench/roster.py N [--seed S] > providers.csv`.

The mix follows the shape of the ACCME system: a few providers in each progress-report
cohort (about 5% 8-month, 5% 12-month), about 40% offering enduring materials, about 10%
accredited by the California Medical Association, the rest by ACCME directly. The same N
and seed always give the same bytes, so benchmarks and tests are repeatable.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys

# The Next Decision Dates and the accreditor of the bundled rules.toml: a roster naming
# anything else would be rejected by `calfeed check`.
EIGHT_MONTH_NDD = "2024-07-31"
TWELVE_MONTH_NDD = "2024-11-30"
STATE_ACCREDITOR = "cma"
COLUMNS = ("id", "name", "next_decision_date", "enduring_materials", "accreditor", "rotation")

# Names with commas, quotes and accents on purpose: the roster is a spreadsheet export.
_PLACES = ("Northside", "Lakeview", "St. Mary's", "Valley", "Riverside", "Summit", "Bayou",
           "Great Plains", "São Tomé", "Coastal", "Mountain West", "Capital", "Heartland")
_KINDS = ("Health System", "Medical Society", "Hospital", "University School of Medicine",
          "Academy of Family Physicians", "Institute", "Medical Center",
          'Foundation for "Better Care"', "Clinic, Inc.", "College of Cardiology")


def rows(count: int, seed: int = 0) -> list[dict[str, str]]:
    """count synthetic providers p000001…, as roster rows (column name → cell)."""
    pick = random.Random(seed)
    out = []
    for number in range(1, count + 1):
        draw = pick.random()
        ndd = EIGHT_MONTH_NDD if draw < 0.05 else TWELVE_MONTH_NDD if draw < 0.10 else ""
        out.append({
            "id": f"p{number:06d}",
            "name": f"{pick.choice(_PLACES)} {pick.choice(_KINDS)} {number}",
            "next_decision_date": ndd,
            "enduring_materials": "yes" if pick.random() < 0.40 else "no",
            "accreditor": STATE_ACCREDITOR if pick.random() < 0.10 else "",
            # A handful of providers have had their private URL replaced once.
            "rotation": "1" if pick.random() < 0.01 else "0",
        })
    return out


def roster(count: int, seed: int = 0) -> str:
    """The roster CSV text of count synthetic providers (header row first, CRLF lines)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows(count, seed))
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    """Print a synthetic roster of N providers to stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, metavar="N", help="how many providers")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("N must be 0 or more")
    sys.stdout.reconfigure(newline="")  # keep the CSV's CRLF as written, on any platform
    sys.stdout.write(roster(args.count, args.seed))


if __name__ == "__main__":
    main()
