"""Counts for the web pages (the supervisor's cockpit, the designer's versions), always narrowed by the
user's reach (`engine.access`), like every listing in `queries`.

Each function takes the Engine, the user and the ProcessGroups the API uses (which processes name a
group), and opens its own read-only connection, as the reports do.
"""
from datetime import datetime

import sqlalchemy as sa

from engine import access, clock
from engine.identity import User
from engine.instances import queries
from engine.instances.process_groups import ProcessGroups
from engine.clock import utc
from engine.status import FINAL, InstanceStatus
from engine.storage.database import reader
from engine.storage.schema import audit_events, definitions, human_task_groups, human_tasks, instances

RUNNING = tuple(s for s in InstanceStatus if s not in FINAL)  # every status but the final ones
NO_TEAM = ""  # the team of a task offered to no group


def _processes_of(conn, process_groups: ProcessGroups, user: User) -> list[str]:
    return [] if user.role in access.SEES_ALL_INSTANCES else process_groups.processes_of(conn, user.groups)


def cockpit(engine, process_groups: ProcessGroups, user: User, day_start: datetime, now: datetime | None = None,
            incidents=20) -> dict:
    """What a supervisor looks at first, within their reach:

    - `processes`: [{process_key, statuses: {status: count}, running}] for the instances not ended;
    - `incidents`: the newest instances in `error` (id, process_key, business_key, incident, updated_at);
    - `overdue_by_team`: [{team, overdue, open}] open tasks past their due time per candidate group
      (a task offered to two groups counts in both; NO_TEAM: offered to none);
    - `escalations`: the `escalated` audit events since `day_start` (the start of the user's day), newest first.
    """
    now = now or clock.now()
    with reader(engine.db).connect() as conn:
        reach = access.instance_reach_sql(user, _processes_of(conn, process_groups, user))
        by_status = conn.execute(
            sa.select(instances.c.process_key, instances.c.status, sa.func.count())
            .where(instances.c.status.in_(RUNNING), reach)
            .group_by(instances.c.process_key, instances.c.status)).all()
        failed = conn.execute(
            sa.select(instances.c.id, instances.c.process_key, instances.c.business_key, instances.c.incident,
                      instances.c.updated_at)
            .where(instances.c.status == InstanceStatus.ERROR, reach)
            .order_by(instances.c.updated_at.desc(), instances.c.id).limit(incidents)).all()
        teams = human_task_groups.alias("teams")  # the reach condition has its own EXISTS on human_task_groups
        team = sa.func.coalesce(teams.c.group_name, NO_TEAM)
        late = sa.case((human_tasks.c.due_at < now, 1), else_=0)
        per_team = conn.execute(
            sa.select(team.label("team"), sa.func.sum(late).label("overdue"), sa.func.count().label("open"))
            .select_from(human_tasks.outerjoin(teams, teams.c.task_id == human_tasks.c.id))
            .where(access.task_reach_sql(user))
            .group_by(team)).all()
        escalated = conn.execute(
            sa.select(audit_events.c.id, audit_events.c.at, audit_events.c.instance_id, audit_events.c.element_id,
                      audit_events.c.detail, instances.c.process_key, instances.c.business_key)
            .join(instances, instances.c.id == audit_events.c.instance_id)
            .where(audit_events.c.action == "escalated", audit_events.c.at >= day_start, reach)
            .order_by(audit_events.c.id.desc()).limit(100)).all()
    processes = {}
    for key, status, count in by_status:
        entry = processes.setdefault(key, {"process_key": key, "statuses": {}, "running": 0})
        entry["statuses"][status] = count
        entry["running"] += count
    return {
        "processes": sorted(processes.values(), key=lambda p: (-p["running"], p["process_key"])),
        "incidents": [{"id": r.id, "process_key": r.process_key, "business_key": r.business_key,
                       "incident": r.incident, "updated_at": utc(r.updated_at)} for r in failed],
        "overdue_by_team": sorted(({"team": r.team, "overdue": int(r.overdue or 0), "open": r.open} for r in per_team),
                                  key=lambda t: (-t["overdue"], t["team"])),
        "escalations": [{"id": r.id, "at": utc(r.at), "instance_id": r.instance_id, "element_id": r.element_id,
                         "process_key": r.process_key, "business_key": r.business_key, "detail": r.detail or {}}
                        for r in escalated],
    }


def versions(engine, process_groups: ProcessGroups, user: User, key: str) -> list[dict]:
    """Every version of process `key`, newest first, with the instances of each in the user's reach by
    status: [{version, name, file_name, deployed_at, instances: {status: count}, total}]."""
    with reader(engine.db).connect() as conn:
        reach = access.instance_reach_sql(user, _processes_of(conn, process_groups, user))
        rows = conn.execute(sa.select(definitions.c.id, definitions.c.version, definitions.c.name,
                                      definitions.c.file_name, definitions.c.deployed_at)
                            .where(definitions.c.key == key).order_by(definitions.c.version.desc())).all()
        counts = conn.execute(sa.select(instances.c.definition_id, instances.c.status, sa.func.count())
                              .where(instances.c.process_key == key, reach)
                              .group_by(instances.c.definition_id, instances.c.status)).all()
    by_definition = {}
    for definition_id, status, count in counts:
        by_definition.setdefault(definition_id, {})[status] = count
    return [{"version": r.version, "name": r.name, "file_name": r.file_name, "deployed_at": utc(r.deployed_at),
             "instances": by_definition.get(r.id, {}), "total": sum(by_definition.get(r.id, {}).values())}
            for r in rows]


def start_of_day(now: datetime, zone) -> datetime:
    """Midnight of `now`'s day in `zone` (a tzinfo), as an aware datetime."""
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def inbox_totals(engine, user: User, process_key=None) -> dict:
    """The user's open tasks per inbox scope (mine, group, unassigned, all), kept counted by the database."""
    with reader(engine.db).connect() as conn:
        return queries.inbox_totals(conn, user, process_key)
