"""Review text as published becomes plain text and sentences worth scoring on their own."""

from __future__ import annotations

import pytest

from app.sentiment.text import MAX_SENTENCE_CHARS, clean, split_sentences


def test_clean_turns_breaks_into_lines_and_drops_other_markup() -> None:
    raw = "A <i>wonderful</i>   film.<br /><br />I  loved\tit.<BR>The end"

    assert clean(raw) == "A wonderful film.\nI loved it.\nThe end"


def test_clean_keeps_comparisons_that_are_not_tags() -> None:
    assert clean("3 < 4 and 5 > 2") == "3 < 4 and 5 > 2"


@pytest.mark.parametrize("raw", ["", "   ", "<br /><br />", "<p></p>"])
def test_clean_of_nothing_is_empty(raw: str) -> None:
    assert clean(raw) == ""


def test_split_sentences_at_end_marks_and_line_breaks() -> None:
    text = 'What a film! Was it good? "Absolutely." Then this.<br />A new paragraph starts here'

    assert split_sentences(text) == [
        "What a film!",
        "Was it good?",
        '"Absolutely."',
        "A new paragraph starts here",
    ]


def test_split_sentences_drops_fragments_too_short_or_without_letters() -> None:
    assert split_sentences("Wow. 10/10!!! ... This one is long enough.") == [
        "This one is long enough."
    ]


def test_split_sentences_caps_runaway_sentences() -> None:
    [sentence] = split_sentences("word " * 500)

    assert len(sentence) == MAX_SENTENCE_CHARS
