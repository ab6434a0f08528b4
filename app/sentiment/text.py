"""Review text as the dataset publishes it (with `<br />` tags) turned into plain sentences."""

from __future__ import annotations

import re

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^>]{0,40}>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
# A sentence ends at . ! or ? (maybe with a closing quote or bracket, which stays with it)
# followed by space, or at a line break. Abbreviations are split too; for highlights a rare
# split is harmless.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+|\n+")
MIN_SENTENCE_CHARS = 12
MAX_SENTENCE_CHARS = 600


def clean(text: str) -> str:
    """Plain text: `<br />` becomes a line break, other markup goes, spaces are folded."""
    text = _BREAK.sub("\n", text)
    text = _TAG.sub(" ", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def split_sentences(text: str) -> list[str]:
    """The sentences of a cleaned review worth scoring on their own (not tiny fragments)."""
    sentences = []
    for piece in _SENTENCE_END.split(clean(text)):
        piece = piece.strip()
        if len(piece) >= MIN_SENTENCE_CHARS and any(ch.isalpha() for ch in piece):
            sentences.append(piece[:MAX_SENTENCE_CHARS])
    return sentences
