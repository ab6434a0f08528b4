"""Tiny copies of the datasets' published formats, each with a few malformed records."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

# aclImdb: {path under aclImdb/: content}; the urls files tie review <id> to line <id>.
ACLIMDB_URLS = {
    "train/urls_pos.txt": ["tt0000001", "tt0000002", "tt0000001", "tt0000002"],
    "train/urls_neg.txt": ["tt0000001", "tt0000002"],
    "test/urls_pos.txt": ["tt0000003", "tt0000003", "tt0000003"],
    "test/urls_neg.txt": ["tt0000003", "tt0000003"],
}
ACLIMDB_GOOD = {
    "train/pos/0_9.txt": "A wonderful film.<br /><br />I loved it.",
    "train/pos/1_7.txt": "Good, not great.",
    "train/neg/0_2.txt": "Dull from start to finish.",
    "test/pos/0_8.txt": "Funny and warm.",
    "test/neg/0_1.txt": "The worst thing I saw this year.",
}
ACLIMDB_BAD = {  # member: (content, the reason the importer should give)
    "train/pos/2_10.txt": (b"\xff\xfe not UTF-8", "not UTF-8"),
    "train/neg/1_11.txt": (b"Eleven stars?", "outside 1..10"),
    "test/pos/5_8.txt": (b"A review of no movie.", "no line 5"),
    "test/pos/2_7.txt": (b"Half a review\x00\x00", "NUL"),
    "test/neg/1_3.txt": (b"   \n", "empty review"),
}
ACLIMDB_MOVIES = {"tt0000001", "tt0000002", "tt0000003"}


def write_aclimdb(parent: Path) -> Path:
    """An `aclImdb/` directory under `parent`; returns its path."""
    root = parent / "aclImdb"
    for name, ids in ACLIMDB_URLS.items():
        _write(root / name, "".join(f"http://www.imdb.com/title/{i}/usercomments\n" for i in ids))
    for name, text in ACLIMDB_GOOD.items():
        _write(root / name, text)
    for name, (raw, _reason) in ACLIMDB_BAD.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(raw)
    return root


def tar_aclimdb(directory: Path, archive: Path) -> Path:
    """`directory` (an aclImdb/ tree) packed like the official aclImdb_v1.tar.gz."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname="aclImdb")
    return archive


# MovieLens: bad lines are movies.csv lines 4, 5, 6 and links.csv line 6.
MOVIES_CSV = """movieId,title,genres
1,"Matrix, The (1999)",Action|Sci-Fi
2,Toy Story (1995),Adventure|Animation|Children|Comedy|IMAX
3,Too many fields (1990),Drama,Extra
x9,Not A Number (2000),Drama
4,No Link (2001),Drama
5,Babylon 5,(no genres listed)
6,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Drama|Fantasy
"""
LINKS_CSV = """movieId,imdbId,tmdbId
1,0133093,603
2,0114709,862
5,105946,
6,0112682,902
7,abc,1
"""
MOVIELENS_BAD_LINES = {"movies.csv:4", "movies.csv:5", "movies.csv:6", "links.csv:6"}


def write_movielens(parent: Path) -> Path:
    """An `ml-latest-small/` directory under `parent`; returns its path."""
    directory = parent / "ml-latest-small"
    _write(directory / "movies.csv", MOVIES_CSV)
    _write(directory / "links.csv", LINKS_CSV)
    return directory


def zip_movielens(directory: Path, archive: Path) -> Path:
    """`directory` packed like the official ml-latest-small.zip."""
    with zipfile.ZipFile(archive, "w") as packed:
        for path in sorted(directory.iterdir()):
            packed.write(path, f"ml-latest-small/{path.name}")
    return archive


# OMDb: bad lines are 2, 3, 9 and 10; line 5 is blank; line 6 is a #DUPE# record.
def omdb_record(imdb_id: str, title: str, **fields: str) -> str:
    record = {"imdbID": imdb_id, "Title": title, "Year": "N/A", "Genre": "N/A"}
    record |= {"Director": "N/A", "Actors": "N/A", "Runtime": "N/A", "Rated": "N/A"} | fields
    return json.dumps(record)


OMDB_LINES = [
    omdb_record(
        "tt0133093",
        "The Matrix",
        Year="1999",
        Genre="Action, Sci-Fi",
        Director="Lana Wachowski, Lilly Wachowski",
        Actors="Keanu Reeves, Laurence Fishburne",
        Runtime="136 min",
        Rated="R",
    ),
    '{"imdbID": "tt0000009", "Title": "cut short',
    json.dumps({"Title": "No Id", "Year": "2000"}),
    omdb_record("tt0106179", "The X-Files", Year="1993–2002", Genre="Crime, Drama", Rated="TV-14"),
    "",
    omdb_record("tt0000007", "#DUPE#", Year="1999"),
    omdb_record("tt0114709", "Toy Story", Year="1995", Runtime="81 min"),
    omdb_record("tt9999999", "Not Reviewed Here", Year="2020", Genre="Drama"),
    omdb_record("12345", "Bad Id"),
    "[1, 2]",
]
OMDB_BAD_LINES = {2, 3, 9, 10}


def write_omdb(path: Path, lines: list[str] = OMDB_LINES) -> Path:
    _write(path, "".join(line + "\n" for line in lines))
    return path


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
