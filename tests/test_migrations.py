"""The Alembic migrations build exactly the schema the ORM tables describe."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app import stats
from app.db import Base, make_engine, make_session_factory
from app.migrate import upgrade


def test_upgrade_from_nothing_matches_the_models(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # a second run is a no-op

    engine = make_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        tables = set(inspect(connection).get_table_names())
        created = (
            dict(connection.execute(text("SELECT name, sql FROM sqlite_master")).all())
            if engine.dialect.name == "sqlite"
            else {}
        )
    engine.dispose()
    assert diff == []
    assert {"users", "movies", "movie_genres", "reviews", "review_scores"} <= tables
    # compare_metadata does not see AUTOINCREMENT: every table the models give it must have it.
    for table in Base.metadata.tables.values():
        if created and table.dialect_kwargs.get("sqlite_autoincrement"):
            assert "AUTOINCREMENT" in created[table.name], table.name


def test_0003_keeps_every_row_and_makes_sqlite_ids_never_reused(database_url: str) -> None:
    upgrade(database_url, "0002")
    engine = make_engine(database_url)
    stamp = {"t": "2026-01-01 00:00:00+00:00"}
    add_review = text(
        "INSERT INTO reviews (movie_id, source, author_name, body, created_at, updated_at)"
        " VALUES (:movie, 'x', 'a', :body, :t, :t) RETURNING id"
    )
    with engine.begin() as connection:
        movie = connection.execute(
            text("INSERT INTO movies (imdb_id) VALUES ('tt0000001') RETURNING id")
        ).scalar_one()
        kept = connection.execute(add_review, {"movie": movie, "body": "kept"} | stamp).scalar_one()
        connection.execute(
            text(
                "INSERT INTO review_scores (review_id, model_version, p_positive, scored_at)"
                " VALUES (:review, 'v', 0.9, :t)"
            ),
            {"review": kept} | stamp,
        )

    upgrade(database_url)

    with engine.begin() as connection:
        rows = connection.execute(text("SELECT id, body FROM reviews")).all()
        scores = connection.execute(text("SELECT review_id FROM review_scores")).all()
        newest = connection.execute(add_review, {"movie": movie, "body": "new"} | stamp).scalar()
        connection.execute(text("DELETE FROM reviews WHERE id = :id"), {"id": newest})
        after = connection.execute(add_review, {"movie": movie, "body": "next"} | stamp).scalar()
    engine.dispose()
    assert rows == [(kept, "kept")] and scores == [(kept,)]
    assert after is not None and newest is not None and after > newest


def test_movie_stats_migration_counts_what_is_already_there(database_url: str) -> None:
    upgrade(database_url, "0002")
    engine = make_engine(database_url)
    p_values = [0.0, 0.05, 0.1, 0.3, 0.49, 0.5, 0.7, 0.9, 0.95, 1.0]
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO movies (id, imdb_id) VALUES (1, 'tt1'), (2, 'tt2')"))
        for review_id in range(1, 13):
            connection.execute(
                text(
                    "INSERT INTO reviews (id, movie_id, source, author_name, body, created_at,"
                    " updated_at) VALUES (:id, :movie, 'textflix', 'a', 'b', :now, :now)"
                ),
                {"id": review_id, "movie": 1 + review_id % 2, "now": datetime.now(UTC)},
            )
        for score_id, p in enumerate(p_values, start=1):
            connection.execute(
                text(
                    "INSERT INTO review_scores (id, review_id, model_version, p_positive,"
                    " scored_at) VALUES (:id, :review, :version, :p, :now)"
                ),
                {
                    "id": score_id,
                    "review": score_id,
                    "version": "v1" if score_id % 3 else "v2",
                    "p": p,
                    "now": datetime.now(UTC),
                },
            )

    upgrade(database_url)

    with make_session_factory(engine)() as session:
        migrated = stats.stored(session)
        assert migrated == stats.full_recount(session)
        assert {row[1] for row in migrated} == {"", "v1", "v2"}
    engine.dispose()
