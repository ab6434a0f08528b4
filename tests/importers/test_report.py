from __future__ import annotations

from app.importers.report import ImportReport, Problem


def test_summary_counts_every_outcome() -> None:
    report = ImportReport(added=1234, skipped=5, updated=2)
    report.reject("movies.csv:4", "3 fields where the header has 4")

    assert report.summary() == "1,234 added, 5 already present, 2 updated, 1 bad"
    assert report.problems == [Problem("movies.csv:4", "3 fields where the header has 4")]
    assert str(report.problems[0]) == "movies.csv:4: 3 fields where the header has 4"


def test_summary_mentions_ignored_records_warnings_and_notes() -> None:
    report = ImportReport(ignored=7, notes=["3 new movies"])
    report.warn("titles.jsonl:9", "director cut to 291 of its 348 characters")

    assert report.bad == 0
    assert report.summary() == (
        "0 added, 0 already present, 0 updated, 0 bad, 7 ignored, 1 problem; 3 new movies"
    )
