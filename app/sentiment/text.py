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
    plain = clean(text)
    return [plain[start:end] for start, end in sentence_spans(plain)]


def sentence_spans(plain: str) -> list[tuple[int, int]]:
    """Where in a cleaned text (`clean`) its sentences worth scoring start and end."""
    spans = []
    start = 0
    for boundary in [*_SENTENCE_END.finditer(plain), None]:
        end = len(plain) if boundary is None else boundary.start()
        piece = plain[start:end]
        stripped = piece.strip()
        if len(stripped) >= MIN_SENTENCE_CHARS and any(ch.isalpha() for ch in stripped):
            first = start + len(piece) - len(piece.lstrip())
            spans.append((first, first + min(len(stripped), MAX_SENTENCE_CHARS)))
        if boundary is not None:
            start = boundary.end()
    return spans
