"""Read-only listings: the task inbox, the instance list, and the counts behind /metrics.

Everything is filtered, ordered and paginated in SQL, and always narrowed by the reach condition from
`access`. The inbox's total comes from `task_counts` (kept by triggers) when the filters allow, in the
page's own statement; else from a count, run only when the page is full.
"""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BooleanClauseList

from engine import access, clock
from engine.identity import User
from engine.clock import utc
from engine.instances.views import task_dict
from engine.status import InstanceStatus
from engine.storage.schema import definitions, human_tasks, instances, outbox, task_counts, timers

SCOPES = ("mine", "group", "unassigned", "all")
def open_task(conn, task_id) -> dict | None:
    """An open task by id, or None (the engine then tells a completed task from an unknown one)."""
    row = conn.execute(sa.select(human_tasks).where(human_tasks.c.id == task_id)).first()
    return task_dict(row) if row is not None else None


def _page(conn, query, count_query, page, page_size):
    """Rows of one page and the total. The page walks the index in order and stops early; the count
    runs only when the page is full (a partial page tells the total by itself)."""
    rows = conn.execute(query.offset((page - 1) * page_size).limit(page_size)).all()
    if 0 < len(rows) < page_size or (page == 1 and not rows):
        return rows, (page - 1) * page_size + len(rows)
    return rows, conn.execute(count_query).scalar_one()


def list_tasks(conn, user: User, scope="all", process_key=None, business_key=None, instance_id=None,
               overdue=None, due_before: datetime | None = None, page=1, page_size=50, now=None, with_total=True):
    """The user's inbox: tasks in reach, by due time (none last), then oldest first. The total is None
    when not `with_total` and the page does not tell it."""
    values = {"f_process_key": process_key, "f_business_key": business_key, "f_instance_id": instance_id,
              "f_due_before": due_before}
    shape = (scope, overdue, *(v is not None for v in values.values()))
    query, query_with_total, count = _task_list_statements(user, shape)
    values = {k: v for k, v in values.items() if v is not None}
    if overdue is not None:
        values["f_now"] = now or clock.now()
    offset = (page - 1) * page_size
    if with_total and query_with_total is not None:
        query = query_with_total
    rows = conn.execute(query, {**values, "f_offset": offset, "f_limit": page_size, "f_end": offset + page_size}).all()
    items = [task_dict(r) for r in rows]
    if 0 < len(rows) < page_size or (page == 1 and not rows):  # a partial page tells the total by itself
        return items, (page - 1) * page_size + len(rows)
    if not with_total:
        return items, None
    if rows and query is query_with_total:
        return items, rows[0].followup_total
    return items, conn.execute(count, values).scalar_one()


_task_lists = {}


def _scope_sql(user: User, scope, table=human_tasks):
    """Reach (`access.task_reach_sql`) and scope together, simplified where the scope decides reach:
    my own tasks and the tasks offered to my groups are always in reach, and an unassigned task is in
    reach only through its groups (or for an admin). Fewer alternatives make a plan PostgreSQL finds and
    runs faster. `table`: human_tasks, or task_counts (where '' stands for no assignee)."""
    offered = access.offered_to_sql(user.groups, table) if user.groups else sa.false()
    if scope == "mine":
        return [table.c.assignee == user.name]
    if scope == "group":
        return [offered]
    if scope == "unassigned":
        unassigned = table.c.assignee.is_(None) if table is human_tasks else table.c.assignee == ""
        return [unassigned] if user.role in access.SEES_ALL_TASKS else [offered, unassigned]
    return [access.task_reach_sql(user, table)]


def _task_list_statements(user: User, shape):
    """The page statement (plain, and with the total as a column when that total is counted), and the
    count statement, of one user's inbox of one shape (scope, overdue, which filters), built once:
    building them cost more CPU than running them. Filter values, the time, the offset and the limit
    are bound parameters."""
    key = (user.name, user.role, user.groups, shape)
    found = _task_lists.get(key)
    if found is not None:
        return found
    scope, overdue, has_process, has_business, has_instance, has_due_before = shape
    conditions = _scope_sql(user, scope)
    if has_process:
        conditions.append(human_tasks.c.process_key == sa.bindparam("f_process_key"))
    if has_business:
        conditions.append(human_tasks.c.business_key == sa.bindparam("f_business_key"))
    if has_instance:
        conditions.append(human_tasks.c.instance_id == sa.bindparam("f_instance_id"))
    now = sa.bindparam("f_now", type_=human_tasks.c.due_at.type)
    if overdue is True:
        conditions.append(human_tasks.c.due_at < now)
    elif overdue is False:
        conditions.append(sa.or_(human_tasks.c.due_at.is_(None), human_tasks.c.due_at >= now))
    if has_due_before:
        conditions.append(human_tasks.c.due_at < sa.bindparam("f_due_before", type_=human_tasks.c.due_at.type))
    order = (human_tasks.c.due_at.asc().nulls_last(), human_tasks.c.created_at, human_tasks.c.id)
    offset, limit = sa.bindparam("f_offset", type_=sa.Integer), sa.bindparam("f_limit", type_=sa.Integer)
    counted = overdue is None and not (has_business or has_instance or has_due_before)
    if counted:
        count = _counted_total(user, scope, has_process)
    else:
        count = sa.select(sa.func.count()).select_from(human_tasks).where(*conditions)
    reach, rest = conditions[0], conditions[1:]
    if isinstance(reach, BooleanClauseList) and reach.operator is operators.or_:
        # Reach is a disjunction with an EXISTS in it, which PostgreSQL evaluates by hashing every
        # group row of the user's groups before the first task (1 ms at 4,200 tasks). Each alternative
        # alone walks the inbox index and stops early; the first offset+limit rows of the whole are
        # among the first offset+limit of some alternative, so the page is taken from their union.
        firsts = [sa.select(human_tasks.c.id).where(alternative, *rest).order_by(*order)
                  .limit(sa.bindparam("f_end", type_=sa.Integer)).subquery() for alternative in reach.clauses]
        candidates = sa.union_all(*(sa.select(first.c.id) for first in firsts))
        query = sa.select(human_tasks).where(human_tasks.c.id.in_(candidates))
    else:
        query = sa.select(human_tasks).where(*conditions)
    query = query.order_by(*order).offset(offset).limit(limit)
    # A counted total is cheap: it rides on the page's statement (one round trip, one snapshot).
    query_with_total = query.add_columns(count.scalar_subquery().label("followup_total")) if counted else None
    if len(_task_lists) > 2000:
        _task_lists.clear()
    _task_lists[key] = (query, query_with_total, count)
    return query, query_with_total, count


def _counted_total(user: User, scope, has_process):
    """The inbox's total from `task_counts` (kept by triggers): the same reach and scope conditions on
    rows that count tasks by what those conditions look at, summed."""
    conditions = _scope_sql(user, scope, task_counts)
    if has_process:
        conditions.append(task_counts.c.process_key == sa.bindparam("f_process_key"))
    return sa.select(sa.func.coalesce(sa.func.sum(task_counts.c.open_tasks), 0)).where(*conditions)


def list_instances(conn, user: User, processes_of_groups, process_key=None, status=None, business_key=None,
                   started_after=None, started_before=None, has_incident=None, overdue=None,
                   page=1, page_size=50, now=None):
    """Instances in reach, newest first. `processes_of_groups`: see `access.instance_reach_sql`."""
    now = now or clock.now()
    conditions = [access.instance_reach_sql(user, processes_of_groups)]
    if process_key is not None:
        conditions.append(instances.c.process_key == process_key)
    if status is not None:
        conditions.append(instances.c.status == status)
    if business_key is not None:
        conditions.append(instances.c.business_key == business_key)
    if started_after is not None:
        conditions.append(instances.c.started_at >= started_after)
    if started_before is not None:
        conditions.append(instances.c.started_at < started_before)
    if has_incident is not None:
        conditions.append(instances.c.status == InstanceStatus.ERROR if has_incident
                          else instances.c.status != InstanceStatus.ERROR)
    if overdue is not None:
        late = sa.exists().where(human_tasks.c.instance_id == instances.c.id, human_tasks.c.due_at < now)
        conditions.append(late if overdue else ~late)
    columns = [instances.c.id, instances.c.process_key, definitions.c.version, instances.c.business_key,
               instances.c.status, instances.c.incident, instances.c.started_by, instances.c.started_at,
               instances.c.updated_at, instances.c.ended_at]
    base = (sa.select(*columns).select_from(instances.join(definitions, definitions.c.id == instances.c.definition_id))
            .where(*conditions))
    count = sa.select(sa.func.count()).select_from(instances).where(*conditions)
    rows, total = _page(conn, base.order_by(instances.c.started_at.desc(), instances.c.id), count, page, page_size)
    return [{"id": r.id, "process_key": r.process_key, "version": r.version, "business_key": r.business_key,
             "status": r.status, "incident": r.incident, "started_by": r.started_by,
             "started_at": utc(r.started_at), "updated_at": utc(r.updated_at), "ended_at": utc(r.ended_at)}
            for r in rows], total


def after_completion(conn, user: User, instance_id) -> tuple[str | None, list[dict]]:
    """The instance's status and its open tasks the user reaches (what to do next), in one statement."""
    rows = conn.execute(
        sa.select(instances.c.status.label("_status"), human_tasks)
        .select_from(instances.outerjoin(human_tasks, sa.and_(human_tasks.c.instance_id == instances.c.id,
                                                              access.task_reach_sql(user))))
        .where(instances.c.id == instance_id).order_by(human_tasks.c.created_at, human_tasks.c.id)).all()
    if not rows:
        return None, []
    return rows[0]._status, [task_dict(r) for r in rows if r.id is not None]


def stats(conn, now=None) -> dict:
    """Counts for monitoring: instances by status, ready and overdue tasks, pending and late timers."""
    now = now or clock.now()
    by_status = dict(conn.execute(sa.select(instances.c.status, sa.func.count()).group_by(instances.c.status)).all())
    ready = conn.execute(sa.select(sa.func.count()).select_from(human_tasks)).scalar_one()
    overdue = conn.execute(sa.select(sa.func.count()).select_from(human_tasks)
                           .where(human_tasks.c.due_at < now)).scalar_one()
    pending = conn.execute(sa.select(sa.func.count()).select_from(timers)).scalar_one()
    oldest_due = conn.execute(sa.select(sa.func.min(timers.c.due_at))).scalar()
    lag = max(0.0, (now - utc(oldest_due)).total_seconds()) if oldest_due is not None else 0.0
    unsent = dict(conn.execute(sa.select(outbox.c.next_attempt_at.is_(None), sa.func.count())
                               .where(outbox.c.sent_at.is_(None)).group_by(outbox.c.next_attempt_at.is_(None))).all())
    return {"instances": by_status, "tasks_ready": ready, "tasks_overdue": overdue, "timers_pending": pending,
            "timer_lag_seconds": lag, "messages_pending": unsent.get(False, 0), "messages_failed": unsent.get(True, 0)}


_inbox_totals = {}


def inbox_totals(conn, user: User, process_key=None) -> dict:
    """{scope: open tasks} for every scope of the user's inbox (optionally of one process), from
    `task_counts` in one statement: the inbox page's tabs, as cheap at 100,000 open tasks as at 100."""
    key = (user.name, user.role, user.groups, process_key is not None)
    statement = _inbox_totals.get(key)
    if statement is None:
        if len(_inbox_totals) > 2000:
            _inbox_totals.clear()
        statement = _inbox_totals[key] = sa.select(*(
            _counted_total(user, scope, process_key is not None).scalar_subquery().label(scope) for scope in SCOPES))
    row = conn.execute(statement, {"f_process_key": process_key} if process_key is not None else {}).one()
    return {scope: int(row._mapping[scope]) for scope in SCOPES}
