"""Intermediate timer catch events: a duration, a date computed from data, dates without an offset."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from conftest import bpmn_file
from timer_support import actions, advance_to, fire_due, open_tasks, timer_rows

from engine import clock
from engine.config import load_settings
from engine.runtime import Engine


def test_a_duration_then_a_date_sixty_days_before_the_contract_ends(engine):
    engine.deploy([bpmn_file("timer_renewal.bpmn")])
    contract_end = (clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=200))
    iid = engine.start("timer_renewal", "C-10", {"contract_end": contract_end.isoformat()})

    (settle,) = timer_rows(engine, iid)
    assert settle.element_id == "settle_in"
    assert timedelta(minutes=29) < settle.due_at - clock.now() <= timedelta(minutes=30)
    clock.advance(timedelta(minutes=29))
    assert fire_due(engine) == 0
    advance_to(settle.due_at)
    assert fire_due(engine) == 1

    (renewal,) = timer_rows(engine, iid)
    assert renewal.element_id == "before_end"
    # Midnight at the start of the 60th day before the end, in Shanghai, stored in UTC.
    expected = datetime.combine(contract_end - timedelta(days=60), datetime.min.time(), ZoneInfo("Asia/Shanghai"))
    assert renewal.due_at == expected.astimezone(timezone.utc)
    assert engine.instance(iid)["variables"]["welcomed"] is True
    assert open_tasks(engine, iid) == []

    advance_to(renewal.due_at, past=-timedelta(minutes=1))
    assert fire_due(engine) == 0
    advance_to(renewal.due_at)
    assert fire_due(engine) == 1
    assert open_tasks(engine, iid) == ["renewal_talk"]
    assert [e.element_id for e in actions(engine, iid, "timer_fired")] == ["settle_in", "before_end"]


def test_a_date_without_offset_is_read_in_the_deployments_time_zone(engine):
    engine.deploy([bpmn_file("timer_local_date.bpmn")])
    shanghai = engine.start("timer_local_date")
    (row,) = timer_rows(engine, shanghai)
    assert row.due_at == datetime(2099, 12, 1, 1, 0, tzinfo=timezone.utc)  # 09:00 at UTC+8

    settings = load_settings({"DATABASE_URL": str(engine.db.url), "FOLLOWUP_TIMEZONE": "Europe/Berlin"})
    berlin_engine = Engine(settings, db=engine.db)
    berlin = berlin_engine.start("timer_local_date")
    (row,) = timer_rows(engine, berlin)
    assert row.due_at == datetime(2099, 12, 1, 8, 0, tzinfo=timezone.utc)  # 09:00 at UTC+1 (winter)


def test_two_working_hours_skip_the_evening_the_weekend_and_a_public_holiday(engine):
    engine.deploy([bpmn_file("timer_working_hours.bpmn")])
    shanghai = ZoneInfo("Asia/Shanghai")
    # Thursday 30 April 2026, 17:00: one working hour left that day, then the Labour Day holiday (1-5 May).
    advance_to(datetime(2026, 4, 30, 17, 0, tzinfo=shanghai), past=timedelta(0))
    iid = engine.start("timer_working_hours")
    (row,) = timer_rows(engine, iid)
    assert abs(row.due_at - datetime(2026, 5, 6, 10, 0, tzinfo=shanghai)) < timedelta(seconds=5)
    advance_to(row.due_at)
    assert fire_due(engine) == 1
    assert open_tasks(engine, iid) == ["escalate"]
