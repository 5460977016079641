// Reads each .ics file named on the command line with ical.js, as Thunderbird and
// many web calendars do, and prints JSON: for each file, the UTC instant (Unix
// seconds) ical.js gives every timed event's DTSTART, by UID. ical.js knows no zone
// database: it reads TZID=... through the VTIMEZONE of the same file.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const result = {};
for (const path of process.argv.slice(2)) {
  const root = new ICAL.Component(ICAL.parse(readFileSync(path, "utf8")));
  const instants = {};
  for (const vevent of root.getAllSubcomponents("vevent")) {
    const start = vevent.getFirstPropertyValue("dtstart");
    if (!start.isDate) {
      instants[vevent.getFirstPropertyValue("uid")] = start.toUnixTime();
    }
  }
  result[path] = instants;
}
process.stdout.write(JSON.stringify(result));
