"""What an import did: counts of records by outcome, and every problem met on the way."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One record or file that could not be (fully) imported, and why."""

    location: str  # "file:line", or "archive:member" for files inside an archive
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


@dataclass
class ImportReport:
    """Outcome counts of one importer run; problems are collected, never raised."""

    added: int = 0
    skipped: int = 0  # already present and unchanged
    updated: int = 0
    bad: int = 0  # records left out because they could not be read
    ignored: int = 0  # readable, but left out on purpose (e.g. movies outside the catalog)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts worth a line, e.g. movies created
    # Problems that stopped the import before its end (also in `problems`): an unreadable or
    # truncated file. What was read before them is kept; the command exits non-zero.
    failures: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.failures)

    def reject(self, location: str, reason: str) -> None:
        """Count a record as bad and say why."""
        self.bad += 1
        self.problems.append(Problem(location, reason))

    def warn(self, location: str, reason: str) -> None:
        """Note a problem with a record that was still imported, e.g. a shortened field."""
        self.problems.append(Problem(location, reason))

    def fail(self, location: str, reason: str) -> None:
        """Record a problem that stopped the import; what was read before it is kept."""
        problem = Problem(location, reason)
        self.failures.append(problem)
        self.problems.append(problem)

    def checkpoint(self) -> tuple[int, ...]:
        """The counts and problems so far, for `restore` when a batch is rolled back."""
        return (self.added, self.skipped, self.updated, self.bad, self.ignored, len(self.problems))

    def restore(self, checkpoint: tuple[int, ...]) -> None:
        """Forget what was counted since `checkpoint` (a batch that the database refused)."""
        self.added, self.skipped, self.updated, self.bad, self.ignored, n_problems = checkpoint
        del self.problems[n_problems:]

    def summary(self) -> str:
        """One line of counts, then any notes, for people to read."""
        counts = [
            f"{self.added:,} added",
            f"{self.skipped:,} already present",
            f"{self.updated:,} updated",
            f"{self.bad:,} bad",
        ]
        if self.ignored:
            counts.append(f"{self.ignored:,} ignored")
        if len(self.problems) != self.bad:  # warnings about records that were still imported
            counts.append(f"{len(self.problems):,} problem{'' if len(self.problems) == 1 else 's'}")
        failed = ["FAILED before the end: see the problems"] if self.failed else []
        return "; ".join([", ".join(counts), *failed, *self.notes])
