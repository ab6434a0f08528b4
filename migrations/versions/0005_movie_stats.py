"""movie_stats: per-movie figures maintained on write

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:50:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BINS = 10
_HISTOGRAM = [f"hist_{i}" for i in range(_BINS)]


def upgrade() -> None:
    """Upgrade schema, and count what is already there (app.stats.rebuild's rows)."""
    op.create_table(
        "movie_stats",
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("n_reviews", sa.Integer(), nullable=False),
        sa.Column("n_scored", sa.Integer(), nullable=False),
        sa.Column("n_positive", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in _HISTOGRAM],
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.id"],
            name=op.f("fk_movie_stats_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("movie_id", "model_version", name=op.f("pk_movie_stats")),
    )
    columns = ", ".join(["movie_id", "model_version", "n_reviews", "n_scored", "n_positive"])
    histogram = ", ".join(_HISTOGRAM)
    zeros = ", ".join("0" for _ in _HISTOGRAM)
    # The bin of p is how many of 0.1 .. 0.9 it reaches (app.stats.bin_of); positive is
    # p >= 0.5 (app/sentiment/labels.py).
    bin_of = "CASE " + " ".join(
        f"WHEN s.p_positive < {k / _BINS} THEN {k - 1}" for k in range(1, _BINS)
    )
    bin_of += f" ELSE {_BINS - 1} END"
    sums = ", ".join(f"SUM(CASE WHEN {bin_of} = {i} THEN 1 ELSE 0 END)" for i in range(_BINS))
    op.execute(
        f"INSERT INTO movie_stats ({columns}, {histogram}) "  # noqa: S608 (no user input)
        f"SELECT movie_id, '', COUNT(id), 0, 0, {zeros} FROM reviews GROUP BY movie_id"
    )
    op.execute(
        f"INSERT INTO movie_stats ({columns}, {histogram}) "  # noqa: S608 (no user input)
        "SELECT r.movie_id, s.model_version, MAX(n.n), COUNT(s.id), "
        f"SUM(CASE WHEN s.p_positive >= 0.5 THEN 1 ELSE 0 END), {sums} "
        "FROM reviews r JOIN review_scores s ON s.review_id = r.id "
        "JOIN (SELECT movie_id, COUNT(id) AS n FROM reviews GROUP BY movie_id) n "
        "ON n.movie_id = r.movie_id "
        "GROUP BY r.movie_id, s.model_version"
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("movie_stats")
