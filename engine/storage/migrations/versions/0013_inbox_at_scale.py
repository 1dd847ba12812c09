"""The inbox at 1,000,000 open tasks (issue 16): indexes that walk one path of reach in inbox order, open tasks
with a due time counted by day, and counts tables that do not bloat

- human_task_groups carries its task's process_key, due_at and created_at (kept by triggers: filled on insert
  when the writer did not, followed when the task's due time or process changes), indexed as
  (group_name, due_at, created_at, task_id) and (group_name, process_key, due_at, created_at, task_id): a
  group's tasks in inbox order, without a look-up per task in the global due index.
- human_tasks: (assignee, due_at, created_at, id) in place of (assignee, due_at), so one person's tasks come
  in inbox order too; (assignee, process_key, due_at, created_at, id) for held tasks only; business_key; the
  index on due_at alone goes (ix_human_tasks_inbox starts with it).
- task_counts: indexes on candidate_groups and on assignee, so the sums over the parts of reach
  (access.task_reach_parts) read their rows, not the table.
- task_due_counts: open tasks with a due time counted by candidate groups, assignee and UTC day of the due
  time, kept by a trigger beside task_counts'. A row that reaches zero stays, so that claims and releases
  update it in place; the scheduler's sweep deletes those of past days (background/timers.
  purge_spent_due_counts). "Due before T" is the sum
  of the days before T's day plus a count of T's day alone, exact however "now" moves.
- task_counts and task_due_counts: fillfactor 50, so the trigger's updates stay on their page (HOT: no
  indexed column changes) and are pruned there; autovacuum by a fixed number of dead rows, not a fifth of
  a table of a few thousand rows written thousands of times a minute.

Revision ID: 0013_inbox_at_scale
Revises: 0012_teams_of_customers
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0013_inbox_at_scale"
down_revision = "0012_teams_of_customers"
branch_labels = None
depends_on = None

_COUNTS_STORAGE = ("fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, "
                   "autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000")

_PG_DAY = "floor(extract(epoch FROM {0}.due_at) / 86400)::int"
_PG_INCREMENT = """
            INSERT INTO task_due_counts AS c (candidate_groups, due_day, assignee, open_tasks)
            VALUES (new_groups, new_day, new_assignee, 1)
            ON CONFLICT (candidate_groups, due_day, assignee) DO UPDATE SET open_tasks = c.open_tasks + 1;"""

_POSTGRESQL = [
    f"""
    CREATE FUNCTION followup_count_due_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        old_assignee text := coalesce(OLD.assignee, '');
        new_assignee text := coalesce(NEW.assignee, '');
        old_groups text := OLD.candidate_groups::text;
        new_groups text := NEW.candidate_groups::text;
        old_day int := {_PG_DAY.format('OLD')};
        new_day int := {_PG_DAY.format('NEW')};
        new_first boolean;
    BEGIN
        IF TG_OP = 'UPDATE' AND old_groups = new_groups AND old_assignee = new_assignee
           AND old_day IS NOT DISTINCT FROM new_day THEN
            RETURN NULL;
        END IF;
        -- The two rows of an update are locked in one order (assignee, day), as task_counts' are.
        new_first := coalesce(TG_OP = 'UPDATE' AND (new_assignee < old_assignee
                                                     OR (new_assignee = old_assignee AND new_day < old_day)), false);
        IF new_first AND new_day IS NOT NULL THEN{_PG_INCREMENT}
        END IF;
        IF TG_OP <> 'INSERT' AND old_day IS NOT NULL THEN
            -- A row that reaches zero stays, updated in place (HOT), not deleted and inserted again at every
            -- claim and release; the scheduler's sweep deletes those of past days.
            UPDATE task_due_counts SET open_tasks = open_tasks - 1
            WHERE candidate_groups = old_groups AND due_day = old_day AND assignee = old_assignee;
        END IF;
        IF TG_OP <> 'DELETE' AND NOT new_first AND new_day IS NOT NULL THEN{_PG_INCREMENT}
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER human_tasks_due_counted AFTER INSERT OR DELETE OR UPDATE OF candidate_groups, assignee, due_at
    ON human_tasks FOR EACH ROW EXECUTE FUNCTION followup_count_due_tasks()
    """,
    """
    CREATE FUNCTION followup_fill_task_group() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT t.process_key, t.due_at, t.created_at INTO NEW.process_key, NEW.due_at, NEW.created_at
        FROM human_tasks t WHERE t.id = NEW.task_id;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER human_task_groups_filled BEFORE INSERT ON human_task_groups
    FOR EACH ROW WHEN (NEW.created_at IS NULL) EXECUTE FUNCTION followup_fill_task_group()
    """,
    """
    CREATE FUNCTION followup_follow_task_due() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE human_task_groups SET due_at = NEW.due_at, process_key = NEW.process_key WHERE task_id = NEW.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER human_tasks_due_followed AFTER UPDATE OF due_at, process_key ON human_tasks
    FOR EACH ROW WHEN (OLD.due_at IS DISTINCT FROM NEW.due_at OR OLD.process_key <> NEW.process_key)
    EXECUTE FUNCTION followup_follow_task_due()
    """,
]

_SQLITE_DAY = "CAST(strftime('%s', {0}.due_at) AS INTEGER) / 86400"
_SQLITE_KEY = (f"candidate_groups = OLD.candidate_groups AND due_day = {_SQLITE_DAY.format('OLD')} "
               "AND assignee = coalesce(OLD.assignee, '')")
_SQLITE_DECREMENT = f"""
        UPDATE task_due_counts SET open_tasks = open_tasks - 1 WHERE OLD.due_at IS NOT NULL AND {_SQLITE_KEY};"""
_SQLITE_INCREMENT = f"""
        INSERT INTO task_due_counts (candidate_groups, due_day, assignee, open_tasks)
        SELECT NEW.candidate_groups, {_SQLITE_DAY.format('NEW')}, coalesce(NEW.assignee, ''), 1
        WHERE NEW.due_at IS NOT NULL
        ON CONFLICT (candidate_groups, due_day, assignee) DO UPDATE SET open_tasks = open_tasks + 1;"""

_SQLITE = [
    f"""
    CREATE TRIGGER human_tasks_due_counted_insert AFTER INSERT ON human_tasks BEGIN{_SQLITE_INCREMENT}
    END
    """,
    f"""
    CREATE TRIGGER human_tasks_due_counted_delete AFTER DELETE ON human_tasks BEGIN{_SQLITE_DECREMENT}
    END
    """,
    f"""
    CREATE TRIGGER human_tasks_due_counted_update AFTER UPDATE OF candidate_groups, assignee, due_at ON human_tasks
    BEGIN{_SQLITE_DECREMENT}{_SQLITE_INCREMENT}
    END
    """,
    """
    CREATE TRIGGER human_task_groups_filled AFTER INSERT ON human_task_groups WHEN NEW.created_at IS NULL BEGIN
        UPDATE human_task_groups SET (process_key, due_at, created_at) =
            (SELECT process_key, due_at, created_at FROM human_tasks WHERE id = NEW.task_id)
        WHERE task_id = NEW.task_id AND group_name = NEW.group_name;
    END
    """,
    """
    CREATE TRIGGER human_tasks_due_followed AFTER UPDATE OF due_at, process_key ON human_tasks
    WHEN OLD.due_at IS NOT NEW.due_at OR OLD.process_key <> NEW.process_key BEGIN
        UPDATE human_task_groups SET due_at = NEW.due_at, process_key = NEW.process_key WHERE task_id = NEW.id;
    END
    """,
]


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("human_task_groups") as batch:
        batch.add_column(sa.Column("process_key", sa.String(255)))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True)))
    if postgresql:
        op.execute("""UPDATE human_task_groups g SET process_key = t.process_key, due_at = t.due_at,
                      created_at = t.created_at FROM human_tasks t WHERE t.id = g.task_id""")
    else:
        op.execute("""UPDATE human_task_groups SET (process_key, due_at, created_at) =
                      (SELECT process_key, due_at, created_at FROM human_tasks WHERE id = task_id)""")
    op.drop_index("ix_human_task_groups_group", table_name="human_task_groups")
    op.create_index("ix_human_task_groups_inbox", "human_task_groups", ["group_name", "due_at", "created_at", "task_id"])
    op.create_index("ix_human_task_groups_process", "human_task_groups",
                    ["group_name", "process_key", "due_at", "created_at", "task_id"])
    op.drop_index("ix_human_tasks_assignee_due", table_name="human_tasks")
    op.drop_index("ix_human_tasks_due", table_name="human_tasks")
    op.create_index("ix_human_tasks_assignee_inbox", "human_tasks", ["assignee", "due_at", "created_at", "id"])
    op.create_index("ix_human_tasks_held_process", "human_tasks", ["assignee", "process_key", "due_at", "created_at", "id"],
                    postgresql_where=sa.text("assignee IS NOT NULL"), sqlite_where=sa.text("assignee IS NOT NULL"))
    op.create_index("ix_human_tasks_business_key", "human_tasks", ["business_key"])
    op.create_table(
        "task_due_counts",
        sa.Column("candidate_groups", sa.Text(), nullable=False),
        sa.Column("due_day", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.String(100), nullable=False),
        sa.Column("open_tasks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("candidate_groups", "due_day", "assignee", name="pk_task_due_counts"),
    )
    op.create_index("ix_task_due_counts_assignee", "task_due_counts", ["assignee", "due_day"])
    op.create_index("ix_task_counts_groups", "task_counts", ["candidate_groups", "assignee"])
    op.create_index("ix_task_counts_assignee", "task_counts", ["assignee"])
    day = _PG_DAY.format("human_tasks") if postgresql else _SQLITE_DAY.format("human_tasks")
    groups = "candidate_groups::text" if postgresql else "candidate_groups"
    op.execute(f"""
        INSERT INTO task_due_counts (candidate_groups, due_day, assignee, open_tasks)
        SELECT {groups}, {day}, coalesce(assignee, ''), count(*) FROM human_tasks WHERE due_at IS NOT NULL
        GROUP BY {groups}, {day}, coalesce(assignee, '')""")
    if postgresql:
        for table in ("task_counts", "task_due_counts"):
            op.execute(f"ALTER TABLE {table} SET ({_COUNTS_STORAGE})")
        op.execute("CLUSTER task_counts USING pk_task_counts")  # rewritten with the new fillfactor
    for statement in _POSTGRESQL if postgresql else _SQLITE:
        op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP TRIGGER human_tasks_due_counted ON human_tasks")
        op.execute("DROP TRIGGER human_task_groups_filled ON human_task_groups")
        op.execute("DROP TRIGGER human_tasks_due_followed ON human_tasks")
        for name in ("followup_count_due_tasks", "followup_fill_task_group", "followup_follow_task_due"):
            op.execute(f"DROP FUNCTION {name}()")
        op.execute("ALTER TABLE task_counts RESET (fillfactor, autovacuum_vacuum_scale_factor, "
                   "autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)")
    else:
        for name in ("human_tasks_due_counted_insert", "human_tasks_due_counted_delete",
                     "human_tasks_due_counted_update", "human_task_groups_filled", "human_tasks_due_followed"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("task_due_counts")
    op.drop_index("ix_task_counts_assignee", table_name="task_counts")
    op.drop_index("ix_task_counts_groups", table_name="task_counts")
    op.drop_index("ix_human_tasks_business_key", table_name="human_tasks")
    op.drop_index("ix_human_tasks_held_process", table_name="human_tasks")
    op.drop_index("ix_human_tasks_assignee_inbox", table_name="human_tasks")
    op.create_index("ix_human_tasks_due", "human_tasks", ["due_at"])
    op.create_index("ix_human_tasks_assignee_due", "human_tasks", ["assignee", "due_at"])
    op.drop_index("ix_human_task_groups_process", table_name="human_task_groups")
    op.drop_index("ix_human_task_groups_inbox", table_name="human_task_groups")
    op.create_index("ix_human_task_groups_group", "human_task_groups", ["group_name"])
    with op.batch_alter_table("human_task_groups") as batch:
        batch.drop_column("created_at")
        batch.drop_column("due_at")
        batch.drop_column("process_key")
