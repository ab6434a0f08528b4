"""The learning-curve experiment on a tiny synthetic aclImdb: sampling, resuming, reporting."""

from __future__ import annotations

import csv
import random
import struct
import types
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from matplotlib.text import Text

from app.config import Settings
from app.sentiment import baselines, experiment
from app.sentiment.arguments import TrainingArguments
from app.sentiment.data import LabeledText, Pools
from app.sentiment.experiment import run_experiment
from app.sentiment.learning_curve import (
    COLUMNS,
    LABELS,
    MODELS,
    PROTOTYPE_2019_BERT_LARGE,
    Run,
    append_result,
    busiest_size,
    curve_models,
    curve_table,
    learning_curve_figure,
    plot_learning_curve,
    read_results,
    side_by_side,
    summary_table,
)

PER_CLASS = 40  # texts per (split, label) in the synthetic data set
GOOD = ["wonderful", "great", "loved", "moving", "superb", "funny"]
BAD = ["awful", "boring", "hated", "dull", "mess", "worst"]
NEUTRAL = ["film", "plot", "actors", "scene", "story", "ending", "the", "a", "was"]
BASE_MODEL = Settings(_env_file=None).resolved_base_model()  # type: ignore[call-arg]


@pytest.fixture
def pools() -> Pools:
    """Pools of made-up reviews, each starting with its "split polarity id" tag."""
    rng = random.Random(0)  # noqa: S311 (made-up reviews, not secrets)
    texts = []
    for split in ("train", "test"):
        for label, polarity, words in ((1, "pos", GOOD), (0, "neg", BAD)):
            for i in range(PER_CLASS):
                body = " ".join(rng.choice(words + NEUTRAL * 2) for _ in range(30))
                text = f"{split} {polarity} {i}: {body}.\n{rng.choice(words)}!"
                texts.append(LabeledText(split, i, text, label))
    rng.shuffle(texts)
    return Pools(texts)


def _tag(text: str) -> str:
    """The "split polarity id" a synthetic review starts with."""
    return text.split(":", 1)[0]


def test_samples_are_balanced_nested_reproducible_and_keep_test_for_evaluation(
    pools: Pools,
) -> None:
    small, large = pools.train_sample(n=10, seed=0), pools.train_sample(n=21, seed=0)
    evaluation = pools.eval_sample(12)

    assert sorted(label for _, label in small) == [0] * 5 + [1] * 5
    assert sum(label for _, label in large) == 11
    assert {_tag(t) for t, _ in small} < {_tag(t) for t, _ in large}  # nested
    assert all(_tag(t).startswith("train") for t, _ in small + large)
    assert all(_tag(t).startswith("test") for t, _ in evaluation)
    assert all(("pos" in _tag(t)) == bool(label) for t, label in large + evaluation)
    again = Pools(reversed(_items(pools)))
    assert again.train_sample(n=10, seed=0) == small  # whatever order the texts came in
    assert again.eval_sample(12) == evaluation
    assert again.train_sample(n=10, seed=1) != small
    assert len(pools.eval_sample(None)) == 2 * PER_CLASS
    assert pools.size("train") == pools.size("test") == 2 * PER_CLASS
    assert len(pools.train_texts()) == 2 * PER_CLASS
    with pytest.raises(ValueError, match="asked for 41 positive train texts"):
        pools.train_sample(n=82, seed=0)
    with pytest.raises(ValueError, match="cannot sample -1"):
        pools.train_sample(n=-1, seed=0)


def _items(pools: Pools) -> list[LabeledText]:
    return [item for pool in pools._pools.values() for item in pool]


def test_an_interrupted_experiment_resumes_where_it_stopped(
    pools: Pools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "curve.csv"
    fits: list[int] = []
    real_fit = baselines.NBSVM.fit

    def fit_then_die(
        self: baselines.NBSVM, texts: Sequence[str], labels: Sequence[int], *, seed: int
    ) -> None:
        if len(fits) == 2:
            raise KeyboardInterrupt
        fits.append(len(texts))
        real_fit(self, texts, labels, seed=seed)

    monkeypatch.setattr(baselines.NBSVM, "fit", fit_then_die)
    grid: dict[str, Any] = {
        "pools": pools,
        "base_model": BASE_MODEL,
        "sizes": (10, 20),
        "seeds": (0, 1),
        "models": ("nbsvm",),
        "eval_size": 20,
        "results_path": results,
        "progress": False,
    }
    with pytest.raises(KeyboardInterrupt):
        run_experiment(**grid)
    first = read_results(results_path=results)
    assert [(r.n, r.seed) for r in first] == [(10, 0), (20, 0)]  # seed 0's curve, kept

    fits.clear()
    monkeypatch.setattr(baselines.NBSVM, "fit", real_fit)
    runs = run_experiment(**grid)

    assert [(r.model, r.n, r.seed) for r in runs] == [
        ("nbsvm", 10, 0),
        ("nbsvm", 20, 0),
        ("nbsvm", 10, 1),
        ("nbsvm", 20, 1),
    ]
    assert runs[:2] == first  # read back, not run again
    assert read_results(results_path=results) == runs
    assert all(r.eval_size == 20 and r.accuracy > 0.5 for r in runs)
    with results.open() as handle:
        assert tuple(next(csv.reader(handle))) == COLUMNS


def test_recorded_runs_are_skipped_and_new_ones_appended(pools: Pools, tmp_path: Path) -> None:
    results = tmp_path / "curve.csv"
    recorded = Run("nbsvm", 10, 0, 0.123, 1.0, 20, "2019-01-01T00:00:00+00:00")
    other_test_sample = Run("wordvec", 10, 0, 0.456, 1.0, 999, "2019-01-01T00:00:00+00:00")
    append_result(results_path=results, run=recorded)
    append_result(results_path=results, run=other_test_sample)
    with results.open("a") as handle:
        handle.write("nbsvm,20,0,0.9")  # a row cut short by a kill

    runs = run_experiment(
        pools=pools,
        base_model=BASE_MODEL,
        sizes=(10, 20),
        seeds=(0,),
        models=("nbsvm", "wordvec"),
        eval_size=20,
        results_path=results,
        progress=False,
    )

    assert runs[0] == recorded
    assert [(r.model, r.n) for r in runs[1:]] == [("wordvec", 10), ("nbsvm", 20), ("wordvec", 20)]
    assert all(r.eval_size == 20 and r.finished_at > "2020" for r in runs[1:])
    assert read_results(results_path=results) == [recorded, other_test_sample, *runs[1:]]


def test_finetune_runs_are_the_trainer_on_train_reviews_scored_on_the_test_sample(
    pools: Pools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, Any] = {}

    def train(**kwargs: Any) -> Any:
        calls.update(kwargs)
        kwargs["out_dir"].mkdir(parents=True)
        return types.SimpleNamespace(metrics={"accuracy": 0.75}, train_seconds=12.5)

    monkeypatch.setattr(experiment.training, "train", train)

    [run] = run_experiment(
        pools=pools,
        base_model=BASE_MODEL,
        sizes=(16,),
        seeds=(3,),
        models=("finetune-random-head",),
        eval_size=30,
        results_path=tmp_path / "curve.csv",
        finetune=TrainingArguments(epochs=2),
        progress=False,
    )

    assert (run.model, run.n, run.seed, run.eval_size, run.train_seconds, run.accuracy) == (
        "finetune-random-head",
        16,
        3,
        30,
        12.5,
        0.75,  # the card's held-out accuracy: scored once, on the curve's test sample
    )
    trained, evaluated = calls["train_examples"], calls["eval_examples"]
    assert trained == pools.train_sample(n=16, seed=3)  # the one sampler `textflix train` uses
    assert evaluated == pools.eval_sample(30)
    args = calls["args"]
    assert (args.seed, args.epochs, args.head_init, args.device) == (3, 2, "random", "auto")
    assert args.precision == "fp32"  # the curve's columns as they were measured
    assert not calls["out_dir"].exists()  # the temporary model is gone


def test_bf16_columns_train_the_same_model_in_bf16_mixed_precision(
    pools: Pools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained: list[TrainingArguments] = []

    def train(**kwargs: Any) -> Any:
        trained.append(kwargs["args"])
        return types.SimpleNamespace(metrics={"accuracy": 0.75}, train_seconds=1.0)

    monkeypatch.setattr(experiment.training, "train", train)

    runs = run_experiment(
        pools=pools,
        base_model=BASE_MODEL,
        sizes=(16,),
        seeds=(0,),
        models=("finetune", "finetune-bf16"),
        eval_size=30,
        results_path=tmp_path / "curve.csv",
        progress=False,
    )

    assert [run.model for run in runs] == ["finetune", "finetune-bf16"]
    assert [args.precision for args in trained] == ["fp32", "bf16"]
    assert {replace(args, precision="auto") for args in trained} == {
        replace(trained[0], precision="auto")
    }


def _run(model: str, n: int, seed: int, accuracy: float = 0.8, *, seconds: float = 0.1) -> Run:
    """A result row of the curve on 2,000 test reviews."""
    return Run(model, n, seed, accuracy, seconds, 2000, "x")


def _results(path: Path, runs: Sequence[Run]) -> Path:
    """`path`, a results file holding `runs`."""
    for run in runs:
        append_result(results_path=path, run=run)
    return path


def test_summary_table_and_plot(tmp_path: Path) -> None:
    results = _results(
        tmp_path / "curve.csv",
        [
            _run("nbsvm", 10, 0, 0.60),
            _run("nbsvm", 10, 1, 0.64),
            _run("nbsvm", 100, 0, 0.74),
            _run("nbsvm", 100, 1, 0.72),
            _run("wordvec", 10, 0, 0.58),
            _run("wordvec", 100, 0, 0.71),
            _run("finetune", 100, 0, 0.85),
        ],
    )

    table = summary_table(results_path=results).splitlines()
    png = tmp_path / "plots" / "curve.png"
    plot_learning_curve(results_path=results, out_path=png, reference=PROTOTYPE_2019_BERT_LARGE)

    assert table[0].startswith("| labeled reviews | NB-SVM")
    assert table[2] == "| 10 | 62.0 ± 2.8 (2) | 58.0 (1) | – |"
    assert table[3] == "| 100 | 73.0 ± 1.4 (2) | 71.0 (1) | 85.0 (1) |"
    # The cost row is at the number of labels most models were measured at (100 here).
    assert table[4] == "| training at 100 | 0.1 s | 0.1 s | 0.1 s |"
    assert "2,000 aclImdb test reviews" in table[-1] and "training the model itself" in table[-1]
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    width, height = struct.unpack(">II", header[16:24])
    assert width > 500 and height > 300


def test_where_models_crowd_one_size_the_plot_sets_them_side_by_side(tmp_path: Path) -> None:
    results = _results(
        tmp_path / "curve.csv",
        [
            _run("nbsvm", 100, 0, 0.74),
            _run("finetune", 100, 0, 0.85),
            _run("nbsvm", 500, 0, 0.82),
            _run("nbsvm", 500, 1, 0.84),
            _run("finetune", 500, 0, 0.87),
            _run("teacher", 500, 0, 0.92),
            _run("finetune-distilled", 500, 0, 0.89),
        ],
    )
    runs = read_results(results_path=results)

    assert busiest_size(runs) == 500
    panel = side_by_side(runs, 500)
    assert [label for label, _, _ in panel] == [
        LABELS["nbsvm"],
        LABELS["finetune"],
        LABELS["finetune-distilled"],
        LABELS["teacher"],
    ]
    assert panel[0][1] == pytest.approx([82.0, 84.0])
    assert busiest_size(runs[:2]) is None  # two models at most: the curve alone reads well

    crowded, alone = tmp_path / "crowded.png", tmp_path / "alone.png"
    plot_learning_curve(results_path=results, out_path=crowded)
    plot_learning_curve(results_path=_results(tmp_path / "two.csv", runs[:2]), out_path=alone)
    height = {png: struct.unpack(">II", png.read_bytes()[16:24])[1] for png in (crowded, alone)}
    assert height[crowded] > height[alone]  # the panel of the four models at 500 labels


def test_the_plot_prints_each_models_figure_as_the_table_does(tmp_path: Path) -> None:
    # 85.7, 84.2 and 84.95 average 84.95: the README's table printed 84.9 and the plot 85.0
    # beside the dots when each computed the mean its own way, from fractions and from %.
    results = _results(
        tmp_path / "curve.csv",
        [
            *(
                _run("finetune-random-head", 500, seed, accuracy)
                for seed, accuracy in enumerate((0.857, 0.842, 0.8495))
            ),
            _run("finetune", 500, 0, 0.912),
        ],
    )
    table = curve_table(results_path=results)
    panel = side_by_side(read_results(results_path=results), 500)

    assert table.rows == [(500, ["91.2 (1)", "84.9 ± 0.8 (3)"])]
    assert {label: figure for label, _, figure in panel} == {
        LABELS["finetune"]: "91.2 (1)",
        LABELS["finetune-random-head"]: "84.9 ± 0.8 (3)",
    }


def test_the_cost_row_prints_each_models_median_training_time_where_most_were_measured(
    tmp_path: Path,
) -> None:
    results = _results(
        tmp_path / "curve.csv",
        [
            _run("nbsvm", 100, 0, seconds=0.42),
            _run("nbsvm", 500, 0, seconds=1.5),
            _run("finetune", 500, 0, seconds=150.0),
            _run("finetune", 500, 1, seconds=90.0),
            _run("finetune", 500, 2, seconds=3000.0),
            _run("teacher", 500, 0, seconds=7200.0),
            _run("wordvec", 100, 0, seconds=3.0),
        ],
    )

    table = curve_table(results_path=results)

    # 500 labels has 3 models, 100 two; wordvec was not measured at 500; finetune's median is
    # its middle seed (150 s), not the mean (1,080 s); two hours print in hours.
    assert table.cost_n == 500
    assert dict(zip(table.models, table.costs, strict=True)) == {
        LABELS["nbsvm"]: "1.5 s",
        LABELS["wordvec"]: "–",
        LABELS["finetune"]: "2 min",
        LABELS["teacher"]: "2.0 h",
    }


def test_reports_refuse_mixed_test_samples_and_empty_results(tmp_path: Path) -> None:
    results = tmp_path / "curve.csv"
    with pytest.raises(ValueError, match="run the experiment first"):
        summary_table(results_path=results)
    append_result(results_path=results, run=_run("nbsvm", 10, 0, 0.6))
    append_result(results_path=results, run=Run("nbsvm", 10, 0, 0.7, 0.1, 25000, "x"))

    with pytest.raises(ValueError, match="pass eval_size"):
        summary_table(results_path=results)
    assert "| 10 | 70.0 (1) |" in summary_table(results_path=results, eval_size=25000)


def test_the_experiment_trains_exactly_the_models_the_curve_labels() -> None:
    # A model the curve lists but the experiment cannot train (or the reverse) would silently
    # be missing from the table, or be trained as something else.
    assert sorted(experiment.RUNNABLE) == sorted(MODELS)
    assert len(set(experiment.RUNNABLE)) == len(experiment.RUNNABLE)


def _curve_of_every_model(tmp_path: Path) -> Any:
    """The curve's figure with every model at 100 and 500 labels (one with fewer seeds) and
    the reference, laid out as the file is."""
    runs = [_run(model, n, 0) for model in MODELS for n in (100, 500)]
    runs += [_run("nbsvm", 500, 1, 0.82)]
    figure = learning_curve_figure(runs=runs, reference=PROTOTYPE_2019_BERT_LARGE)
    figure.savefig(tmp_path / "curve.png", dpi=150)  # lays the figure out
    return figure


def test_the_legend_of_every_model_stays_beside_the_curve(tmp_path: Path) -> None:
    # With 26 models the legend beside the curve ran past it into the panel of the models at
    # 500 labels below, and its last entries were hidden.
    figure = _curve_of_every_model(tmp_path)
    curve = figure.subfigs[0]
    legend = curve.axes[0].get_legend()

    assert len(legend.get_texts()) == len(MODELS) + 2  # and "< 2 seeds" and BERT-Large
    inside, box = curve.bbox, legend.get_window_extent()
    assert inside.y0 <= box.y0 and box.y1 <= inside.y1


def test_the_curve_keeps_its_title_whole_beside_a_wide_legend(tmp_path: Path) -> None:
    # The title sat above the axes, centred on them: as the legend's longest name widened, the
    # axes narrowed and the title ran off the figure's left edge ("entiment accuracy...").
    figure = _curve_of_every_model(tmp_path)
    titles = [text for text in figure.findobj(Text) if text.get_text().startswith("Sentiment")]

    assert len(titles) == 1
    inside, box = figure.bbox, titles[0].get_window_extent()
    assert inside.x0 <= box.x0 and box.x1 <= inside.x1


def test_no_two_models_share_a_colour_and_a_marker_on_the_curve() -> None:
    runs = [_run(model, n, 0) for model in MODELS for n in (100, 500)]
    figure = learning_curve_figure(runs=runs, reference=None)
    lines = [container.lines[0] for container in figure.subfigs[0].axes[0].containers]

    assert len(lines) == len(MODELS)
    assert len({(line.get_color(), line.get_marker()) for line in lines}) == len(MODELS)


def test_a_model_measured_at_the_panels_size_alone_is_in_the_panel_not_on_the_curve() -> None:
    # Each lever measured at 500 labels alone was a lone point on the curve and a line of its
    # legend (29 of them), beside the same figure in the panel below.
    runs = [_run(model, n, 0) for model in ("nbsvm", "finetune") for n in (100, 500)]
    runs += [_run(model, 500, 0, 0.9) for model in ("teacher", "finetune-distilled")]
    runs += [_run("finetune-adapted", 100, 0, 0.82)]
    figure = learning_curve_figure(runs=runs, reference=None)
    legend = [text.get_text() for text in figure.subfigs[0].axes[0].get_legend().get_texts()]
    panel = [label for label, _, _ in side_by_side(runs, 500)]

    assert legend == [LABELS[m] for m in ("nbsvm", "finetune", "finetune-adapted")]
    assert LABELS["teacher"] in panel and LABELS["finetune-distilled"] in panel
    assert curve_models(runs, panel_n=None) == [
        "nbsvm",
        "finetune",
        "finetune-adapted",
        "finetune-distilled",
        "teacher",
    ]
    only_at_500 = [run for run in runs if run.n == 500]
    assert len(curve_models(only_at_500, panel_n=500)) == 4  # nothing else to draw: all of them
