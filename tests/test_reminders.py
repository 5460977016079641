"""Reminder choices (`?remind=`): what is accepted, and the one-line reason for what is not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calfeed import reminders


@pytest.mark.parametrize("text, expected", [
    ("P14D,P2D", (timedelta(days=14), timedelta(days=2))),
    ("P2D,P14D", (timedelta(days=14), timedelta(days=2))),
    (" p14d , P2W ,P1D", (timedelta(days=14), timedelta(days=1))),
    ("PT12H", (timedelta(hours=12),)),
    ("P1DT12H", (timedelta(days=1, hours=12),)),
    ("P366D", (timedelta(days=366),)),
    ("", ()),
])
def test_accepted_reminders(text, expected):
    assert reminders.parse(text) == expected


@pytest.mark.parametrize("text, message", [
    ("P14X", "remind: 'P14X' is not an ISO 8601 duration "
             "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("14", "remind: '14' is not an ISO 8601 duration "
           "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("P", "remind: 'P' is not an ISO 8601 duration "
          "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("P14D,", "remind: '' is not an ISO 8601 duration "
              "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("-P14D", "remind: '-P14D' is not a positive duration "
              "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("PT0S", "remind: 'PT0S' is not a positive duration "
             "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("P1M", "remind: 'P1M' counts years or months, which have no fixed length "
            "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("P367D", "remind: 'P367D' is longer than a year "
              "(expected up to 3 durations like P14D,P2D or PT12H, each at most P366D)"),
    ("P1D,P2D,P3D,P4D", "remind: 4 durations are too many "
                        "(expected up to 3 durations like P14D,P2D or PT12H)"),
])
def test_refused_reminders(text, message):
    with pytest.raises(ValueError) as caught:
        reminders.parse(text)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)
