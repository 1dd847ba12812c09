"""The business calendar: which days are working days and which hours are working hours, so timers can
say "2 working hours from now" or "3 working days after the contract was signed".

A working day is a weekday in `weekdays` (Monday is 0) that is not a holiday, or any make-up working day
(China's 调休: a Saturday or Sunday worked in exchange for a longer holiday). Working hours are periods of
the day in the deployment's time zone (FOLLOWUP_TIMEZONE); the default is 09:00-12:00 and 13:00-18:00
with China's public holidays built in. A deployment overrides any of it with FOLLOWUP_CALENDAR, a JSON
file: {"weekdays": [0,1,2,3,4], "hours": [["09:00","12:00"],["13:30","18:00"]], "holidays": ["2027-01-01"],
"workdays": ["2027-02-06"], "builtin_holidays": true}.

Timer expressions and scripts get the helpers from `helpers()`; they return aware datetimes, so use
them in a timeDate: `<bpmn:timeDate>working_hours_from_now(2)</bpmn:timeDate>`.
"""
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from engine import clock
from engine import holidays_cn

DEFAULT_HOURS = ((time(9, 0), time(12, 0)), (time(13, 0), time(18, 0)))
_MAX_DAYS_SEARCHED = 3660  # a calendar with no working day at all must fail, not loop


@dataclass(frozen=True)
class BusinessCalendar:
    zone: object
    weekdays: frozenset = frozenset({0, 1, 2, 3, 4})
    hours: tuple = DEFAULT_HOURS
    holidays: frozenset = field(default_factory=lambda: holidays_cn.HOLIDAYS)
    workdays: frozenset = field(default_factory=lambda: holidays_cn.MAKEUP_WORKDAYS)

    # ---- days ---------------------------------------------------------------------------------------
    def is_working_day(self, day) -> bool:
        day = self._day(day)
        if day in self.workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def next_working_day(self, day, include_today=False) -> date:
        day = self._day(day)
        if not include_today:
            day += timedelta(days=1)
        for _ in range(_MAX_DAYS_SEARCHED):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("the business calendar has no working day in ten years")

    # ---- hours --------------------------------------------------------------------------------------
    def _periods(self, day):
        return [(datetime.combine(day, start, self.zone), datetime.combine(day, end, self.zone))
                for start, end in self.hours]

    def next_working_time(self, moment=None) -> datetime:
        """`moment` if it is within working hours, else the start of the next working period."""
        moment = self._moment(moment)
        day = moment.date()
        for _ in range(_MAX_DAYS_SEARCHED):
            if self.is_working_day(day):
                for start, end in self._periods(day):
                    if moment < end:
                        return max(moment, start)
            day = self.next_working_day(day)
            moment = datetime.combine(day, time(0, 0), self.zone)
        raise ValueError("the business calendar has no working hours")

    def add_working_hours(self, moment, hours) -> datetime:
        """The moment `hours` working hours after `moment` (which may be outside working hours)."""
        if hours < 0:
            raise ValueError("working hours to add must not be negative")
        left = timedelta(hours=hours)
        current = self.next_working_time(moment)
        while True:
            end = next(e for s, e in self._periods(current.date()) if s <= current < e)
            if current + left <= end:
                return current + left
            left -= end - current
            current = self.next_working_time(end)

    def add_working_days(self, moment, days) -> datetime:
        """The same time of day `days` working days later (a start off a working day counts from the next
        one); a result outside working hours moves to the next working time."""
        moment = self._moment(moment)
        day = moment.date()
        if not self.is_working_day(day):
            day = self.next_working_day(day)
            moment = datetime.combine(day, self.hours[0][0], self.zone)
        for _ in range(int(days)):
            day = self.next_working_day(day)
        return self.next_working_time(datetime.combine(day, moment.timetz().replace(tzinfo=None), self.zone))

    # ---- inputs -------------------------------------------------------------------------------------
    def _moment(self, value) -> datetime:
        if value is None:
            return clock.now().astimezone(self.zone)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, time(0, 0))
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(self.zone)

    def _day(self, value) -> date:
        if isinstance(value, str):
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        if isinstance(value, datetime):
            return self._moment(value).date()
        return value


def _parse_time(text):
    return time.fromisoformat(text)


def load_calendar(zone, environ=None) -> BusinessCalendar:
    """The deployment's calendar: the defaults, overridden by the JSON file FOLLOWUP_CALENDAR names."""
    env = os.environ if environ is None else environ
    path = env.get("FOLLOWUP_CALENDAR")
    if not path:
        return BusinessCalendar(zone)
    with open(path, encoding="utf-8") as handle:
        spec = json.load(handle)
    builtin = spec.get("builtin_holidays", True)
    holidays = set(holidays_cn.HOLIDAYS if builtin else ()) | {date.fromisoformat(d) for d in spec.get("holidays", [])}
    workdays = set(holidays_cn.MAKEUP_WORKDAYS if builtin else ()) | {date.fromisoformat(d)
                                                                       for d in spec.get("workdays", [])}
    hours = tuple((_parse_time(a), _parse_time(b)) for a, b in spec.get("hours", [])) or DEFAULT_HOURS
    return BusinessCalendar(zone, frozenset(spec.get("weekdays", [0, 1, 2, 3, 4])), hours,
                            frozenset(holidays), frozenset(workdays))


def helpers(calendar: BusinessCalendar) -> dict:
    """Functions for timer expressions and scripts."""
    return {
        "working_hours_from_now": lambda hours: calendar.add_working_hours(None, hours),
        "working_days_from_now": lambda days: calendar.add_working_days(None, days),
        "add_working_hours": calendar.add_working_hours,
        "add_working_days": calendar.add_working_days,
        "is_working_day": calendar.is_working_day,
        "next_working_time": calendar.next_working_time,
    }
