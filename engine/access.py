"""Who may see and do what: the one place the permission rule lives.

Two questions, asked in this order for every call:

1. Reach: is the object within the user's reach at all? A task is in reach when it is assigned to the
   user or one of its candidate groups (a group name or BPMN lane) is one of the user's groups; a
   supervisor also reaches tasks held by members of their groups; an admin reaches every task. An
   instance is in reach when the user started it, its process names one of the user's groups, or one
   of its open tasks is in reach; admins and designers reach every instance. Out of reach reads as
   "not found" (404), so a task's or an instance's existence does not leak.
2. Right: does the user's role allow the action? (`RIGHTS`; a missing right is 403.)

Each reach rule exists twice, as a Python predicate for one object and as a SQL condition for lists;
tests/test_api_access.py checks that both agree on every case of the matrix.

Field rules: roles outside `SEES_AMOUNTS` read money fields as null, named in `hidden_fields`, wherever
the value appears: a record (`shown_record`), an instance's variables, a task's, the audit trail, the
/engine-rest variables and the pages (`hide_values`, applied by the engine's `*_for(user, ...)` methods).

The customer hub's records (customers, contacts, leads, opportunities, contracts, payments, tickets,
check-ins, import batches) follow one rule too, at the end of this module: a record is in reach of its
owner, of the members of its team and of admins; whoever puts a record in someone's hands (creating,
importing, transferring, assigning) stays within their own teams. tests/test_hostile__teams.py checks it
as a matrix over every route of the OpenAPI document.
"""
import sqlalchemy as sa

from engine.errors import Forbidden, NotFound
from engine.identity import User
from engine.storage.schema import human_task_groups, human_tasks, instances, task_count_groups, user_groups, users

# Actions
TASK_VIEW, TASK_CLAIM, TASK_UNCLAIM, TASK_COMPLETE, TASK_ASSIGN = (
    "task:view", "task:claim", "task:unclaim", "task:complete", "task:assign")
INSTANCE_VIEW, INSTANCE_START, INSTANCE_CANCEL, INSTANCE_SUSPEND, INSTANCE_RESUME, INSTANCE_RETRY = (
    "instance:view", "instance:start", "instance:cancel", "instance:suspend", "instance:resume",
    "instance:retry")
DEFINITION_VIEW, DEFINITION_DEPLOY = "definition:view", "definition:deploy"
INSTANCE_MIGRATE, INSTANCE_REPAIR = "instance:migrate", "instance:repair"
MESSAGE_SEND, USER_MANAGE, METRICS_VIEW = "message:send", "user:manage", "metrics:view"

_WORK = {TASK_VIEW, TASK_CLAIM, TASK_UNCLAIM, TASK_COMPLETE, INSTANCE_VIEW, INSTANCE_START, DEFINITION_VIEW}
_OVERSEE = {TASK_ASSIGN, INSTANCE_CANCEL, INSTANCE_SUSPEND, INSTANCE_RESUME, INSTANCE_RETRY, MESSAGE_SEND,
            METRICS_VIEW, INSTANCE_REPAIR}
ALL_ACTIONS = frozenset(_WORK | _OVERSEE | {DEFINITION_DEPLOY, INSTANCE_MIGRATE, USER_MANAGE})

RIGHTS = {
    "agent": frozenset(_WORK),
    "supervisor": frozenset(_WORK | _OVERSEE),
    "designer": frozenset(_WORK | {DEFINITION_DEPLOY, INSTANCE_RETRY, INSTANCE_MIGRATE}),
    "admin": ALL_ACTIONS,
}

SEES_ALL_TASKS = {"admin"}
SEES_ALL_INSTANCES = {"admin", "designer"}
STARTS_ANY_PROCESS = {"admin", "designer"}


def allowed(user: User, action: str) -> bool:
    return action in RIGHTS.get(user.role, ())


def require(user: User, action: str) -> None:
    if not allowed(user, action):
        raise Forbidden(f"{a_role(user.role)} may not {_ACTION_WORDS.get(action, action.replace(':', ' '))}")


def a_role(role: str) -> str:
    """"an agent", "a supervisor": a role as an error message names it."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


_ACTION_WORDS = {  # how an error names an action: "an agent may not send messages"
    TASK_VIEW: "see tasks", TASK_CLAIM: "claim tasks", TASK_UNCLAIM: "release tasks", TASK_COMPLETE: "complete tasks",
    TASK_ASSIGN: "assign tasks", INSTANCE_VIEW: "see instances", INSTANCE_START: "start instances",
    INSTANCE_CANCEL: "cancel instances", INSTANCE_SUSPEND: "suspend instances", INSTANCE_RESUME: "resume instances",
    INSTANCE_RETRY: "retry instances", DEFINITION_VIEW: "see definitions", DEFINITION_DEPLOY: "deploy definitions",
    MESSAGE_SEND: "send messages", USER_MANAGE: "manage users", METRICS_VIEW: "read metrics"}


# ---- tasks ----------------------------------------------------------------------------------------
def task_in_reach(user: User, task: dict, assignee_groups=lambda name: frozenset()) -> bool:
    """`task`: the engine's task dict. `assignee_groups(name)` is asked only for a supervisor."""
    if user.role in SEES_ALL_TASKS or task["assignee"] == user.name:
        return True
    if user.groups & set(task["candidate_groups"]):
        return True
    return user.role == "supervisor" and task["assignee"] is not None and bool(
        user.groups & assignee_groups(task["assignee"]))


def one_of(column, values):
    """`column IN values` for a short list known when the statement is built (a user's groups): written
    as equalities, so that a statement cached per user is not re-rendered on every execution, as an
    expanding IN would be."""
    return sa.or_(*(column == value for value in sorted(values))) if values else sa.false()


def _members_of(groups):
    return (sa.select(users.c.name).join(user_groups, user_groups.c.user_id == users.c.id)
            .where(one_of(user_groups.c.group_name, groups)))


def task_reach_sql(user: User, table=human_tasks):
    """A condition on `human_tasks` equal to `task_in_reach`; with `table=task_counts` (or task_due_counts),
    the same condition on the rows that count open tasks by assignee and candidate groups (what reach
    depends on). `task_reach_paths` and `task_reach_parts` are the same rule in the shapes the inbox walks
    and sums at a million open tasks; tests/test_inbox_scale.py checks that all of them agree."""
    if user.role in SEES_ALL_TASKS:
        return sa.true()
    conditions = [table.c.assignee == user.name]
    if user.groups:
        conditions.append(offered_to_sql(user.groups, table))
        if user.role == "supervisor":
            conditions.append(table.c.assignee.in_(_members_of(user.groups)))
    return sa.or_(*conditions)


def offered_to_sql(groups, table=human_tasks):
    """One of `groups` is among the candidate groups (of a task, or of a row of a counts table: `task_counts`,
    `task_due_counts`, whose `candidate_groups` is the JSON text task_count_groups lists the groups of)."""
    if table is not human_tasks:
        return table.c.candidate_groups.in_(sa.select(task_count_groups.c.candidate_groups)
                                            .where(one_of(task_count_groups.c.group_name, groups)))
    return sa.exists().where(human_task_groups.c.task_id == table.c.id, one_of(human_task_groups.c.group_name, groups))


def reach_members_sql(user: User):
    """The people whose tasks `user` reaches by who holds them, beside their own: the members of a
    supervisor's groups (a statement of names); None for everyone else."""
    return _members_of(user.groups) if user.role == "supervisor" and user.groups else None


def task_reach_paths(user: User, members=()):
    """`task_reach_sql` as a union of paths, each one an index walks in the inbox's order: ("assignee", name),
    the tasks `name` holds (human_tasks.assignee), and ("group", g), the tasks offered to `g`
    (human_task_groups.group_name). `members`: what `reach_members_sql(user)` reads now (a supervisor reaches
    the tasks they hold). None: every task (an admin's reach is no union). A task may lie on several paths."""
    if user.role in SEES_ALL_TASKS:
        return None
    people = {user.name} | (set(members or ()) if reach_members_sql(user) is not None else set())
    return [("assignee", name) for name in sorted(people)] + [("group", g) for g in sorted(user.groups)]


def task_reach_parts(user: User, table, members=None):
    """`task_reach_sql` on a counts table (`task_counts`, `task_due_counts`) as two parts no row is in both
    of, each with an index to use, so that sums over them add up to the sum over reach: (offered, held).
    `offered`: a select of the candidate-groups texts offered to one of the user's groups (None: the user
    has no group); `held`: a condition on the rows held by the user or, for a supervisor, by a member of
    their groups, and not offered to the user's groups. None for an admin: every row. `members`: what
    `reach_members_sql(user)` reads now, if read (then written out as equalities)."""
    if user.role in SEES_ALL_TASKS:
        return None
    held = table.c.assignee == user.name
    if reach_members_sql(user) is not None:
        held = (one_of(table.c.assignee, {user.name, *members}) if members is not None
                else sa.or_(held, table.c.assignee.in_(_members_of(user.groups))))
    if not user.groups:
        return None, held
    offered = offered_sets_sql(user.groups)
    return offered, sa.and_(held, table.c.candidate_groups.not_in(offered))


def offered_sets_sql(groups):
    """The candidate-groups texts (of task_counts' rows) that name one of `groups`, each once."""
    return (sa.select(task_count_groups.c.candidate_groups).where(one_of(task_count_groups.c.group_name, groups))
            .distinct())


def require_task(user: User, action: str, task: dict, assignee_groups=lambda name: frozenset()) -> None:
    if not task_in_reach(user, task, assignee_groups):
        raise NotFound(f"no open task with id '{task['id']}'")
    require(user, action)


def may_assign_to(user: User, task: dict, target: str, target_groups: frozenset) -> bool:
    """A task goes only to someone of one of its candidate groups, or of the assigner's own groups (a
    supervisor hands work within their team). Else the assignee's supervisor would reach a task, and
    through it the instance, of another team. Admins assign to anyone."""
    if user.role in SEES_ALL_TASKS or target == user.name:
        return True
    return bool(target_groups & (set(task["candidate_groups"]) | set(user.groups)))


# ---- instances ------------------------------------------------------------------------------------
def instance_in_reach(user: User, instance: dict, process_groups: frozenset, tasks_in_reach: bool) -> bool:
    """`process_groups`: the groups of the instance's process; `tasks_in_reach`: whether any of its open
    tasks is in reach (`task_in_reach`)."""
    if user.role in SEES_ALL_INSTANCES or instance.get("started_by") == user.name:
        return True
    return bool(user.groups & process_groups) or tasks_in_reach


def instance_reach_sql(user: User, processes_of_groups: list[str], table=instances):
    """A condition on `instances` equal to `instance_in_reach`; `processes_of_groups`: the process keys
    that name one of the user's groups."""
    if user.role in SEES_ALL_INSTANCES:
        return sa.true()
    conditions = [table.c.started_by == user.name,
                  sa.exists().where(human_tasks.c.instance_id == table.c.id, task_reach_sql(user))]
    if processes_of_groups:
        conditions.append(table.c.process_key.in_(processes_of_groups))
    return sa.or_(*conditions)


def require_instance(user: User, action: str, instance: dict, process_groups: frozenset,
                     tasks_in_reach: bool) -> None:
    if not instance_in_reach(user, instance, process_groups, tasks_in_reach):
        raise NotFound(f"no process instance with id '{instance['id']}'")
    require(user, action)


def may_start(user: User, process_groups: frozenset) -> bool:
    """Agents and supervisors start the processes of their groups (or of no group at all)."""
    if not allowed(user, INSTANCE_START):
        return False
    return user.role in STARTS_ANY_PROCESS or not process_groups or bool(user.groups & process_groups)


def require_start(user: User, key: str, process_groups: frozenset) -> None:
    require(user, INSTANCE_START)
    if not may_start(user, process_groups):
        raise Forbidden(f"process '{key}' belongs to the groups {', '.join(sorted(process_groups))}; "
                        f"{user.name} is in none of them")


# ---- field rules: money ----------------------------------------------------------------------------
SEES_AMOUNTS = frozenset({"admin", "supervisor"})
MONEY_FIELDS = {"opportunity": ("amount",), "contract": ("amount",), "payment": ("amount",)}
# The variables that carry those values through the SOPs: a contract's, opportunity's or payment's
# `amount`, and a lead's `budget` (the lead SOP's qualifying form; it becomes the opportunity's amount).
# A designer adds names with FOLLOWUP_HIDDEN_VARIABLES (engine/config.py): `Engine.hidden_variables`.
MONEY_VARIABLES = frozenset({"amount", "budget"})


def hidden_names(user: User, names=MONEY_VARIABLES) -> frozenset:
    """The variable names `user` may not read (nor write outside a form that asks them): none for roles
    in `SEES_AMOUNTS`, else `names` (the engine's: money variables and the designer's)."""
    return frozenset() if user.role in SEES_AMOUNTS else names


def shown_record(user: User, kind: str, record: dict) -> dict:
    """A record as `user` may read it: money fields null, named in `hidden_fields`."""
    if user.role in SEES_AMOUNTS:
        return record
    hidden = [name for name in MONEY_FIELDS.get(kind, ()) if name in record]
    if not hidden:
        return record
    return {**record, **dict.fromkeys(hidden), "hidden_fields": hidden}


def hide_values(value, names: frozenset, found: list | None = None, path: str = ""):
    """`value` (variables, an audit detail, a message) with every entry whose key is one of `names` set
    to null, at any depth (a `result` dict of a service task carries `amount` too); the dotted paths
    hidden are appended to `found`. Returns `value` itself, uncopied, when nothing is hidden, so the
    common case (a role that sees amounts: empty `names`) costs nothing."""
    if not names:
        return value
    if isinstance(value, dict):
        out = None
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in names:
                if found is not None:
                    found.append(where)
                new = None
            else:
                new = hide_values(item, names, found, where)
            if new is not item or key in names:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        items = [hide_values(item, names, found, path) for item in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    return value


def hidden_write_problem(user: User, names, hidden: frozenset, form_fields=()) -> str | None:
    """Why `user` may not set these variables (None: they may): a hidden one they cannot read, unless the
    task's form asks them for it (the lead SOP's qualifying form asks the agent for the budget: they
    enter it, and then read it as null like any hidden value)."""
    if not hidden:
        return None
    asked = {field["id"] for field in form_fields}
    refused = sorted(name for name in names if name in hidden and name not in asked)
    if refused:
        return f"{a_role(user.role)} may not set {', '.join(refused)}: hidden from {user.name}'s role"
    return None


# ---- the customer hub's records -------------------------------------------------------------------
MANAGES_RECORDS = frozenset({"admin", "supervisor"})


def record_in_reach(user: User, record: dict) -> bool:
    """A customer or a record around one: an admin's, its owner's, or its team's members'."""
    return user.role == "admin" or record.get("owner") == user.name or record.get("team") in user.groups


def record_readable(user: User, record: dict, task_about: bool = False) -> bool:
    """Reading a customer (and its contacts) or a lead, never changing it: in reach (`record_in_reach`),
    or `task_about`: the user holds or is offered an OPEN task whose business key names it ('42',
    'customer:42', 'lead:7'; `task_about_sql`, asked by the engine only when the record is out of reach).
    Whoever is given a task about a customer can read what the task needs (name, contacts, the reason
    in the task's instance), with the field rules of their role; once the task is completed (or handed
    to someone else) the record is out of reach again."""
    return task_about or record_in_reach(user, record)


def task_given_to(user: User, task: dict) -> bool:
    """The Python twin of `task_about_sql` for one open task: assigned to `user` or offered to one of
    their groups."""
    return task["assignee"] == user.name or bool(user.groups & set(task["candidate_groups"]))


def task_about_sql(user: User, business_keys):
    """A condition true when an open task of an instance with one of `business_keys` is assigned to
    `user` or offered to one of their groups (a supervisor's reach over their members' tasks does not
    count: they reach the record through its team). Through `instances.business_key`'s index and the
    tasks' `instance_id` index: cheap at any number of open tasks."""
    held = [human_tasks.c.assignee == user.name]
    if user.groups:
        held.append(offered_to_sql(user.groups))
    return sa.exists().where(
        human_tasks.c.instance_id.in_(sa.select(instances.c.id).where(instances.c.business_key.in_(list(business_keys)))),
        sa.or_(*held))


def record_scope(user: User) -> dict:
    """What lists of records are narrowed to (`owners`, `teams`); {} for all."""
    return {} if user.role == "admin" else {"owners": [user.name], "teams": sorted(user.groups)}


def pool_in_reach(user: User, customer: dict) -> bool:
    """A customer in the public pool of one of `user`'s teams (or in no team's pool) may be seen, masked,
    and claimed; another team's pool is out of reach."""
    if not customer.get("in_pool"):
        return False
    return user.role == "admin" or customer.get("team") is None or customer.get("team") in user.groups


def pool_scope(user: User):
    """The teams whose pools `user` lists (with the team-less customers), as `pool_in_reach` says:
    "*" for an admin (every pool)."""
    return "*" if user.role == "admin" else sorted(user.groups)


def holder_problem(user: User, owner, team, owner_groups=frozenset()) -> str | None:
    """Why `user` may not put a record in the hands of `owner` and `team` (None: they may). Admins give to
    anyone; a supervisor to a member of one of their teams and to one of their teams; an agent keeps it
    (owner: themselves) in one of their own teams."""
    if user.role == "admin":
        return None
    if team and team not in user.groups:
        return f"the team '{team}' is not one of {user.name}'s teams"
    if owner and owner != user.name:
        if user.role not in MANAGES_RECORDS:
            return f"an {user.role} may not give records to '{owner}'"
        if not (frozenset(owner_groups) & user.groups):
            return f"'{owner}' is in none of {user.name}'s teams"
    return None


def landing_team(user: User, owner=None, owner_groups=frozenset()) -> tuple[str | None, tuple]:
    """The team a record lands in when its create (the API, an import row, a lead's conversion) names
    none, so that it always belongs to a team its creator can see: (team, ()) or, when the creator must
    say which, (None, the choices) (the caller refuses: 422, or an import row's error naming the column).

    - a creator in exactly one group: that group;
    - a creator in several: the one they share with the record's `owner` (`owner_groups`); several
      shared, or no owner: the creator names one (the choices: the shared groups, else all of theirs);
    - an admin: the owner's only group, else none: an admin sees every record, and a team-less one shows
      in their list and (without owner) in their pool;
    - a creator in no group at all: none (the record is theirs as its owner; an admin puts them in a team).
    A record without owner lands in its team's public pool (customers.create_customer_in)."""
    if user.role == "admin":
        return (next(iter(owner_groups)) if len(owner_groups) == 1 else None), ()
    mine = sorted(user.groups)
    if len(mine) <= 1:
        return (mine[0] if mine else None), ()
    shared = sorted(set(mine) & set(owner_groups)) if owner else []
    if len(shared) == 1:
        return shared[0], ()
    return None, tuple(shared or mine)


def landing_problem(user: User, choices) -> str:
    """The 422's words when `landing_team` gives choices."""
    return f"{user.name} is in several teams: name the team, one of {', '.join(choices)}"


def record_people(user: User, members_of) -> frozenset | None:
    """Whose check-ins and imports `user` reaches: None for everyone's (admins); a supervisor, the members
    of their teams; an agent, their own. `members_of(groups)` -> names."""
    if user.role == "admin":
        return None
    if user.role == "supervisor":
        return frozenset(members_of(user.groups)) | {user.name}
    return frozenset({user.name})
