from datetime import timedelta

import pytest

from reltime import naturaldelta


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0 seconds"),
        (timedelta(seconds=1), "1 second"),
        (timedelta(seconds=59), "59 seconds"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=90), "1 hour"),
        (timedelta(hours=49), "2 days"),
        (timedelta(days=14), "2 weeks"),
        (timedelta(days=45), "1 month"),
        (timedelta(days=800), "2 years"),
    ],
)
def test_the_largest_whole_unit(delta, text):
    assert naturaldelta(delta) == text


def test_the_sign_is_ignored():
    assert naturaldelta(timedelta(minutes=-5)) == "5 minutes"
