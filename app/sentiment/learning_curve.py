"""The learning curve's results file, and the table and plot made from it."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_FP32_LABELS = {
    "nbsvm": "NB-SVM (uni+bigrams)",
    "wordvec": "mean token embeddings + LR",
    "finetune": "fine-tuned all-MiniLM-L6-v2",
    # The same recipe without label anchors: what they add (app/sentiment/anchors.py).
    "finetune-random-head": "fine-tuned, random head",
    # The levers of app/sentiment/recipes.py, alone and together ("best").
    "finetune-adapted": "+ in-domain pretraining",
    "finetune-distilled": "+ MPNet teacher's soft labels",
    "finetune-both": "both levers",
    "finetune-distilled-6k": "+ soft labels on 6,000 reviews",
    "finetune-distilled-12k": "+ soft labels on 12,000 reviews, 1 pass",
    "finetune-distilled-6k-4epochs": "+ 6,000 soft labels, 4 passes",
    "finetune-distilled-6k-6epochs": "+ 6,000 soft labels, 6 passes",
    "finetune-distilled-6k-4views": "+ 6,000 soft labels, 4 passes, a fresh stretch each",
    "finetune-distilled-12k-4epochs": "+ 12,000 soft labels, 4 passes",
    "finetune-distilled-6k-4epochs-teacher128": (
        "+ 6,000 soft labels, 4 passes, of the teacher with twice the steps"
    ),
    "finetune-distilled-24k": "+ soft labels on all 24,000 unlabeled reviews, 1 pass",
    "finetune-distilled-24k-2epochs": "+ soft labels on all 24,000 unlabeled reviews, 2 passes",
    "finetune-distilled-24k-4epochs": "+ soft labels on all 24,000 unlabeled reviews, 4 passes",
    "finetune-distilled-24k-4epochs-45words": (
        "+ soft labels on all 24,000 unlabeled reviews, 4 passes, 45-word windows"
    ),
    "finetune-distilled-12k-4epochs-45words": "+ 12,000 soft labels, 4 passes, 45-word windows",
    "finetune-distilled-6k-t2": "+ 6,000 soft labels at temperature 2",
    "finetune-distilled-6k-3layers": "3-layer student, 6,000 soft labels",
    # The levers' teacher itself: all-mpnet-base-v2 fine-tuned on the same labels.
    "teacher": "the MPNet teacher itself",
    "teacher-128steps": "the MPNet teacher, twice the steps",
}
BF16 = "-bf16"
"""The suffix of a column that trains its model in bf16 mixed precision instead of fp32."""
# The quick and best recipes, some levers and the teacher trained in bf16 mixed precision,
# which `textflix train` does on a CPU with bf16 instructions (the columns above are fp32).
IN_BF16 = tuple(
    model + BF16
    for model in (
        "finetune",
        "finetune-distilled-6k-4epochs",
        "finetune-distilled-6k-4views",
        "finetune-distilled-12k-4epochs",
        "finetune-distilled-6k-4epochs-teacher128",
        "finetune-distilled-24k",
        "finetune-distilled-24k-2epochs",
        "finetune-distilled-24k-4epochs",
        "finetune-distilled-24k-4epochs-45words",
        "finetune-distilled-12k-4epochs-45words",
        "teacher",
        "teacher-128steps",
    )
)
LABELS = _FP32_LABELS | {
    model: _FP32_LABELS[model.removesuffix(BF16)] + ", bf16 training" for model in IN_BF16
}
"""Each model's name in the table and the plot."""
MODELS = tuple(LABELS)
"""Every model the curve knows, in the order of the table's columns and the plot's legend."""
# What the 2019 prototype reported for BERT-Large (accuracy in %, by labeled reviews).
PROTOTYPE_2019_BERT_LARGE: dict[int, float] = {10: 72.5, 100: 88, 500: 91, 1000: 91.5, 10000: 94.5}


@dataclass(frozen=True)
class Run:
    """One finished run: a row of the results file."""

    model: str
    n: int
    seed: int
    accuracy: float  # on eval_size test reviews, 0..1
    train_seconds: float
    eval_size: int
    finished_at: str  # ISO 8601, UTC

    @property
    def key(self) -> tuple[str, int, int, int]:
        return (self.model, self.n, self.seed, self.eval_size)


COLUMNS = tuple(field.name for field in fields(Run))


def read_results(*, results_path: Path) -> list[Run]:
    """The finished runs in a results CSV (none if it does not exist yet)."""
    if not results_path.exists():
        return []
    with results_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    runs = []
    for row in rows:
        try:
            runs.append(
                Run(
                    model=row["model"],
                    n=int(row["n"]),
                    seed=int(row["seed"]),
                    accuracy=float(row["accuracy"]),
                    train_seconds=float(row["train_seconds"]),
                    eval_size=int(row["eval_size"]),
                    finished_at=row["finished_at"],
                )
            )
        except (KeyError, TypeError, ValueError):
            continue  # a line cut short by a kill: that run is simply done again
    return runs


def append_result(*, results_path: Path, run: Run) -> None:
    """Add one finished run to the results CSV, creating it with a header if needed."""
    results_path.parent.mkdir(parents=True, exist_ok=True)
    new = not results_path.exists() or results_path.stat().st_size == 0
    with results_path.open("a+", newline="", encoding="utf-8") as handle:
        if not new:
            handle.seek(handle.tell() - 1)
            if handle.read(1) != "\n":
                handle.write("\n")  # end a line left half-written by a kill
        writer = csv.writer(handle)
        if new:
            writer.writerow(COLUMNS)
        writer.writerow(astuple(run))


def summary_table(*, results_path: Path, eval_size: int | None = None) -> str:
    """A Markdown table for the README: accuracy (%) by n and model, mean ± std (seeds)."""
    table = curve_table(results_path=results_path, eval_size=eval_size)
    lines = [
        "| labeled reviews | " + " | ".join(table.models) + " |",
        "| ---: | " + " | ".join("---:" for _ in table.models) + " |",
        *(f"| {n:,} | " + " | ".join(cells) + " |" for n, cells in table.rows),
        f"| training at {table.cost_n:,} | " + " | ".join(table.costs) + " |",
        "",
        f"Accuracy (%) on {table.eval_size:,} aclImdb test reviews: mean ± standard "
        f"deviation over seeds (number of seeds). {COST_CAPTION}",
    ]
    return "\n".join(lines)


# A colour per model: matplotlib's ten "tab:" colours, then ten more that differ from them.
_COLORS = [
    *(f"tab:{name}" for name in ("blue", "orange", "green", "red", "purple")),
    *(f"tab:{name}" for name in ("brown", "pink", "gray", "olive", "cyan")),
    *("navy", "gold", "lime", "magenta", "teal", "maroon"),
    *("darkorange", "slateblue", "yellowgreen", "sienna"),
]
# And a marker per round of the colours, so that no two models share both.
_MARKERS = ["o", "s", "^", "D"]


def plot_learning_curve(
    *,
    results_path: Path,
    out_path: Path,
    reference: Mapping[int, float] | None = None,
    eval_size: int | None = None,
) -> None:
    """Write a PNG of mean accuracy against n (log axis), one line per model, and below it,
    where more than two models share a number of labels, every model there side by side (a
    model measured at that number alone is drawn there only, not as a lone point above)."""
    figure = learning_curve_figure(
        runs=_runs_on_one_test_sample(results_path, eval_size), reference=reference
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=150)


def learning_curve_figure(*, runs: list[Run], reference: Mapping[int, float] | None) -> Figure:
    """The figure `plot_learning_curve` writes, for runs on one test sample."""
    from matplotlib.figure import Figure  # drawn off-screen: no pyplot, no backend to pick

    by_cell = _accuracies(runs)
    panel_n = busiest_size(runs)
    panel = side_by_side(runs, panel_n) if panel_n is not None else []
    models = curve_models(runs, panel_n=panel_n)
    most_seeds = max(len(accuracies) for accuracies in by_cell.values())
    fewer_seeds = any(
        len(accuracies) < most_seeds
        for (model, _), accuracies in by_cell.items()
        if model in models
    )
    # The curve is as tall as its legend beside it (a line per model, one for fewer seeds, one
    # for the reference), so that the legend never runs into the panel below.
    legend_entries = len(models) + fewer_seeds + bool(reference)
    curve_height = max(4.8, 0.9 + 0.18 * legend_entries)
    figure = Figure(figsize=(11, curve_height + 0.28 * len(panel)), layout="constrained")
    top: Any = figure
    levers = None
    if panel:
        # Two subfigures, each laid out on its own: the panel's long model names do not narrow
        # the curve above it.
        ratios = [curve_height, 0.28 * len(panel)]
        top, bottom = figure.subfigures(2, 1, height_ratios=ratios)  # type: ignore[misc]
        levers = bottom.add_subplot()
    axes = top.add_subplot()
    for index, model in enumerate(models):
        marker = _MARKERS[index // len(_COLORS) % len(_MARKERS)]
        sizes = sorted(n for m, n in by_cell if m == model)
        points = [[100 * a for a in by_cell[model, n]] for n in sizes]
        means = [statistics.fmean(p) for p in points]
        low = [mean - min(p) for mean, p in zip(means, points, strict=True)]
        high = [max(p) - mean for mean, p in zip(means, points, strict=True)]
        line = axes.errorbar(
            sizes,
            means,
            yerr=[low, high],
            marker=marker,
            capsize=3,
            label=LABELS.get(model, model),
            # A colour per model (then a marker per round of them); the teacher is no
            # student: black.
            color="black" if model == "teacher" else _COLORS[index % len(_COLORS)],
        )
        fewer = [
            (n, m) for n, m, p in zip(sizes, means, points, strict=True) if len(p) < most_seeds
        ]
        if fewer:
            axes.plot(
                [n for n, _ in fewer],
                [m for _, m in fewer],
                linestyle="none",
                marker=marker,
                markersize=7,
                markerfacecolor="white",
                color=line.lines[0].get_color(),
                zorder=3,  # over the filled marker errorbar drew
            )
    if fewer_seeds:
        axes.plot([], [], "o", color="grey", markerfacecolor="white", label=f"< {most_seeds} seeds")
    if reference:
        ns = sorted(reference)
        axes.plot(
            ns,
            [reference[n] for n in ns],
            "k--",
            marker="x",
            label="2019 prototype, BERT-Large (as reported)",
        )
    ticks = sorted({run.n for run in runs} | set(reference or {}))
    axes.set_xscale("log")
    axes.set_xticks(ticks, labels=[f"{n:,}" for n in ticks])
    axes.minorticks_off()
    axes.set_xlabel("labeled training reviews (aclImdb train)")
    axes.set_ylabel(f"accuracy on {runs[0].eval_size:,} test reviews (%)")
    # The title heads the curve's (sub)figure, legend included: above the axes alone it was
    # centred on them, and as the legend widened they narrowed and it ran off the left edge.
    top.suptitle("Sentiment accuracy by amount of labeled data (bars: min–max over seeds)")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    if levers is not None and panel_n is not None:
        _plot_side_by_side(levers, panel, n=panel_n, reference=(reference or {}).get(panel_n))
    return figure


def curve_models(runs: Iterable[Run], *, panel_n: int | None) -> list[str]:
    """The models the curve draws: every model, less those measured at `panel_n` alone (the
    number of labels of the side-by-side panel, None without one), which the panel shows;
    every model where none has another number of labels."""
    runs = list(runs)
    sizes = {model: {run.n for run in runs if run.model == model} for model in _models_in(runs)}
    return [model for model, ns in sizes.items() if ns != {panel_n}] or list(sizes)


def busiest_size(runs: Iterable[Run], *, crowd: int = 3) -> int | None:
    """The number of labels that the most models were measured at (the larger on a tie), if
    at least `crowd` were: where the curve's points crowd and a panel of their own reads
    better."""
    models_at: dict[int, set[str]] = defaultdict(set)
    for run in runs:
        models_at[run.n].add(run.model)
    if not models_at:
        return None
    n = max(models_at, key=lambda size: (len(models_at[size]), size))
    return n if len(models_at[n]) >= crowd else None


def side_by_side(runs: Iterable[Run], n: int) -> list[tuple[str, list[float], str]]:
    """Every model measured at `n` labels, by its label, with its accuracies (%) and their
    figure as the table prints it, lowest mean first."""
    cells = _accuracies(run for run in runs if run.n == n)
    rows = [
        (LABELS.get(model, model), [100 * a for a in cells[model, n]], _cell(cells[model, n]))
        for model in _models_in([run for run in runs if run.n == n])
    ]
    return sorted(rows, key=lambda row: statistics.fmean(row[1]))


def _plot_side_by_side(
    axes: Any, rows: list[tuple[str, list[float], str]], *, n: int, reference: float | None
) -> None:
    """One row per model: each seed a dot, the mean a bar, the figure beside it."""
    for y, (_, accuracies, figure) in enumerate(rows):
        mean = statistics.fmean(accuracies)
        axes.plot(accuracies, [y] * len(accuracies), "o", color="tab:blue", alpha=0.6)
        axes.plot([mean, mean], [y - 0.35, y + 0.35], color="black", linewidth=2)
        axes.annotate(
            figure,
            (max(accuracies), y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    if reference is not None:
        axes.axvline(reference, color="black", linestyle="--", linewidth=1)
        axes.annotate(
            f"BERT-Large, 2019: {reference:g}",
            (reference, -0.55),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize="small",
        )
    axes.set_yticks(range(len(rows)), labels=[label for label, _, _ in rows], fontsize="small")
    axes.set_ylim(-0.7, len(rows) - 0.3)
    low, high = axes.get_xlim()
    axes.set_xlim(low, high + 0.12 * (high - low))  # room for the figures
    axes.set_xlabel(f"accuracy at {n:,} labeled reviews (%): dots are seeds, bars their mean")
    axes.grid(axis="x", alpha=0.3)


@dataclass(frozen=True)
class CurveTable:
    """Accuracy (%) by number of labels (rows) and model (columns), as display strings."""

    models: list[str]
    rows: list[tuple[int, list[str]]]
    eval_size: int
    cost_n: int
    """The number of labels the cost row is for, the one most models were measured at."""
    costs: list[str]
    """What each model's runs at `cost_n` labels spent training the model itself, the median
    over seeds ("–" where it was not measured there)."""


COST_CAPTION = (
    "Training: the median over seeds of the time each run spent training the model itself, as "
    "the run recorded it on the host that ran it (runs on different hosts compare only "
    "roughly: the README's table of levers says which host ran what). In-domain pretraining, "
    "a teacher's fine-tune and its soft labels come on top, each made once and cached."
)
"""What the cost row measures, under every table that has one."""


def curve_table(*, results_path: Path, eval_size: int | None = None) -> CurveTable:
    """The table of mean ± std accuracy (number of seeds) by n and model, and what training
    each model cost at the number of labels most of them were measured at."""
    runs = _runs_on_one_test_sample(results_path, eval_size)
    by_cell = _accuracies(runs)
    models = _models_in(runs)
    rows = [
        (n, [_cell(by_cell.get((model, n), [])) for model in models])
        for n in sorted({run.n for run in runs})
    ]
    cost_n = busiest_size(runs, crowd=1)
    if cost_n is None:  # only where there are no runs, which `_runs_on_one_test_sample` refuses
        raise ValueError(f"no finished runs in {results_path}")
    seconds = _per_cell(runs, lambda run: run.train_seconds)
    costs = [_duration(seconds.get((model, cost_n), [])) for model in models]
    return CurveTable(
        [LABELS.get(m, m) for m in models], rows, runs[0].eval_size, cost_n=cost_n, costs=costs
    )


def _duration(seconds: list[float]) -> str:
    """The median of `seconds` as the cost row prints it: "0.4 s", "42 s", "7 min", "1.2 h";
    "–" for none."""
    if not seconds:
        return "–"
    median = statistics.median(seconds)
    if median < 10:
        return f"{median:.1f} s"
    if median < 100:
        return f"{median:.0f} s"
    if median < 100 * 60:
        return f"{median / 60:.0f} min"
    return f"{median / 3600:.1f} h"


def _runs_on_one_test_sample(results_path: Path, eval_size: int | None) -> list[Run]:
    runs = list(first_of_each(read_results(results_path=results_path)).values())
    if not runs:
        raise ValueError(f"no finished runs in {results_path}: run the experiment first")
    sizes = sorted({run.eval_size for run in runs})
    if eval_size is None and len(sizes) > 1:
        raise ValueError(
            f"{results_path} mixes test samples of {sizes} reviews: pass eval_size= to pick one"
        )
    wanted = sizes[0] if eval_size is None else eval_size
    chosen = [run for run in runs if run.eval_size == wanted]
    if not chosen:
        raise ValueError(f"no runs on {wanted} test reviews in {results_path}; there are {sizes}")
    return chosen


def first_of_each(runs: Iterable[Run]) -> dict[tuple[str, int, int, int], Run]:
    # A run recorded twice (say, by two experiments at once) counts once.
    unique: dict[tuple[str, int, int, int], Run] = {}
    for run in runs:
        unique.setdefault(run.key, run)
    return unique


def _accuracies(runs: Iterable[Run]) -> dict[tuple[str, int], list[float]]:
    return _per_cell(runs, lambda run: run.accuracy)


def _per_cell(
    runs: Iterable[Run], value: Callable[[Run], float]
) -> dict[tuple[str, int], list[float]]:
    """Each (model, n)'s `value` of its runs, one per seed."""
    cells: dict[tuple[str, int], list[float]] = defaultdict(list)
    for run in runs:
        cells[run.model, run.n].append(value(run))
    return cells


def _models_in(runs: Iterable[Run]) -> list[str]:
    present = {run.model for run in runs}
    return [m for m in MODELS if m in present] + sorted(present - set(MODELS))


def _cell(accuracies: list[float]) -> str:
    """One model's accuracies over its seeds as the table and the plot print them: "mean ±
    standard deviation (seeds)" in %, "mean (1)" for one seed, "–" for none."""
    if not accuracies:
        return "–"
    mean = 100 * statistics.fmean(accuracies)
    if len(accuracies) == 1:
        return f"{mean:.1f} (1)"
    spread = 100 * statistics.stdev(accuracies)
    return f"{mean:.1f} ± {spread:.1f} ({len(accuracies)})"
