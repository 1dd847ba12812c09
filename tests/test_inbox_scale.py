"""The inbox at a million open tasks (issue 16) reads reach in other shapes than `access.task_reach_sql`: as
paths, one index each (`access.task_reach_paths`), and as disjoint parts of the counts tables
(`access.task_reach_parts`); its overdue and due-soon totals add task_due_counts' days to a count of one
day. Whatever the shape, every listing must list and count exactly the tasks the Python rule says, on
both backends, through insert, claim, release, reassignment, a change of candidate groups or due time,
completion, deletion of an instance and the migration that builds the new tables over existing rows.

(conftest checks at every teardown that task_counts and task_due_counts equal a plain count, and that
human_task_groups' copies of process, due and creation time equal their task's.)
"""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from conftest import bpmn_file, due_count_mismatches, open_task_count_mismatches
from engine import access, clock
from engine.identity import IdentityStore
from engine.instances.views import task_dict
from engine.storage.schema import human_task_groups, human_tasks

SCOPES = ("all", "mine", "group", "unassigned")
IN_SCOPE = {
    "all": lambda user, task: True,
    "mine": lambda user, task: task["assignee"] == user.name,
    "group": lambda user, task: bool(user.groups & set(task["candidate_groups"])),
    "unassigned": lambda user, task: task["assignee"] is None,
}
PEOPLE = {"li": ("agent", ["sales-east"]), "wang": ("agent", ["sales-east"]), "sam": ("agent", ["sales-west"]),
          "both": ("agent", ["sales-east", "sales-west"]), "loner": ("agent", []),
          "boss": ("supervisor", ["sales-east", "supervisors"]), "chief": ("supervisor", ["sales-west"]),
          "ada": ("admin", [])}


@pytest.fixture
def people(engine_each):
    identity = IdentityStore(engine_each.db)
    for name, (role, groups) in PEOPLE.items():
        identity.add_user(name, role, groups)
    return identity


def _due_filters(now):
    return [(None, None), (True, None), (False, None), (None, now + timedelta(hours=1)),
            (True, now + timedelta(hours=1)), (True, now - timedelta(days=2)), (False, now + timedelta(days=3)),
            (False, now - timedelta(days=1)), (None, now - timedelta(days=40))]


def _expected(engine, identity, user, scope, process_key, overdue, due_before, now):
    with engine.db.connect() as conn:
        every = [task_dict(r) for r in conn.execute(sa.select(human_tasks))]
    found = []
    for t in every:
        due = t["due_at"]
        if not (access.task_in_reach(user, t, identity.groups_of) and IN_SCOPE[scope](user, t)):
            continue
        if process_key is not None and t["process_key"] != process_key:
            continue
        if overdue is True and not (due is not None and due < now):
            continue
        if overdue is False and not (due is None or due >= now):
            continue
        if due_before is not None and not (due is not None and due < due_before):
            continue
        found.append(t)
    far = now + timedelta(days=36500)
    return [t["id"] for t in sorted(found, key=lambda t: (t["due_at"] or far, t["due_at"] is None, t["created_at"],
                                                            t["id"]))]


def check_every_listing(engine, identity, now, who=PEOPLE, processes=(None, "first_contact")):
    """Every person, scope, process filter and due filter: the listed ids (in inbox order) and the total
    of a page of one (so the total is not read off the page) are the Python rule's."""
    for name in who:
        user = identity.user(name)
        for scope in SCOPES:
            for process_key in processes:
                for overdue, due_before in _due_filters(now):
                    expected = _expected(engine, identity, user, scope, process_key, overdue, due_before, now)
                    filters = {"scope": scope, "process_key": process_key, "overdue": overdue,
                               "due_before": due_before, "now": now}
                    items, total = engine.list_tasks(user, page_size=500, **filters)
                    case = (name, scope, process_key, overdue, due_before)
                    assert [t["id"] for t in items] == expected, case
                    assert total == len(expected), case
                    items, total = engine.list_tasks(user, page_size=1, **filters)
                    assert total == len(expected), case
                    if len(expected) > 3:  # a later page of a walk along several paths
                        items, total = engine.list_tasks(user, page=2, page_size=2, **filters)
                        assert [t["id"] for t in items] == expected[2:4], case
                        assert total == len(expected), case


def _counts_agree(engine):
    assert open_task_count_mismatches(engine) == []
    assert due_count_mismatches(engine) == []


def _set_due(engine, task_id, due):
    with engine.db.begin() as conn:
        conn.execute(human_tasks.update().where(human_tasks.c.id == task_id).values(due_at=due))


def _offer(engine, task_id, groups):
    """A task's candidate groups change, as migration's rewrite of a kept task does it."""
    with engine.db.begin() as conn:
        conn.execute(human_tasks.update().where(human_tasks.c.id == task_id).values(candidate_groups=groups))
        conn.execute(human_task_groups.delete().where(human_task_groups.c.task_id == task_id))
        conn.execute(human_task_groups.insert(), [{"task_id": task_id, "group_name": g} for g in groups])


def _busy(engine, identity):
    """Tasks offered to one or two groups, held, with due times spread over days (some none), of two
    processes; some overdue, some due today later, some due in days."""
    engine.deploy([bpmn_file("first_contact.bpmn"), bpmn_file("api_access.bpmn")])
    calls = [engine.start("first_contact", f"C-{n}", {"owner": "li"}, actor="system") for n in range(8)]
    for owner in ("li", "wang", "sam"):
        engine.start("api_access", f"A-{owner}", {"owner": owner, "mate": "wang"}, actor="system")
    now = clock.now()
    with engine.db.connect() as conn:
        ids = conn.execute(sa.select(human_tasks.c.id).order_by(human_tasks.c.created_at, human_tasks.c.id)).scalars().all()
    for n, task_id in enumerate(ids):  # due times from 3 days ago to 3 days on, a few hours apart, some none
        _set_due(engine, task_id, None if n % 5 == 4 else now + timedelta(hours=(n * 7) % 145 - 72))
    return calls, now


def test_every_listing_lists_and_counts_exactly_through_every_kind_of_write(engine_each, people):
    engine = engine_each
    calls, now = _busy(engine, people)
    check_every_listing(engine, people, now)
    _counts_agree(engine)

    task = lambda n: engine.instance(calls[n])["tasks"][0]["id"]  # noqa: E731
    li, wang, boss, ada = (people.user(n) for n in ("li", "wang", "boss", "ada"))
    engine.claim_as(li, task(0))                                   # claim
    engine.claim_as(wang, task(1))
    engine.unclaim_as(wang, task(1))                               # release
    engine.claim_as(wang, task(2))
    engine.assign_as(boss, task(2), "li")                          # reassignment
    engine.assign_as(ada, task(3), "sam")                          # to another team's agent
    _offer(engine, task(4), ["sales-west", "service"])              # candidate groups change
    _set_due(engine, task(5), now - timedelta(days=9))              # the due time moves back, to another day
    _set_due(engine, task(6), None)                                 # and away
    engine.complete_as(li, task(0), {"outcome": "reached"})        # completion (qualify opens, li's)
    with engine.db.begin() as conn:                                 # deletion of an instance (cascade)
        conn.exec_driver_sql(f"DELETE FROM instances WHERE id = '{calls[7]}'")
    _counts_agree(engine)
    check_every_listing(engine, people, now)

    later = now + timedelta(hours=30)  # "now" moves on past midnight: the overdue totals follow
    check_every_listing(engine, people, later, who=("li", "boss", "ada"), processes=(None,))


def test_the_migration_builds_the_counts_and_copies_for_existing_tasks(engine_each, people):
    from alembic import command
    from engine.storage.database import alembic_config

    engine = engine_each
    _, now = _busy(engine, people)
    engine.claim_as(people.user("li"), engine.list_tasks(people.user("li"), scope="group")[0][0]["id"])
    config = alembic_config(engine.db.url.render_as_string(hide_password=False))
    with engine.db.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0010_task_titles")
    with engine.db.connect() as conn:
        assert not {"task_due_counts", "task_due_set_counts"} & set(sa.inspect(conn).get_table_names())
    engine.migrate()
    with engine.db.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM task_due_counts").scalar_one() > 0
        assert conn.exec_driver_sql("SELECT count(*) FROM task_due_set_counts").scalar_one() > 0
    _counts_agree(engine)
    check_every_listing(engine, people, now, who=("li", "sam", "boss", "ada"))


def test_rows_left_at_zero_stay_until_their_day_has_passed_and_the_sweep_deletes_them(engine_each, people):
    from engine.background.timers import purge_spent_due_counts
    from engine.storage.schema import task_due_counts

    engine = engine_each
    engine.deploy([bpmn_file("first_contact.bpmn")])
    engine.start("first_contact", "C-1", {"owner": "li"}, actor="system")
    li = people.user("li")
    task_id = engine.list_tasks(li, scope="group")[0][0]["id"]
    for _ in range(3):  # claim and release: li's row of that day goes to 1 and back to 0, updated in place
        engine.claim_as(li, task_id)
        engine.unclaim_as(li, task_id)
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(task_due_counts.c.assignee, task_due_counts.c.open_tasks)
                            .order_by(task_due_counts.c.assignee)).all()
    assert [tuple(r) for r in rows] == [("", 1), ("li", 0)]
    assert purge_spent_due_counts(engine.db, clock.now()) == 0
    assert purge_spent_due_counts(engine.db, clock.now() + timedelta(days=2)) == 1  # only the row at zero
    with engine.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(task_due_counts)).scalar_one() == 1
    assert engine.list_tasks(li, overdue=False, page_size=1)[1] == 1



def test_the_sweep_deletes_rows_by_set_left_at_zero_once_their_day_has_passed(engine_each, people):
    """task_due_set_counts (migration 0014) keeps a row at zero when its last task moves to another day,
    and the sweep deletes it with task_due_counts' once that day has passed; a claim does not touch it."""
    from engine.background.timers import purge_spent_due_counts
    from engine.storage.schema import task_due_set_counts

    engine = engine_each
    engine.deploy([bpmn_file("first_contact.bpmn")])
    engine.start("first_contact", "C-1", {"owner": "li"}, actor="system")
    li, now = people.user("li"), clock.now()
    task_id = engine.list_tasks(li, scope="group")[0][0]["id"]
    day = lambda moment: int(moment.timestamp() // 86400)  # noqa: E731

    def rows():
        with engine.db.connect() as conn:
            return {tuple(r) for r in conn.execute(sa.select(task_due_set_counts.c.due_day,
                                                             task_due_set_counts.c.open_tasks))}

    _set_due(engine, task_id, now)
    engine.claim_as(li, task_id)
    assert (day(now), 1) in rows()
    _set_due(engine, task_id, now + timedelta(days=3))
    assert {(day(now), 0), (day(now) + 3, 1)} <= rows() and sum(n for _, n in rows()) == 1
    assert purge_spent_due_counts(engine.db, now) == 0
    assert purge_spent_due_counts(engine.db, now + timedelta(days=2)) >= 2  # both tables' rows of that day
    assert all(n > 0 or d >= day(now) + 2 for d, n in rows()) and (day(now), 0) not in rows()
    assert engine.list_tasks(li, overdue=False, page_size=1)[1] == 1
    assert engine.list_tasks(li, due_before=now + timedelta(days=4), page_size=1)[1] == 1

def test_a_member_s_task_offered_elsewhere_counts_for_the_supervisor_by_its_pair(engine_each, people):
    """The held part of a due-time total is read through the (candidate groups, assignee) pairs of
    task_counts: a task boss reaches only because wang (of sales-east) holds it, offered to sales-west
    alone, counts in boss's overdue, not-overdue and due-soon totals, before and after it moves."""
    engine = engine_each
    calls, now = _busy(engine, people)
    task_id = engine.instance(calls[1])["tasks"][0]["id"]
    _offer(engine, task_id, ["sales-west"])
    engine.assign_as(people.user("ada"), task_id, "wang")
    for due in (now - timedelta(days=2), now - timedelta(minutes=5), now + timedelta(minutes=5),
                now + timedelta(days=1)):
        _set_due(engine, task_id, due)
        _counts_agree(engine)
        check_every_listing(engine, people, now, who=("boss", "chief"), processes=(None,))



def test_totals_are_exact_whichever_end_of_its_day_the_moment_is_nearer(engine_each, people):
    """A due-time total counts exactly only the part of the moment's UTC day that task_due_counts cannot:
    up to the moment before noon, from the moment to midnight (taken from the whole day's rows) after.
    Tasks due on the boundaries (midnight, noon, a second either side) and moments on them, both ways."""
    engine = engine_each
    calls, now = _busy(engine, people)
    midnight = datetime(now.year, now.month, now.day, tzinfo=now.tzinfo)
    noon, second = midnight + timedelta(hours=12), timedelta(seconds=1)
    dues = [midnight - second, midnight, midnight + second, noon - second, noon, noon + second,
            midnight + timedelta(days=1) - second, midnight + timedelta(days=1)]
    for n, due in enumerate(dues):
        _set_due(engine, engine.instance(calls[n % len(calls)])["tasks"][0]["id"], due)
    _counts_agree(engine)
    for moment in (midnight, midnight + second, noon - second, noon, noon + second,
                   midnight + timedelta(days=1) - timedelta(microseconds=1)):
        check_every_listing(engine, people, moment, who=("li", "boss", "chief", "ada"), processes=(None,))

def test_inbox_reads_reuse_one_generic_plan_and_leave_the_connection_as_found(engine_each, people):
    """`Backend.planned_once`: on PostgreSQL, the listing's statements, once psycopg has prepared them
    (their fifth run on a connection), run on one generic plan, and list and count what they did before;
    the connection goes back to the pool with the settings it had."""
    from engine.instances import queries
    from engine.storage.backend import backend_for

    engine = engine_each
    _, now = _busy(engine, people)
    boss = people.user("boss")
    filters = [{"overdue": False}, {"overdue": True}, {"due_before": now + timedelta(days=1)}, {}]
    settings = "SELECT current_setting('plan_cache_mode'), current_setting('max_parallel_workers_per_gather')"
    with engine.db.connect() as conn:
        expected = [queries.list_tasks(conn, boss, page_size=3, now=now, **f) for f in filters]
        backend = backend_for(conn)
        found = conn.exec_driver_sql(settings).one() if backend.postgresql else None
        for _ in range(8):
            with backend.planned_once(conn):
                assert [queries.list_tasks(conn, boss, page_size=3, now=now, **f) for f in filters] == expected
        if backend.postgresql:
            assert conn.exec_driver_sql(settings).one() == found
            plans = conn.exec_driver_sql("SELECT sum(generic_plans), sum(custom_plans) FROM pg_prepared_statements "
                                         "WHERE strpos(statement, 'followup_total') > 0").one()
            assert plans[0] > 0 and plans[1] == 0, plans


def test_only_listings_whose_plans_weigh_switch_to_generic_plans():
    """`queries.plans_weigh`: the two round trips of `planned_once` are paid where planning costs more
    (a supervisor's reach, several groups, due-time totals), not by an agent's plain listing of one group,
    the call an agent polling for work makes most."""
    from engine.identity import User
    from engine.instances.queries import plans_weigh

    agent = User(1, "li", "agent", frozenset({"sales"}))
    assert not plans_weigh(agent, scope="unassigned", process_key="lead_assignment")
    assert plans_weigh(agent, overdue=True) and plans_weigh(agent, due_before=clock.now())
    assert plans_weigh(User(1, "li", "agent", frozenset({"sales", "service"})))
    assert plans_weigh(User(2, "boss", "supervisor", frozenset({"sales"})))
