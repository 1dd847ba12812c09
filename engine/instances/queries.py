"""Read-only listings: the task inbox, the instance list, and the counts behind /metrics.

Everything is filtered, ordered and paginated in SQL, and always narrowed by the reach condition from
`access`. The inbox's total comes from `task_counts` (kept by triggers) when the filters allow, in the
page's own statement; else from a count, run only when the page is full.
"""
import math
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from engine import access, clock
from engine.identity import User
from engine.clock import utc
from engine.instances.views import task_dict
from engine.status import InstanceStatus
from engine.storage.schema import (definitions, human_task_groups, human_tasks, instances, outbox, task_counts,
                                   task_due_counts, task_due_set_counts, timers)

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


def plans_weigh(user: User, overdue=None, due_before=None, **_filters) -> bool:
    """Whether planning this listing's statements costs more than the two round trips of
    `Backend.planned_once` (which has PostgreSQL plan each of them once): a reach of several paths (a
    supervisor's groups and their members' tasks, an agent of several groups) or a due-time total, whose
    plans took 2.4-3.1 ms at every request at 1,000,000 open tasks. An agent's plain listing of one group
    plans in a fraction of that, and the switch made the 4-client agent loop of bench/api.py ~10% slower
    (7 -> 9 statements per loop)."""
    return (access.reach_members_sql(user) is not None or len(user.groups) > 1
            or overdue is not None or due_before is not None)


def list_tasks(conn, user: User, scope="all", process_key=None, business_key=None, instance_id=None,
               overdue=None, due_before: datetime | None = None, page=1, page_size=50, now=None, with_total=True):
    """The user's inbox: tasks in reach, by due time (none last), then oldest first. The total is None
    when not `with_total` and the page does not tell it."""
    values = {"f_process_key": process_key, "f_business_key": business_key, "f_instance_id": instance_id,
              "f_due_before": due_before}
    shape = (scope, overdue, *(v is not None for v in values.values()))
    members = None  # read for the whole inbox of a supervisor only, where reach walks their tasks too
    people = access.reach_members_sql(user)
    if people is not None and scope == "all" and business_key is None and instance_id is None:
        members = tuple(sorted(set(conn.execute(people).scalars())))
    query, query_with_total, count = _task_list_statements(user, members, shape)
    values = {k: v for k, v in values.items() if v is not None}
    if overdue is not None or due_before is not None:
        values.update(_due_values(now or clock.now(), overdue, due_before))
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


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_HALF_DAY = 43200


def _due_values(now, overdue, due_before):
    """The bound values of the due-time filters: `f_now` and `f_due_before` for the page; for the total,
    "due before" moments `hi` and `lo` (count = due before hi - due before lo; without hi, every task),
    each as `_due_before` reads it: the days of task_due_counts summed (those before `_days`), and the
    exact count of the rest of the moment's UTC day, from its nearer end (`_from` to `_to`), added
    (`_sign` 1: the day's start to the moment) or taken away (-1: the moment to the next day)."""
    values = {"f_now": now}
    hi = lo = None
    if overdue is True:
        hi = min(now, due_before) if due_before is not None else now
    elif overdue is False:
        lo = now
        hi = max(now, due_before) if due_before is not None else None
    else:
        hi = due_before
    for name, moment in (("hi", hi), ("lo", lo)):
        if moment is not None:
            moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
            seconds = (moment - _EPOCH).total_seconds()
            day = math.floor(seconds / 86400)
            start, end = _EPOCH + timedelta(days=day), _EPOCH + timedelta(days=day + 1)
            days, start, end, sign = ((day, start, moment, 1) if seconds - day * 86400 < _HALF_DAY
                                      else (day + 1, moment, end, -1))
            values.update({f"f_{name}": moment, f"f_{name}_days": days, f"f_{name}_from": start,
                           f"f_{name}_to": end, f"f_{name}_sign": sign})
    return values


_task_lists = {}
_ORDER = ("due_at", "created_at", "id")


def _scope_sql(user: User, scope, table=human_tasks):
    """Reach (`access.task_reach_sql`) and scope together, simplified where the scope decides reach:
    my own tasks and the tasks offered to my groups are always in reach, and an unassigned task is in
    reach only through its groups (or for an admin). Fewer alternatives make a plan PostgreSQL finds and
    runs faster. `table`: human_tasks, or a counts table (where '' stands for no assignee)."""
    offered = access.offered_to_sql(user.groups, table) if user.groups else sa.false()
    if scope == "mine":
        return [table.c.assignee == user.name]
    if scope == "group":
        return [offered]
    if scope == "unassigned":
        unassigned = table.c.assignee.is_(None) if table is human_tasks else table.c.assignee == ""
        return [unassigned] if user.role in access.SEES_ALL_TASKS else [offered, unassigned]
    return [access.task_reach_sql(user, table)]


def _scope_paths(user: User, members, scope):
    """The paths of `access.task_reach_paths` the scope keeps (None: no paths, every task of the scope)."""
    paths = access.task_reach_paths(user, members)
    if paths is None and scope in ("all", "unassigned"):
        return None
    if scope == "mine":
        return [("assignee", user.name)]
    if scope in ("group", "unassigned"):
        return [("group", g) for g in sorted(user.groups)]
    return paths


def _path_selects(user, path, scope, has_process, due_ranges):
    """One path of reach narrowed by the scope and filters, as selects of (due_at, created_at, id) that one
    index walks in inbox order: one per due range (`overdue=false` is two: due from now on, and none)."""
    kind, value = path
    if kind == "group":
        table, id_column = human_task_groups, human_task_groups.c.task_id
        conditions = [human_task_groups.c.group_name == value]
        source = human_task_groups
        if scope == "unassigned":
            source = human_task_groups.join(human_tasks, human_tasks.c.id == human_task_groups.c.task_id)
            conditions.append(human_tasks.c.assignee.is_(None))
    else:
        table, id_column, source = human_tasks, human_tasks.c.id, human_tasks
        conditions = [human_tasks.c.assignee == value]
    if has_process:
        conditions.append(table.c.process_key == sa.bindparam("f_process_key"))
    columns = (table.c.due_at.label("due_at"), table.c.created_at.label("created_at"), id_column.label("id"))
    return [sa.select(*columns).select_from(source).where(*conditions, *due_range(table.c.due_at))
            for due_range in due_ranges]


def _in_order(select):
    c = select.selected_columns
    return select.order_by(c.due_at.asc().nulls_last(), c.created_at, c.id)


def _page_filters(overdue, has_due_before):
    """The due-time filters of the page as ranges of an ordered walk, each a function of a due column."""
    now = lambda: sa.bindparam("f_now", type_=human_tasks.c.due_at.type)  # noqa: E731
    before = ([lambda due: [due < sa.bindparam("f_due_before", type_=human_tasks.c.due_at.type)]]
              if has_due_before else [lambda due: []])
    if overdue is True:
        return [lambda due, b=b: [due < now(), *b(due)] for b in before]
    if overdue is False:  # due from now on, or no due time (last in the order): two walks, not an OR
        return [lambda due, b=b: [due >= now(), *b(due)] for b in before] + (
            [] if has_due_before else [lambda due: [due.is_(None)]])
    return before


def _task_list_statements(user: User, members, shape):
    """The page statement (plain, and with the total as a column when the total is cheap), and the count
    statement, of one user's inbox of one shape (scope, overdue, which filters), built once: building them
    cost more CPU than running them. Filter values, the time, the offset and the limit are bound
    parameters. `members`: see `access.task_reach_paths`."""
    key = (user.name, user.role, user.groups, members, shape)
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
    end = sa.bindparam("f_end", type_=sa.Integer)
    selective = has_business or has_instance  # a customer's or an instance's few tasks: their index first
    paths = None if selective else _scope_paths(user, members, scope)
    if paths is None:
        query = sa.select(human_tasks).where(*conditions)
    else:
        # Each path of reach walks its own index in inbox order and stops after offset+limit rows; the
        # page is the first of their union (a task on two paths is one row of it), joined to its task.
        walks = [sa.select(*(first.c[name] for name in _ORDER))
                 for path in paths
                 for select in _path_selects(user, path, scope, has_process, _page_filters(overdue, has_due_before))
                 for first in [_in_order(select).limit(end).subquery()]]
        if not walks:
            query = sa.select(human_tasks).where(sa.false())
        else:
            union = sa.union(*walks).subquery() if len(walks) > 1 else walks[0].subquery()
            firsts = (_in_order(sa.select(*(union.c[name] for name in _ORDER))).offset(offset).limit(limit)
                      .subquery())
            query = sa.select(human_tasks).join(firsts, firsts.c.id == human_tasks.c.id)
    query = query.order_by(*order)
    query = query.offset(offset).limit(limit) if paths is None else query
    if selective:
        count, cheap = sa.select(sa.func.count()).select_from(human_tasks).where(*conditions), False
    else:
        count, cheap = _total(user, members, scope, overdue, has_process, has_due_before), True
    # A cheap total rides on the page's statement (one round trip, one snapshot).
    query_with_total = query.add_columns(count.scalar_subquery().label("followup_total")) if cheap else None
    if len(_task_lists) > 2000:
        _task_lists.clear()
    _task_lists[key] = (query, query_with_total, count)
    return query, query_with_total, count


def _total(user: User, members, scope, overdue, has_process, has_due_before):
    """The inbox's total without a count over every task: from `task_counts` (open tasks in reach and
    scope), less or made of "due before" counts (`_due_before`) when a due-time filter is given."""
    has_hi = overdue is True or has_due_before
    has_lo = overdue is False
    first = (_due_before(user, members, scope, has_process, "hi") if has_hi
             else _counted_total(user, scope, has_process, members).scalar_subquery())
    if has_lo:
        return sa.select(first - _due_before(user, members, scope, has_process, "lo"))
    return sa.select(first)


def _due_before(user: User, members, scope, has_process, name):
    """Open tasks in reach and scope due before the moment bound as f_<name>, exactly: the rows of
    task_due_counts of the days before its UTC day, plus a count of that day up to the moment through the
    paths of reach; past noon, the rows through its day less a count from the moment to midnight, so the
    exact count never spans more than half a day (`_due_values` binds which). With a process filter,
    which task_due_counts does not keep, a count of every day through the paths' process indexes."""
    due_type = human_tasks.c.due_at.type
    moment = sa.bindparam(f"f_{name}", type_=due_type)
    start, end = sa.bindparam(f"f_{name}_from", type_=due_type), sa.bindparam(f"f_{name}_to", type_=due_type)
    if has_process:
        ranges = [lambda due: [due < moment]]
    else:
        ranges = [lambda due: [due >= start, due < end]]
    paths = _scope_paths(user, members, scope)
    if paths is None:  # an admin's: every task of the scope
        conditions = _scope_sql(user, scope) + [r(human_tasks.c.due_at) for r in ranges][0]
        if has_process:
            conditions.append(human_tasks.c.process_key == sa.bindparam("f_process_key"))
        today = sa.select(sa.func.count()).select_from(human_tasks).where(*conditions).scalar_subquery()
    else:
        ids = [select.with_only_columns(select.selected_columns.id) for path in paths
               for select in _path_selects(user, path, scope, has_process, ranges)]
        if not ids:
            return sa.literal(0)
        union = sa.union(*ids).subquery() if len(ids) > 1 else ids[0].subquery()
        today = sa.select(sa.func.count()).select_from(union).scalar_subquery()
    if has_process:
        return today
    days, sign = sa.bindparam(f"f_{name}_days", type_=sa.Integer), sa.bindparam(f"f_{name}_sign", type_=sa.Integer)
    by_set = (task_due_set_counts, [task_due_set_counts.c.due_day < days])
    return sign * today + _sum_in_reach(user, task_due_counts, scope, members, [task_due_counts.c.due_day < days],
                                        by_set)


def _counted_total(user: User, scope, has_process, members=None):
    """The inbox's total from `task_counts` (kept by triggers): the open tasks of the rows in reach and
    scope, summed."""
    extra = [task_counts.c.process_key == sa.bindparam("f_process_key")] if has_process else []
    return sa.select(_sum_in_reach(user, task_counts, scope, members, extra))


def _sum_in_reach(user: User, table, scope, members, extra, by_set=None):
    """sum(open_tasks) over the rows of a counts table in reach and scope that meet `extra`, over the parts
    of reach (`access.task_reach_parts`): the rows offered to my groups read set by set through the
    index that starts with candidate_groups, the ones held by people I reach through the assignee's.
    `by_set`: (the same counts without the assignee, its `extra`), read instead where every holder
    counts (the offered part of the `all` and `group` scopes, an admin's `all`): fewer rows."""
    def summed(*conditions, source=table, where=extra):
        return (sa.select(sa.func.coalesce(sa.func.sum(source.c.open_tasks), 0)).where(*conditions, *where)
                .scalar_subquery())

    every_holder = by_set is not None and scope in ("all", "group")
    offered_table, offered_extra = by_set if every_holder else (table, extra)
    if scope == "mine":
        return summed(table.c.assignee == user.name)
    parts = access.task_reach_parts(user, table, members)
    if parts is None and scope in ("all", "unassigned"):  # an admin's
        if every_holder:
            return summed(source=offered_table, where=offered_extra)
        return summed(*([table.c.assignee == ""] if scope == "unassigned" else []))
    offered, held = parts if parts is not None else (
        access.offered_sets_sql(user.groups) if user.groups else None, None)
    sums = []
    if offered is not None:
        sets = offered.subquery()
        per_set = summed(offered_table.c.candidate_groups == sets.c.candidate_groups,
                         *([table.c.assignee == ""] if scope == "unassigned" else []),
                         source=offered_table, where=offered_extra)
        sums.append(sa.select(sa.func.coalesce(sa.func.sum(per_set), 0)).select_from(sets).scalar_subquery())
    if scope == "all" and held is not None:
        sums.append(summed(held) if table is task_counts else _held_by_pairs(user, table, members, summed))
    return sum(sums[1:], sums[0]) if sums else sa.literal(0)


def _held_by_pairs(user: User, table, members, summed):
    """The held part of reach (`access.task_reach_parts`) on task_due_counts, read pair by pair: the
    (candidate groups, assignee) pairs held and not offered are taken from task_counts, a few rows per
    person (none, mostly: a member's tasks are offered to their groups), and only their rows of
    task_due_counts are summed. Read directly, the part walked every day of every person I reach (1,200
    rows for a supervisor of 5 groups at 1,000,000 open tasks) to keep none. Exact: an open task with a
    due time is counted in task_counts too, under the same pair, by the same triggers, in the same
    snapshot. Rows at zero there (task_counts keeps them: a claim and its release leave one) are left
    out: each would be a probe for nothing."""
    _, held_pairs = access.task_reach_parts(user, task_counts, members)
    pairs = (sa.select(task_counts.c.candidate_groups, task_counts.c.assignee)
             .where(held_pairs, task_counts.c.open_tasks > 0).distinct().subquery())
    per_pair = summed(table.c.candidate_groups == pairs.c.candidate_groups, table.c.assignee == pairs.c.assignee)
    return sa.select(sa.func.coalesce(sa.func.sum(per_pair), 0)).select_from(pairs).scalar_subquery()


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
