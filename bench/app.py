"""calfeed's app with one bench-only route: the ceiling, for `gunicorn "bench.app:create_app()"`.

The ceiling answers constant bytes: the very body and headers of a real feed (named by
BENCH_FEED_PATH), fetched once when the worker starts. Whatever separates the warm feed
from it is calfeed's own per-request work; what they share is Flask's and gunicorn's.
The route lives here, never in calfeed's own routes.
"""

from __future__ import annotations

import os

from flask import Flask, Response

import calfeed

CEILING_PATH = "/bench/ceiling.ics"
# The headers a feed answer carries, copied as constants into the ceiling's answer.
COPIED = ("Content-Type", "ETag", "Last-Modified", "Cache-Control")


def create_app() -> Flask:
    """calfeed's app from the CALFEED_* environment, plus the ceiling route."""
    app = calfeed.create_app()
    # Filled in below; registered first, since Flask refuses routes after a request.
    answer: dict[str, object] = {"body": b"",
                                 "headers": {"Content-Type": "text/calendar; charset=utf-8"}}

    def ceiling() -> Response:
        """The same bytes as the feed, with no work at all to find them."""
        return Response(answer["body"], headers=answer["headers"])

    app.add_url_rule(CEILING_PATH, "bench_ceiling", ceiling)
    path = os.environ.get("BENCH_FEED_PATH", "")
    if path:
        feed = app.test_client().get(path)
        if feed.status_code != 200:
            raise RuntimeError(f"BENCH_FEED_PATH {path} answered {feed.status_code}")
        answer["body"] = feed.get_data()
        answer["headers"] = {name: feed.headers[name] for name in COPIED if name in feed.headers}
    return app
