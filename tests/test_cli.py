"""The `textflix` command as a user runs it: schema, imports with reports, scoring, errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import main, shown_probability
from app.db import make_engine, make_session_factory
from app.models import Review
from tests.factories import FakeClassifier
from tests.importers.datasets import tar_aclimdb, write_aclimdb, write_movielens


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A project of its own: an empty database, no models, a data folder with tiny datasets."""
    data = tmp_path / "data"
    write_aclimdb(data)
    write_movielens(data)
    values = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "TEXTFLIX_MODELS_DIR": str(tmp_path / "models"),
        "TEXTFLIX_DATA_DIR": str(data),
        "TEXTFLIX_SECRET_KEY": "cli-test",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _reviews(env: dict[str, str]) -> int:
    engine = make_engine(env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        count = session.scalar(select(func.count(Review.id))) or 0
    engine.dispose()
    return count


def test_upgrade_then_import_twice_adds_nothing_the_second_time(env: dict[str, str]) -> None:
    assert _run("db", "upgrade")[0] == 0
    source = str(Path(env["TEXTFLIX_DATA_DIR"]) / "aclImdb")

    code, first = _run("import", "aclimdb", source)
    count = _reviews(env)
    code_again, second = _run("import", "aclimdb", source)

    assert code == code_again == 0
    assert count == 5 and _reviews(env) == 5
    assert "aclImdb: 5 added" in first and "5 bad" in first
    assert "not UTF-8" in first  # problems are listed with their location
    assert "aclImdb: 0 added, 5 already present" in second


def test_import_of_a_missing_path_says_so(env: dict[str, str]) -> None:
    _run("db", "upgrade")
    result = CliRunner().invoke(main, ["import", "omdb", "/no/such/file.jsonl"])
    assert result.exit_code != 0
    assert "/no/such/file.jsonl: no such file or directory" in result.output


def test_import_of_a_truncated_archive_exits_non_zero_and_says_why(
    env: dict[str, str], tmp_path: Path
) -> None:
    _run("db", "upgrade")
    archive = tar_aclimdb(Path(env["TEXTFLIX_DATA_DIR"]) / "aclImdb", tmp_path / "a.tar.gz")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    result = CliRunner().invoke(main, ["import", "aclimdb", str(truncated)])

    assert result.exit_code == 1
    assert f"{truncated}: truncated or damaged archive" in result.output
    assert "stopped before its end" in result.output


def test_score_without_a_model_tells_how_to_get_one(env: dict[str, str]) -> None:
    _run("db", "upgrade")
    result = CliRunner().invoke(main, ["score"])
    assert result.exit_code != 0
    assert "textflix train" in result.output


def test_bad_database_url_is_reported_not_a_traceback(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code != 0
    assert "DATABASE_URL must be sqlite" in result.output


def test_make_admin(env: dict[str, str]) -> None:
    from app.users import find_user, sign_up

    _run("db", "upgrade")
    engine = make_engine(env["DATABASE_URL"])
    factory = make_session_factory(engine)
    with factory() as session:
        sign_up(session=session, username="root", password="a long passphrase")

    code, output = _run("make-admin", "ROOT")
    missing = CliRunner().invoke(main, ["make-admin", "nobody"])

    with factory() as session:
        user = find_user(session=session, username="root")
        assert user is not None and user.is_admin
    engine.dispose()
    assert code == 0 and "root is now an admin" in output
    assert missing.exit_code != 0 and "sign up on the site first" in missing.output


def test_an_nbsvm_version_trains_and_scores_every_review_beside_the_current_one(
    env: dict[str, str],
) -> None:
    data = Path(env["TEXTFLIX_DATA_DIR"])
    tar_aclimdb(data / "aclImdb", data / "aclImdb_v1.tar.gz")
    _run("db", "upgrade")
    _run("import", "aclimdb", str(data / "aclImdb"))

    code, trained = _run("train", "--kind", "nbsvm", "-n", "3", "--eval", "2", "--name", "nb")
    _, listed = _run("models")
    code_score, scored = _run("score", "--version", "nb")
    missing = CliRunner().invoke(main, ["score", "--version", "nope"])

    assert code == code_score == 0
    assert "model nb: accuracy" in trained and "on 2 held-out test reviews" in trained
    assert re.search(r"trained in \d+ s \(\d+ s in all\)", trained)
    assert "* nb  nbsvm  n=3" in listed  # the only model, so the current one
    assert "scored 5 reviews (done)" in scored
    assert missing.exit_code != 0 and "no trained model in" in missing.output


def test_worker_scores_everything_then_exits_until_done(env: dict[str, str]) -> None:
    data = Path(env["TEXTFLIX_DATA_DIR"])
    tar_aclimdb(data / "aclImdb", data / "aclImdb_v1.tar.gz")
    _run("db", "upgrade")
    _run("import", "aclimdb", str(data / "aclImdb"))
    _run("train", "--kind", "nbsvm", "-n", "3", "--eval", "2", "--name", "nb")

    code, output = _run("worker", "--until-done")
    _, again = _run("score")

    assert code == 0
    assert "scoring with nb" in output and "stopped" in output
    assert "nothing to score" in again


def test_compare_two_versions_on_the_reviews_both_scored(env: dict[str, str]) -> None:
    from app.scoring import score_pending

    _run("db", "upgrade")
    _run("import", "aclimdb", str(Path(env["TEXTFLIX_DATA_DIR"]) / "aclImdb"))
    engine = make_engine(env["DATABASE_URL"])
    factory = make_session_factory(engine)

    class Contrary(FakeClassifier):
        def predict(self, texts):  # type: ignore[no-untyped-def]
            return [type(p)(1.0 - p.p_positive) for p in super().predict(texts)]

    score_pending(session_factory=factory, classifier=FakeClassifier("a"), progress=False)
    score_pending(session_factory=factory, classifier=Contrary("b"), progress=False)
    engine.dispose()

    code, output = _run("compare", "a", "b", "--limit", "2")
    unknown = CliRunner().invoke(main, ["compare", "a", "nope"])

    assert code == 0
    # The fake scores one review 0.5, which both read as positive; the rest they flip.
    assert "5 reviews scored by both; they agree on 1 (20.0%)" in output
    assert "against the IMDb labels of 5: a 100.0%, b 20.0%" in output
    assert len([line for line in output.splitlines() if line.startswith("  review ")]) == 2
    assert unknown.exit_code != 0 and "no stored scores from nope" in unknown.output


def test_train_can_start_from_a_random_head_and_choose_its_precision(env: dict[str, str]) -> None:
    import torch

    from app.sentiment.registry import read_card
    from app.sentiment.training import training_precision

    data = Path(env["TEXTFLIX_DATA_DIR"])
    tar_aclimdb(data / "aclImdb", data / "aclImdb_v1.tar.gz")
    args = ["-n", "3", "--eval", "2", "--epochs", "1", "--no-promote"]

    code, _ = _run("train", *args, "--name", "r", "--head-init", "random", "--precision", "fp32")
    code_default, _ = _run("train", *args, "--name", "a")

    models = Path(env["TEXTFLIX_MODELS_DIR"])
    assert code == code_default == 0
    assert read_card(models / "r").hyperparameters["head_init"] == "random"
    assert str(read_card(models / "a").hyperparameters["head_init"]).startswith("label anchors")
    assert read_card(models / "r").hyperparameters["precision"] == "fp32"
    auto = training_precision("auto", torch.device("cpu"))  # bf16 where the CPU computes it
    assert str(read_card(models / "a").hyperparameters["precision"]).startswith(auto)


def test_train_refuses_a_depth_it_cannot_give(env: dict[str, str]) -> None:
    too_deep = CliRunner().invoke(main, ["train", "--layers", "99", "--no-promote"])
    nbsvm = CliRunner().invoke(main, ["train", "--layers", "2", "--kind", "nbsvm"])
    none = CliRunner().invoke(main, ["train", "--layers", "0"])
    teacher = CliRunner().invoke(main, ["train", "--layers", "2", "--recipe", "teacher"])

    assert too_deep.exit_code == nbsvm.exit_code == none.exit_code == teacher.exit_code == 2
    assert "the base model has 6 layers" in too_deep.output
    assert "--layers applies to the fine-tuned encoder" in nbsvm.output
    assert "the teacher recipe keeps them all" in teacher.output
    assert "0 is not in the range x>=1" in none.output
    assert not (Path(env["TEXTFLIX_MODELS_DIR"])).exists()  # nothing trained


def test_the_teacher_recipe_is_promoted_only_when_asked(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import click

    import app.lifecycle.versions

    asked: list[tuple[str, bool]] = []

    def stop(*, request: Any, promote_if_better: bool, **_: Any) -> None:
        asked.append((request.recipe, promote_if_better))
        raise click.ClickException("stopped before training")

    monkeypatch.setattr(app.lifecycle.versions, "train_and_promote", stop)
    for args in (["--recipe", "teacher"], ["--recipe", "teacher", "--promote"], []):
        CliRunner().invoke(main, ["train", *args])

    assert asked == [("teacher", False), ("teacher", True), ("quick", True)]


def test_predict_scores_lines_and_json_lines_from_stdin_or_a_file(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    import app.lifecycle.serving

    monkeypatch.setattr(
        app.lifecycle.serving, "load_current", lambda settings: (FakeClassifier(), None)
    )
    lines = 'A great film. I loved the cast!\n\n{"id": 7, "text": "Awful. A boring waste."}\n'
    source = tmp_path / "texts.txt"
    source.write_text(lines)

    from_stdin = CliRunner().invoke(main, ["predict", "-"], input=lines)
    from_file = CliRunner().invoke(main, ["predict", str(source)])

    assert from_stdin.exit_code == from_file.exit_code == 0
    assert from_stdin.output == from_file.output
    first, second = [json.loads(line) for line in from_stdin.output.splitlines()]
    assert first["label"] == "positive" and second["label"] == "negative"
    assert second["id"] == 7 and "id" not in first
    assert first["probability"] == pytest.approx(max(first["p_positive"], 1 - first["p_positive"]))
    assert [s["text"] for s in first["sentences"]] == ["A great film.", "I loved the cast!"]
    assert all(0 <= s["p_positive"] <= 1 for s in first["sentences"])


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.892345, 0.8923),
        (0.5, 0.5),
        (0.99999964, 0.99999964),
        (0.99999964123, 0.9999996412),
        (3.6e-7, 3.6e-7),
        (1.0, 1.0),
    ],
)
def test_predict_shows_a_near_certainty_short_of_certain(p: float, shown: float) -> None:
    assert shown_probability(p) == pytest.approx(shown, abs=1e-12)
    assert (shown_probability(p) == 1.0) is (p == 1.0)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('{"text": 3}\n', 'line 1: a JSON line needs a "text" string'),
        ("fine text\n{not json\n", "line 2: not valid JSON"),
    ],
)
def test_predict_reports_bad_lines_by_number(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, lines: str, message: str
) -> None:
    import app.lifecycle.serving

    monkeypatch.setattr(
        app.lifecycle.serving, "load_current", lambda settings: (FakeClassifier(), None)
    )

    result = CliRunner().invoke(main, ["predict"], input=lines)

    assert result.exit_code != 0 and message in result.output


def test_predict_without_a_model_tells_how_to_get_one(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["predict", "-"], input="text\n")

    assert result.exit_code != 0 and "textflix train" in result.output


def test_cascade_of_models_that_do_not_exist_says_so(env: dict[str, str]) -> None:
    code, output = _run("cascade", "nope", "gone")

    assert code == 1
    assert "no trained model" in output and "textflix train" in output
    assert not Path(env["TEXTFLIX_MODELS_DIR"]).exists()  # nothing saved
