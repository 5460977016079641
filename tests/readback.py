"""A feed's timed events read back as three independent parsers read them, zone included.

Each reader takes every DTSTART's zone from the feed's own VTIMEZONE, as Outlook and
any client without the IANA zone database must, and never from tzdata:

- vobject (dateutil's tzical under it) keeps one zone per TZID for the whole process,
  the first it met (or one it deems equal); here each feed's VTIMEZONE is read for
  that feed alone.
- python `ical` prefers tzdata for a TZID it knows; here its IcsTimezoneInfo, its
  reading of the VTIMEZONE, is put on the event's local time instead.
- ical.js (Thunderbird, many web calendars), run by Node on tests/icaljs/read.mjs,
  knows no zone database: it reads TZID through the VTIMEZONE of the same file.

Every reader returns {UID: the UTC instant of DTSTART}, for timed events only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import vobject
from ical.calendar_stream import IcsCalendarStream
from ical.timezone import IcsTimezoneInfo

UTC = timezone.utc
ICALJS = Path(__file__).parent / "icaljs"


def by_vobject(feed: bytes) -> dict[str, datetime]:
    """vobject's instants, through the feed's own VTIMEZONEs."""
    text = feed.decode("utf-8")
    zones = {vtz.tzid.value: vtz.gettzinfo()
             for vtz in vobject.readOne(text).contents.get("vtimezone", [])}
    # Read untransformed: vobject gives a DTSTART the zone it registered first for its
    # TZID, or any registered zone it deems equal, whatever the TZID.
    found = {}
    for event in vobject.readOne(text, transform=False).vevent_list:
        start = event.dtstart
        if len(start.value) == 8:  # a DATE: an all-day event
            continue
        local = datetime.strptime(start.value.rstrip("Z"), "%Y%m%dT%H%M%S")
        zone = UTC if start.value.endswith("Z") else zones[start.params["TZID"][0]]
        found[event.uid.value] = local.replace(tzinfo=zone).astimezone(UTC)
    return found


def by_ical(feed: bytes) -> dict[str, datetime]:
    """python `ical`'s instants, through its reading of the feed's own VTIMEZONEs."""
    calendar = IcsCalendarStream.calendar_from_ics(feed.decode("utf-8"))
    zones = {tz.tz_id: IcsTimezoneInfo.from_timezone(tz) for tz in calendar.timezones}
    # A time in UTC (...Z) names no zone; any other gets the feed's own by its TZID.
    return {e.uid: (e.dtstart if e.dtstart.tzinfo == UTC else
                    e.dtstart.replace(tzinfo=zones[str(e.dtstart.tzinfo)])).astimezone(UTC)
            for e in calendar.events if isinstance(e.dtstart, datetime)}


def by_icaljs(feeds: Sequence[bytes]) -> list[dict[str, datetime]]:
    """ical.js's instants for each feed, in one run of Node."""
    node = shutil.which("node")
    assert node and (ICALJS / "node_modules" / "ical.js").is_dir(), (
        "ical.js is not installed: scripts/test installs Node.js and runs "
        "`npm ci --prefix tests/icaljs`")
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for number, feed in enumerate(feeds):
            path = Path(folder) / f"{number}.ics"
            path.write_bytes(feed)
            paths.append(str(path))
        done = subprocess.run([node, str(ICALJS / "read.mjs"), *paths], capture_output=True,
                              text=True, check=True, timeout=300)
    read = json.loads(done.stdout)
    return [{uid: datetime.fromtimestamp(seconds, UTC) for uid, seconds in read[path].items()}
            for path in paths]
