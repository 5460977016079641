"""Production serving: real gunicorn with deploy/gunicorn.conf.py, two workers (docs/design.md §7)."""

from __future__ import annotations

import pytest

from serving import gunicorn, fetch

pytestmark = pytest.mark.gunicorn

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install calfeed[serve])")


@pytest.fixture
def server(tmp_path):
    """gunicorn serving `calfeed:create_app()` on the bundled data, on a loopback port."""
    with gunicorn(tmp_path, access_log_format=None) as running:
        yield running.base


def test_gunicorn_serves_feeds_pages_and_304s(server):
    status, headers, body = fetch(server + "/tracks/annual-reporting.ics")
    assert status == 200
    assert headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert body.startswith(b"BEGIN:VCALENDAR\r\n")
    # both workers compute the same validators, so the 304 holds whichever answers
    for _ in range(6):
        again, again_headers, again_body = fetch(server + "/tracks/annual-reporting.ics",
                                                 {"If-None-Match": headers["ETag"]})
        assert again == 304
        assert again_body == b""
        assert again_headers["ETag"] == headers["ETag"]
    status, headers, body = fetch(server + "/calendar/?next_decision_date=2024-07-31")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"Wednesday, January 24, 2024" in body
    assert f'>{server}/calendar.ics?next_decision_date=2024-07-31</textarea>'.encode() in body
    health = fetch(server + "/healthz")
    assert health[0] == 200 and b'"status":"ok"' in health[2].replace(b" ", b"")
