"""Open tasks with a due time counted by candidate groups and UTC day alone, whoever holds them (issue 16)

task_due_set_counts is task_due_counts without the assignee: the "due before T" total of the inbox's `all`
and `group` scopes sums it over the days before T's day, set by set, one row per day instead of one per
day and holder (a supervisor of 5 groups at 1,000,000 open tasks: 330 rows instead of 1,650, 0.5 ms
instead of 1.8). Its trigger fires on insert, delete and a change of candidate groups or due time, not
on a claim or a release (those only move a task between holders). Rows at zero stay, updated in place
(HOT), until the scheduler's sweep deletes those of past days (background/timers.purge_spent_due_counts),
as task_due_counts' do; the same storage settings.

Revision ID: 0014_due_counts_by_set
Revises: 0013_inbox_at_scale
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0014_due_counts_by_set"
down_revision = "0013_inbox_at_scale"
branch_labels = None
depends_on = None

_COUNTS_STORAGE = ("fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, "
                   "autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000")

_PG_DAY = "floor(extract(epoch FROM {0}.due_at) / 86400)::int"
_PG_INCREMENT = """
            INSERT INTO task_due_set_counts AS c (candidate_groups, due_day, open_tasks)
            VALUES (new_groups, new_day, 1)
            ON CONFLICT (candidate_groups, due_day) DO UPDATE SET open_tasks = c.open_tasks + 1;"""

_POSTGRESQL = [
    f"""
    CREATE FUNCTION followup_count_due_sets() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        old_groups text := OLD.candidate_groups::text;
        new_groups text := NEW.candidate_groups::text;
        old_day int := {_PG_DAY.format('OLD')};
        new_day int := {_PG_DAY.format('NEW')};
        new_first boolean;
    BEGIN
        IF TG_OP = 'UPDATE' AND old_groups = new_groups AND old_day IS NOT DISTINCT FROM new_day THEN
            RETURN NULL;
        END IF;
        -- The two rows of an update are locked in one order (groups, day), so two updates cannot deadlock.
        new_first := coalesce(TG_OP = 'UPDATE' AND (new_groups < old_groups
                                                     OR (new_groups = old_groups AND new_day < old_day)), false);
        IF new_first AND new_day IS NOT NULL THEN{_PG_INCREMENT}
        END IF;
        IF TG_OP <> 'INSERT' AND old_day IS NOT NULL THEN
            UPDATE task_due_set_counts SET open_tasks = open_tasks - 1
            WHERE candidate_groups = old_groups AND due_day = old_day;
        END IF;
        IF TG_OP <> 'DELETE' AND NOT new_first AND new_day IS NOT NULL THEN{_PG_INCREMENT}
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER human_tasks_due_set_counted AFTER INSERT OR DELETE OR UPDATE OF candidate_groups, due_at
    ON human_tasks FOR EACH ROW EXECUTE FUNCTION followup_count_due_sets()
    """,
]

_SQLITE_DAY = "CAST(strftime('%s', {0}.due_at) AS INTEGER) / 86400"
_SQLITE_DECREMENT = f"""
        UPDATE task_due_set_counts SET open_tasks = open_tasks - 1
        WHERE OLD.due_at IS NOT NULL AND candidate_groups = OLD.candidate_groups AND due_day = {_SQLITE_DAY.format('OLD')};"""
_SQLITE_INCREMENT = f"""
        INSERT INTO task_due_set_counts (candidate_groups, due_day, open_tasks)
        SELECT NEW.candidate_groups, {_SQLITE_DAY.format('NEW')}, 1 WHERE NEW.due_at IS NOT NULL
        ON CONFLICT (candidate_groups, due_day) DO UPDATE SET open_tasks = open_tasks + 1;"""

_SQLITE = [
    f"""
    CREATE TRIGGER human_tasks_due_set_counted_insert AFTER INSERT ON human_tasks BEGIN{_SQLITE_INCREMENT}
    END
    """,
    f"""
    CREATE TRIGGER human_tasks_due_set_counted_delete AFTER DELETE ON human_tasks BEGIN{_SQLITE_DECREMENT}
    END
    """,
    f"""
    CREATE TRIGGER human_tasks_due_set_counted_update AFTER UPDATE OF candidate_groups, due_at ON human_tasks
    WHEN OLD.candidate_groups IS NOT NEW.candidate_groups OR OLD.due_at IS NOT NEW.due_at
    BEGIN{_SQLITE_DECREMENT}{_SQLITE_INCREMENT}
    END
    """,
]


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "task_due_set_counts",
        sa.Column("candidate_groups", sa.Text(), nullable=False),
        sa.Column("due_day", sa.Integer(), nullable=False),
        sa.Column("open_tasks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("candidate_groups", "due_day", name="pk_task_due_set_counts"),
    )
    if postgresql:
        op.execute(f"ALTER TABLE task_due_set_counts SET ({_COUNTS_STORAGE})")
        # No task write between the count and the trigger: it would be in neither.
        op.execute("LOCK TABLE human_tasks IN SHARE ROW EXCLUSIVE MODE")
    op.execute("""
        INSERT INTO task_due_set_counts (candidate_groups, due_day, open_tasks)
        SELECT candidate_groups, due_day, sum(open_tasks) FROM task_due_counts
        GROUP BY candidate_groups, due_day HAVING sum(open_tasks) <> 0""")
    for statement in _POSTGRESQL if postgresql else _SQLITE:
        op.execute(statement)
    if postgresql:
        # Statistics now, not when autovacuum gets to it (5,000 changes; never where it is off): without
        # them the inbox's generic plans (Backend.planned_once) read the table as if it were empty.
        op.execute("ANALYZE task_due_set_counts")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER human_tasks_due_set_counted ON human_tasks")
        op.execute("DROP FUNCTION followup_count_due_sets()")
    else:
        for name in ("human_tasks_due_set_counted_insert", "human_tasks_due_set_counted_delete",
                     "human_tasks_due_set_counted_update"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("task_due_set_counts")
