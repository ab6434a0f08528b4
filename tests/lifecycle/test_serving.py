"""The served model follows models/CURRENT, so a promotion reaches running servers."""

from __future__ import annotations

import os
from pathlib import Path

from app.lifecycle.serving import ModelHolder
from app.sentiment.classifier import Classifier
from tests.factories import FakeClassifier


def test_reloads_when_current_names_another_version(tmp_path: Path) -> None:
    marker = tmp_path / "CURRENT"
    marker.write_text("v1\n")
    loads: list[str] = []

    def loader() -> tuple[Classifier | None, str | None]:
        version = marker.read_text().strip()
        loads.append(version)
        return FakeClassifier(version), None

    holder = ModelHolder(loader=loader, marker=marker)
    holder.load()
    first = holder.get()
    same = holder.get()
    marker.write_text("v2\n")
    os.utime(marker, ns=(marker.stat().st_atime_ns, marker.stat().st_mtime_ns + 1_000_000))
    second = holder.get()

    assert first is same and first is not None and first.version == "v1"
    assert second is not None and second.version == "v2"
    assert loads == ["v1", "v2"]


def test_a_broken_new_version_keeps_the_old_one_serving(tmp_path: Path) -> None:
    marker = tmp_path / "CURRENT"
    marker.write_text("good")
    results: list[tuple[Classifier | None, str | None]] = [
        (FakeClassifier("good"), None),
        (None, "the model in models/bad could not be loaded"),
    ]
    holder = ModelHolder(loader=lambda: results.pop(0), marker=marker)
    holder.load()
    marker.write_text("bad")
    os.utime(marker, ns=(0, marker.stat().st_mtime_ns + 1_000_000))

    served = holder.get()

    assert served is not None and served.version == "good"


def test_injected_classifier_never_reloads() -> None:
    fake = FakeClassifier()
    holder = ModelHolder(classifier=fake)
    holder.load()
    assert holder.get() is fake
