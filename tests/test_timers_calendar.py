"""The business calendar behind "2 working hours from now"."""
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.calendar import BusinessCalendar, load_calendar

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar(SH)


def at(*args):
    return datetime(*args, tzinfo=SH)


def test_working_days_follow_chinas_holidays_and_make_up_days():
    assert CAL.is_working_day(date(2026, 2, 13))        # Friday before the Spring Festival
    assert CAL.is_working_day(date(2026, 2, 14))        # Saturday, worked in exchange (调休)
    assert not CAL.is_working_day(date(2026, 2, 16))    # Monday in the Spring Festival holiday
    assert not CAL.is_working_day(date(2026, 2, 21))    # an ordinary Saturday
    assert CAL.is_working_day("2026-02-24")             # back to work
    assert CAL.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)


def test_working_hours_skip_lunch_evenings_and_holidays():
    assert CAL.add_working_hours(at(2026, 3, 3, 11, 0), 2) == at(2026, 3, 3, 14, 0)   # over lunch
    assert CAL.add_working_hours(at(2026, 3, 3, 17, 30), 1) == at(2026, 3, 4, 9, 30)  # over the night
    assert CAL.add_working_hours(at(2026, 3, 6, 20, 0), 2) == at(2026, 3, 9, 11, 0)   # Friday night to Monday
    assert CAL.add_working_hours(at(2026, 2, 13, 17, 0), 2) == at(2026, 2, 14, 10, 0)  # onto the make-up Saturday
    assert CAL.add_working_hours(at(2026, 2, 14, 17, 0), 2) == at(2026, 2, 24, 10, 0)  # over the Spring Festival
    assert CAL.add_working_hours("2026-03-03T11:00:00", 0.5) == at(2026, 3, 3, 11, 30)  # naive: local time


def test_working_days_keep_the_time_of_day():
    assert CAL.add_working_days(at(2026, 9, 29, 15, 0), 2) == at(2026, 10, 8, 15, 0)
    assert CAL.add_working_days(at(2026, 3, 7, 15, 0), 1) == at(2026, 3, 10, 9, 0)  # from a Saturday


def test_a_deployment_sets_its_own_hours_and_days(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps({"weekdays": [0, 1, 2, 3, 4, 5], "hours": [["08:30", "17:30"]],
                                "holidays": ["2026-03-07"], "builtin_holidays": False}))
    own = load_calendar(SH, {"FOLLOWUP_CALENDAR": str(path)})
    assert own.is_working_day(date(2026, 3, 14))        # Saturdays are worked here...
    assert not own.is_working_day(date(2026, 3, 7))     # ...except this one
    assert own.is_working_day(date(2026, 10, 2))        # no built-in national holidays
    assert own.add_working_hours(at(2026, 3, 6, 17, 0), 1) == at(2026, 3, 9, 9, 0)


def test_a_calendar_without_working_days_fails_instead_of_looping():
    with pytest.raises(ValueError):
        BusinessCalendar(SH, weekdays=frozenset(), workdays=frozenset()).add_working_hours(at(2026, 3, 3, 9, 0), 1)
