from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

from reltime import ago

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@freeze_time(NOW)
def test_past_times_read_ago():
    assert ago(NOW - timedelta(minutes=5)) == "5 minutes ago"
    assert ago(NOW - timedelta(days=3)) == "3 days ago"


@freeze_time(NOW)
def test_close_times_read_just_now():
    assert ago(NOW - timedelta(seconds=3)) == "just now"
    assert ago(NOW + timedelta(seconds=3)) == "just now"


def test_an_explicit_now_needs_no_clock():
    assert ago(NOW - timedelta(hours=2), now=NOW) == "2 hours ago"


def test_the_clock_moves_on():
    with freeze_time(NOW) as frozen:
        posted = datetime.now(UTC)
        frozen.tick(timedelta(minutes=3))
        assert ago(posted) == "3 minutes ago"


@freeze_time(NOW)
def test_future_times_read_in():
    # The README promises "in 5 minutes" for a moment ahead of now.
    assert ago(NOW + timedelta(minutes=5)) == "in 5 minutes"
    assert ago(NOW + timedelta(days=2)) == "in 2 days"
