"""Open tasks counted by process, candidate groups and assignee, kept by triggers on human_tasks

An inbox's total was a count over every open task in reach (7 ms at 12,000 tasks, and JIT compilation on
top); with these counts it is a sum over a few rows. Triggers keep them, so no write path (the one-statement
save, timer batches, cascades from a deleted instance) can forget to. Triggers fire per row, not on
TRUNCATE: whoever truncates human_tasks truncates task_counts with it.

Revision ID: 0006_task_counts
Revises: 0002_api
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_task_counts"
down_revision = "0002_api"
branch_labels = None
depends_on = None

_POSTGRESQL = [
    """
    CREATE FUNCTION followup_count_open_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        old_assignee text := coalesce(OLD.assignee, '');
        new_assignee text := coalesce(NEW.assignee, '');
    BEGIN
        IF TG_OP = 'UPDATE' AND OLD.process_key = NEW.process_key
           AND OLD.candidate_groups::text = NEW.candidate_groups::text AND old_assignee = new_assignee THEN
            RETURN NULL;
        END IF;
        -- The two rows of an update are locked in one order (by assignee): a claim and an unclaim at the
        -- same moment cannot deadlock on them.
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND new_assignee < old_assignee) THEN
            INSERT INTO task_counts AS c (process_key, candidate_groups, assignee, open_tasks)
            VALUES (NEW.process_key, NEW.candidate_groups::text, new_assignee, 1)
            ON CONFLICT (process_key, candidate_groups, assignee) DO UPDATE SET open_tasks = c.open_tasks + 1;
        END IF;
        IF TG_OP <> 'INSERT' THEN
            UPDATE task_counts SET open_tasks = open_tasks - 1
            WHERE process_key = OLD.process_key AND candidate_groups = OLD.candidate_groups::text
              AND assignee = old_assignee;
        END IF;
        IF TG_OP = 'UPDATE' AND new_assignee >= old_assignee THEN
            INSERT INTO task_counts AS c (process_key, candidate_groups, assignee, open_tasks)
            VALUES (NEW.process_key, NEW.candidate_groups::text, new_assignee, 1)
            ON CONFLICT (process_key, candidate_groups, assignee) DO UPDATE SET open_tasks = c.open_tasks + 1;
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND OLD.candidate_groups::text <> NEW.candidate_groups::text) THEN
            INSERT INTO task_count_groups (candidate_groups, group_name)
            SELECT NEW.candidate_groups::text, g FROM json_array_elements_text(NEW.candidate_groups) AS g
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER human_tasks_counted AFTER INSERT OR DELETE OR UPDATE OF process_key, candidate_groups, assignee
    ON human_tasks FOR EACH ROW EXECUTE FUNCTION followup_count_open_tasks()
    """,
]

_SQLITE = [
    """
    CREATE TRIGGER human_tasks_counted_insert AFTER INSERT ON human_tasks BEGIN
        INSERT INTO task_counts (process_key, candidate_groups, assignee, open_tasks)
        VALUES (NEW.process_key, NEW.candidate_groups, coalesce(NEW.assignee, ''), 1)
        ON CONFLICT (process_key, candidate_groups, assignee) DO UPDATE SET open_tasks = open_tasks + 1;
        INSERT OR IGNORE INTO task_count_groups (candidate_groups, group_name)
        SELECT NEW.candidate_groups, value FROM json_each(NEW.candidate_groups);
    END
    """,
    """
    CREATE TRIGGER human_tasks_counted_delete AFTER DELETE ON human_tasks BEGIN
        UPDATE task_counts SET open_tasks = open_tasks - 1
        WHERE process_key = OLD.process_key AND candidate_groups = OLD.candidate_groups
          AND assignee = coalesce(OLD.assignee, '');
    END
    """,
    # SQLite writes one transaction at a time: the order of the two rows does not matter here.
    """
    CREATE TRIGGER human_tasks_counted_update AFTER UPDATE OF process_key, candidate_groups, assignee
    ON human_tasks BEGIN
        UPDATE task_counts SET open_tasks = open_tasks - 1
        WHERE process_key = OLD.process_key AND candidate_groups = OLD.candidate_groups
          AND assignee = coalesce(OLD.assignee, '');
        INSERT INTO task_counts (process_key, candidate_groups, assignee, open_tasks)
        VALUES (NEW.process_key, NEW.candidate_groups, coalesce(NEW.assignee, ''), 1)
        ON CONFLICT (process_key, candidate_groups, assignee) DO UPDATE SET open_tasks = open_tasks + 1;
        INSERT OR IGNORE INTO task_count_groups (candidate_groups, group_name)
        SELECT NEW.candidate_groups, value FROM json_each(NEW.candidate_groups)
        WHERE NEW.candidate_groups <> OLD.candidate_groups;
    END
    """,
]


def upgrade():
    op.create_table(
        "task_counts",
        sa.Column("process_key", sa.String(255), nullable=False),
        sa.Column("candidate_groups", sa.Text(), nullable=False),
        sa.Column("assignee", sa.String(100), nullable=False),
        sa.Column("open_tasks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("process_key", "candidate_groups", "assignee", name="pk_task_counts"),
    )
    op.create_table(
        "task_count_groups",
        sa.Column("candidate_groups", sa.Text(), nullable=False),
        sa.Column("group_name", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("candidate_groups", "group_name", name="pk_task_count_groups"),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    groups_text = "candidate_groups::text" if postgresql else "candidate_groups"
    op.execute(f"""
        INSERT INTO task_counts (process_key, candidate_groups, assignee, open_tasks)
        SELECT process_key, {groups_text}, coalesce(assignee, ''), count(*) FROM human_tasks
        GROUP BY process_key, {groups_text}, coalesce(assignee, '')""")
    if postgresql:
        op.execute("""
            INSERT INTO task_count_groups (candidate_groups, group_name)
            SELECT DISTINCT t.candidate_groups::text, g FROM human_tasks t,
                   json_array_elements_text(t.candidate_groups) AS g""")
    else:
        op.execute("""
            INSERT OR IGNORE INTO task_count_groups (candidate_groups, group_name)
            SELECT t.candidate_groups, j.value FROM human_tasks t, json_each(t.candidate_groups) AS j""")
    for statement in _POSTGRESQL if postgresql else _SQLITE:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER human_tasks_counted ON human_tasks")
        op.execute("DROP FUNCTION followup_count_open_tasks()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER human_tasks_counted_{name}")
    op.drop_table("task_count_groups")
    op.drop_table("task_counts")
