"""scoring claims, text revisions and movies to score first

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:55:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "scoring_claims",
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reviews.id"],
            name=op.f("fk_scoring_claims_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("review_id", "model_version", name=op.f("pk_scoring_claims")),
    )
    op.create_index(op.f("ix_scoring_claims_worker"), "scoring_claims", ["worker"], unique=False)
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(
            sa.Column("text_revision", sa.Integer(), server_default="1", nullable=False)
        )
    with op.batch_alter_table("review_scores") as batch:
        batch.add_column(
            sa.Column("text_revision", sa.Integer(), server_default="1", nullable=False)
        )
    with op.batch_alter_table("movies") as batch:
        batch.add_column(sa.Column("score_first_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("movies") as batch:
        batch.drop_column("score_first_at")
    with op.batch_alter_table("review_scores") as batch:
        batch.drop_column("text_revision")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("text_revision")
    op.drop_index(op.f("ix_scoring_claims_worker"), table_name="scoring_claims")
    op.drop_table("scoring_claims")
