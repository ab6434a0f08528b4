"""The label rule, defined once: what score counts as a positive verdict.

`is_positive` works on a float and on a SQLAlchemy column alike (`p >= THRESHOLD` builds a SQL
expression from a column), so Python code, queries and templates all share this one rule.
"""

from __future__ import annotations

from typing import Any, overload

POSITIVE = 1
NEGATIVE = 0
THRESHOLD = 0.5
"""P(positive) at or above this is a positive verdict."""


@overload
def is_positive(p_positive: float) -> bool: ...
@overload
def is_positive(p_positive: Any) -> Any: ...
def is_positive(p_positive: Any) -> Any:
    """Whether a score is a positive verdict (a SQL expression when given a column)."""
    return p_positive >= THRESHOLD


def name_of(p_positive: float) -> str:
    """The verdict a score means, as a word: "positive" or "negative"."""
    return "positive" if is_positive(p_positive) else "negative"


def label_of(p_positive: float) -> int:
    """The label a score means: POSITIVE (1) or NEGATIVE (0)."""
    return POSITIVE if is_positive(p_positive) else NEGATIVE
