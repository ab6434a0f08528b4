"""ids never reused on SQLite: AUTOINCREMENT on every table with an integer id

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 11:00:00

SQLite hands out the largest rowid again after that row is deleted unless the table was
created with AUTOINCREMENT, which only a rebuild of the table can add. Postgres sequences never
reuse a value, so there this migration does nothing.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Parents before children; migrations/env.py turns SQLite's foreign keys off while it runs, so
# dropping the old copy of a table cascades nothing.
TABLES = (
    "users",
    "movies",
    "reviews",
    "review_scores",
    "sentence_scores",
    "scoring_jobs",
    "feedback",
)


def _rebuild(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table,
            recreate="always",
            table_kwargs={"sqlite_autoincrement": autoincrement},
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
