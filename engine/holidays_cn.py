"""China's public holidays and make-up working days (调休上班), from the State Council's yearly notices
(国务院办公厅关于…部分节假日安排的通知). Add a year when its notice is out (usually in November), or
give the dates in a deployment's calendar file (FOLLOWUP_CALENDAR).
"""
from datetime import date, timedelta


def _days(first, last):
    day, out = date.fromisoformat(first), []
    while day <= date.fromisoformat(last):
        out.append(day)
        day += timedelta(days=1)
    return out


HOLIDAYS = frozenset(
    # 2025
    _days("2025-01-01", "2025-01-01") + _days("2025-01-28", "2025-02-04") + _days("2025-04-04", "2025-04-06")
    + _days("2025-05-01", "2025-05-05") + _days("2025-05-31", "2025-06-02") + _days("2025-10-01", "2025-10-08")
    # 2026
    + _days("2026-01-01", "2026-01-03") + _days("2026-02-15", "2026-02-23") + _days("2026-04-04", "2026-04-06")
    + _days("2026-05-01", "2026-05-05") + _days("2026-06-19", "2026-06-21") + _days("2026-09-25", "2026-09-27")
    + _days("2026-10-01", "2026-10-07")
)

MAKEUP_WORKDAYS = frozenset(date.fromisoformat(d) for d in (
    "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
    "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
))

YEARS = (2025, 2026)
