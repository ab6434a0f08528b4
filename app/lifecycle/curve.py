"""The learning curve on the application's data: aclImdb pools and the configured base model
handed to the model side's experiment, and its results drawn and tabled in the curve folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.lifecycle.datasets import aclimdb_pools, recipe_resources
from app.sentiment import learning_curve
from app.sentiment.arguments import TrainingArguments
from app.sentiment.experiment import RECIPE_MODELS, run_experiment
from app.sentiment.recipes import RecipeArguments


@dataclass(frozen=True)
class CurveFiles:
    results: Path
    plot: Path
    table: str  # Markdown, for the README


def run_learning_curve(
    *,
    settings: Settings,
    sizes: Sequence[int],
    seeds: Sequence[int],
    models: Sequence[str],
    eval_size: int | None,
    out_dir: Path | None = None,
    progress: bool = True,
) -> CurveFiles:
    """Run the runs not yet in `out_dir`/results.csv (default: the learning-curve folder the
    site shows), then redraw its plot and table. Fine-tuned runs use `textflix train`'s
    defaults."""
    unknown = sorted(set(models) - set(learning_curve.MODELS))
    if unknown:
        raise ValueError(f"unknown models {unknown}; pick from {list(learning_curve.MODELS)}")
    out_dir = out_dir or settings.learning_curve_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.csv"
    pools = aclimdb_pools(settings=settings, progress=progress)
    runs = run_experiment(
        pools=pools,
        base_model=settings.resolved_base_model(),
        sizes=sizes,
        seeds=seeds,
        models=models,
        eval_size=eval_size,
        results_path=results,
        finetune=TrainingArguments(device=settings.device),  # `textflix train`'s defaults
        resources=recipe_resources(
            settings=settings, pools=pools, recipe=RecipeArguments(adapt=True, distill=True)
        )
        if set(models) & set(RECIPE_MODELS)
        else None,
        progress=progress,
    )
    recorded_size = runs[0].eval_size if runs else eval_size
    plot = out_dir / "learning_curve.png"
    learning_curve.plot_learning_curve(
        results_path=results,
        out_path=plot,
        reference=learning_curve.PROTOTYPE_2019_BERT_LARGE,
        eval_size=recorded_size,
    )
    table = learning_curve.summary_table(results_path=results, eval_size=recorded_size)
    return CurveFiles(results, plot, table)
