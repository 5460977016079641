"""The email sign-up as a browser and a recipient go through it: an app, the form, the links."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from calfeed.serve import signup
from apps import make_app
from smtpserver import SENDER

SITE = "https://deadlines.example.org"
TRACK = "/tracks/annual-reporting/"
SIGNED_UP = "Check your email"
ME = "pat.doe@example.org"


def signup_app(tmp_path: Path, url: str, today: str = "2025-02-20", **extra):
    """An app offering sign-up, mail to `url`; its sender drained by hand unless asked."""
    config = {"CALFEED_TODAY": today, "CALFEED_SIGNUP": "yes", "CALFEED_SMTP_URL": url,
              "CALFEED_MAIL_FROM": SENDER, "CALFEED_BASE_URL": SITE, "SIGNUP_SENDER": False}
    return make_app(tmp_path, **{**config, **extra})


def field(html: str, name: str) -> str:
    """A hidden field's value in a page."""
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def form_action(html: str) -> str:
    """The action of the page's sign-up form."""
    return re.search(r'class="signup-form" method="post" action="([^"]*)" novalidate', html).group(1) \
        .replace("&amp;", "&")


def sign_up(client, page: str, address: str = ME, remind: str = "1m1w1d", notices: bool = True,
            **headers: str):
    """Fill in and send the sign-up form of a calendar page, as a browser does."""
    html = client.get(page).get_data(as_text=True)
    data = {"form": field(html, "form"), "email": address, "remind": remind}
    if notices:
        data["notices"] = "yes"
    return client.post(form_action(html), data=data, headers=headers)


def drain(app) -> int:
    """Let the app's confirmation sender send what is queued."""
    return signup.extension(app).sender.drain()


def link(message: EmailMessage, prefix: str) -> str:
    """A link of the site in a message's text part, as a path."""
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"{re.escape(SITE)}(/{prefix}/\S+)", text).group(1)


def confirm(client, path: str):
    """Open a confirmation link and press its button."""
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={"form": field(page.get_data(as_text=True), "form")})


def subscribed(app, client, handler, page: str = TRACK, address: str = ME, **choice):
    """Sign up, receive the confirmation and follow it; the confirmed page."""
    assert sign_up(client, page, address, **choice).status_code == 200
    assert drain(app) == 1
    ((to,), message), = handler.take()
    assert to == address
    done = confirm(client, link(message, "confirm"))
    assert "Your email reminders are on" in done.get_data(as_text=True)
    return done


def notify(app, day: str):
    """`calfeed notify --today DAY`, as the daily timer runs it, with the app's settings."""
    return app.test_cli_runner().invoke(args=["notify", "--today", day])


def to(handler, address: str) -> list[EmailMessage]:
    """The messages received by one address since the last look."""
    return [message for tos, message in handler.take() if address in tos]
