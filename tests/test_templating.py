"""Template filters: how figures read on the pages."""

from __future__ import annotations

import pytest

from app.templating import make_templates


@pytest.mark.parametrize(
    ("certainty", "shown"),
    [(0.5, "50%"), (0.874, "87%"), (0.994, "99%"), (0.995, "over 99%"), (0.99996, "over 99%")],
)
def test_a_near_certainty_never_reads_as_certain(certainty: float, shown: str) -> None:
    template = make_templates().env.from_string("{{ c | certainty }} certain")

    assert template.render(c=certainty) == f"{shown} certain"
