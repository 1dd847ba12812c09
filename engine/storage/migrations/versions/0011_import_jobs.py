"""Customer imports in the background: progress, the job and its lease on `import_batches`, and the
uploaded file kept in `import_files` until the job has finished with it (issue 11)

Revision ID: 0011_import_jobs
Revises: 0010_task_titles
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0011_import_jobs"
down_revision = "0010_task_titles"
branch_labels = None
depends_on = "0003_customers"  # import_batches is the customer hub's table

COLUMNS = ("dry_run", "total_rows", "rows_checked", "rows_done", "options", "details", "error", "job_id",
           "lease_until", "attempts", "finished_at")


def upgrade():
    # plain ADD COLUMNs (nullable, or with a constant default): SQLite needs no copy of the table
    op.add_column("import_batches", sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("import_batches", sa.Column("total_rows", sa.Integer))
    op.add_column("import_batches", sa.Column("rows_checked", sa.Integer, nullable=False, server_default="0"))
    op.add_column("import_batches", sa.Column("rows_done", sa.Integer, nullable=False, server_default="0"))
    op.add_column("import_batches", sa.Column("options", sa.JSON))
    op.add_column("import_batches", sa.Column("details", sa.JSON))
    op.add_column("import_batches", sa.Column("error", sa.Text))
    op.add_column("import_batches", sa.Column("job_id", sa.String(100)))
    op.add_column("import_batches", sa.Column("lease_until", sa.DateTime(timezone=True)))
    op.add_column("import_batches", sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
    op.add_column("import_batches", sa.Column("finished_at", sa.DateTime(timezone=True)))
    op.create_index("ix_import_batches_status", "import_batches", ["status"], unique=False)
    op.create_table(
        "import_files",
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(300)),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batches.id"], name=op.f("fk_import_files_batch_id_import_batches"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_import_files")),
    )


def downgrade():
    op.drop_table("import_files")
    op.drop_index("ix_import_batches_status", table_name="import_batches")
    with op.batch_alter_table("import_batches") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
