"""`prefstudy label import-ratings`: many raters' ratings, long or wide, CSV or Parquet, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from conftest import SHARED_DATA, Cli, copy_study, one_duckdb
from PIL import Image

from prefstudy.errors import LabelFileError
from prefstudy.subjects.rating_files import RatingTable, import_ratings
from prefstudy.subjects.roster import list_subjects
from prefstudy.workspace import Workspace

ITEMS = [f"{i:03d}" for i in range(1, 25)]  # faces/001.png ... faces/024.png: item i - 1
SPREAD = list(range(1, 25))  # 12 ratings above the median 12.5, 12 below: enough for a run
TABLES = ("labels", "subjects", "rating_rules")


def _long(ratings: dict[str, list[float | str]], items: list[str] = ITEMS) -> str:
    """A long CSV: rater,item,rating, each rater's ratings of the first items in order."""
    return "rater,item,rating\n" + "".join(
        f"{rater},{item},{value}\n"
        for rater, values in ratings.items()
        for item, value in zip(items, values, strict=False)
    )


def _wide(ratings: dict[str, list[float | str]], newline: str = "\n") -> str:
    """A wide CSV, as published: sex, then one X column per item, one row per rater (named by row)."""
    n = max(len(v) for v in ratings.values())
    lines = ["sex," + ",".join(f"X{item}" for item in ITEMS[:n])]
    lines += ["f," + ",".join(str(v) for v in values) for values in ratings.values()]
    return newline.join(lines) + newline


class Study:
    """A copy of the module's study (datasets faces and nested), with its CLI."""

    def __init__(self, ws: Workspace, files: Path):
        self.ws, self.cli, self.files = ws, Cli(ws.root), files
        self.known_rows: dict[str, int] | None = None  # the row counts, while nothing was imported since

    def write(self, name: str, text: str) -> Path:
        path = self.files / name
        path.write_text(text, newline="")
        return path

    def rows(self) -> dict[str, int]:
        with self.ws.connect() as con:
            return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}

    def answers(self, prefix: str = "") -> dict[tuple[str, int], tuple]:
        """(rater, item_idx) -> (rating, preferred, tie, timed_out) of the subjects named with ``prefix``."""
        with self.ws.connect() as con:
            rows = con.execute(
                "SELECT subject, item_idx, rating, preferred, tie, timed_out FROM labels WHERE starts_with(subject, ?)",
                [prefix],
            ).fetchall()
        return {(s.removeprefix(prefix), i): tuple(rest) for s, i, *rest in rows}

    def of(self, rater: str) -> list[tuple]:
        """The rater's (rating, preferred, tie, timed_out), item by item."""
        answers = self.answers()
        return [answers[key] for key in sorted(key for key in answers if key[0] == rater)]

    def imports(self, path: Path, *args: str) -> dict:
        self.known_rows = None
        return self.cli.json("label", "import-ratings", path, "--dataset", "faces", *args)

    def refuses(self, path: Path | str, *args: str) -> str:
        """The one error line of an import that must fail, checked to have written nothing."""
        before = self.known_rows or self.rows()
        result = self.cli("label", "import-ratings", path, *args, ok=False)
        assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
        lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert self.rows() == before
        self.known_rows = before
        return lines[0]


@pytest.fixture(scope="module")
def _faces_study(_empty_study: Path, tmp_path_factory) -> Path:
    """Built once: 24 tiny faces 001.png ... 024.png, and a nested folder whose stem 'x' names two images."""
    root = tmp_path_factory.mktemp("faces")
    for folder, names in (("faces", [f"{i}.png" for i in ITEMS]), ("nested", ["a/x.png", "b/x.png", "a/y.png"])):
        for n, name in enumerate(names):
            (root / folder / name).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (10 * n, 0, 0)).save(root / folder / name)
    ws = copy_study(_empty_study, root / "study")
    cli = Cli(ws.root)
    with one_duckdb(ws):
        for folder in ("faces", "nested"):
            cli("data", "add", folder, "--kind", "folder", "--path", root / folder, "--size", "8")
    return ws.root


@pytest.fixture
def study(_faces_study: Path, tmp_path: Path) -> Iterator[Study]:
    ws = copy_study(_faces_study, tmp_path / "study")
    with one_duckdb(ws):
        yield Study(ws, tmp_path)


@pytest.fixture(scope="module")
def refusing(_faces_study: Path, tmp_path_factory) -> Iterator[Study]:
    """One study shared by the tests of refused imports (they write nothing): rater a imported as p-a, and taken-a."""
    root = tmp_path_factory.mktemp("refusing")
    shared = Study(copy_study(_faces_study, root / "study"), root)
    with one_duckdb(shared.ws):
        shared.imports(shared.write("a.csv", _long({"a": SPREAD})), "--prefix", "p-")
        shared.cli("subject", "add", "taken-a")  # a person who labels here, not an imported rater
        yield shared


# -- layouts, missing cells, items ------------------------------------------------------------------------------------


def test_long_and_wide_give_the_same_raters_and_labels(study):
    ratings = {"r0001": [*SPREAD[:20], "NA", 7, 7, 7], "r0002": [5, "", 3, *SPREAD[3:]], "r0003": [4] * 24}
    wide_file = study.write("wide.csv", _wide(ratings, newline="\r"))  # old-Mac line endings, as published
    assert b"\n" not in wide_file.read_bytes()
    long_file = study.write("long.csv", _long(ratings).replace("rater,item,rating", "who,face,score"))
    long = study.imports(long_file, "--rater", "who", "--item", "face", "--rating", "score", "--prefix", "l-")
    wide = study.imports(
        wide_file, "--layout", "wide", "--item-columns", r"X(\d+)", "--subject-columns", "sex", "--prefix", "w-"
    )
    from_wide = study.answers("w-")
    assert study.answers("l-") == from_wide and len(from_wide) == 3 * 24 - 2
    for summary in (long, wide):
        assert (summary["raters"], summary["new_raters"], summary["added"]) == (3, 3, 70)
        assert (summary["ratings_in_file"], summary["missing_cells"]) == (70, 2)
    assert wide["layout"] == "wide" and long["layout"] == "long"


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_na_empty_and_nan_cells_are_missing_ratings_not_errors(study):
    path = study.write("wide.csv", "sex,X001,X002,X003,X004,X005\nf,1,NA,,  nan ,NaN\nm,na,2,3,,4\n")
    summary = study.imports(path, "--layout", "wide", "--item-columns", r"X(\d+)", "--subject-columns", "sex")
    assert (summary["ratings_in_file"], summary["missing_cells"], summary["raters"]) == (4, 6, 2)
    assert sorted(study.answers()) == [("r0001", 0), ("r0002", 1), ("r0002", 2), ("r0002", 4)]
    long = study.imports(study.write("long.csv", "rater,item,rating\nq,001,NA\nq,002,3\nq,003, \n"))
    assert (long["ratings_in_file"], long["missing_cells"], long["added"]) == (1, 2, 1)


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_items_match_by_key_or_file_stem_and_wide_columns_by_pattern(study):
    path = study.write("long.csv", "rater,item,rating\na,001.png,1\na,002,2\na, 003 ,3\n")
    assert study.imports(path)["added"] == 3
    assert sorted(study.answers()) == [("a", 0), ("a", 1), ("a", 2)]
    path = study.write("wide.csv", "who,img_004,img_005.png\nb,4,5\n")
    study.imports(path, "--layout", "wide", "--rater", "who", "--item-columns", r"img_(.+)")
    assert [rating for rating, *_ in study.of("b")] == [4, 5]


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_a_stem_two_items_share_names_neither_but_their_keys_do(study):
    path = study.write("nested.csv", "rater,item,rating\na,x,1\na,y,2\na,b/x.png,3\n")
    line = study.refuses(path, "--dataset", "nested")
    assert "line 2: item 'x' is the file stem of a/x.png, b/x.png; name it by its key" in line
    path = study.write("nested.csv", "rater,item,rating\na,a/x.png,1\na,y,2\na,b/x.png,3\n")
    summary = study.cli.json("label", "import-ratings", path, "--dataset", "nested")
    assert summary["added"] == 3


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_skip_unknown_leaves_out_items_the_dataset_lacks(study):
    path = study.write("long.csv", _long({"a": [1, 2, 3]}, ["001", "999", "002"]))
    summary = study.imports(path, "--skip-unknown")
    assert (summary["added"], summary["skipped_unknown"], summary["ratings_in_file"]) == (2, 1, 3)
    wide = study.write("wide.csv", "X001,X999\n1,2\n")
    summary = study.imports(wide, "--layout", "wide", "--item-columns", r"X(\d+)", "--skip-unknown")
    assert (summary["added"], summary["skipped_unknown"]) == (1, 1)


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_identical_repeats_are_kept_once(study):
    path = study.write("long.csv", "rater,item,rating\na,001,3\na,001,3.0\na,002,4\n")
    summary = study.imports(path)
    assert (summary["added"], summary["duplicates"], summary["ratings_in_file"]) == (2, 1, 3)


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_parquet_imports_like_csv_and_names_rows_in_errors(study):
    csv_path = study.write("long.csv", _long({"a": SPREAD, "b": SPREAD[::-1]}))
    parquet = study.files / "long.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar=true)) TO '{parquet}' (FORMAT parquet)")
    study.imports(csv_path, "--prefix", "c-")
    study.imports(parquet, "--prefix", "p-")
    assert study.answers("c-") == study.answers("p-")
    bad = study.files / "bad.parquet"
    duckdb.sql(f"COPY (SELECT 'a' AS rater, '999' AS item, 3.5 AS rating) TO '{bad}' (FORMAT parquet)")
    assert "row 1: unknown item '999'" in study.refuses(bad, "--dataset", "faces")


# -- rules, ties, attributes, readiness -------------------------------------------------------------------------------


def test_the_median_rule_splits_each_rater_at_their_own_median_with_ties(study):
    study.imports(study.write("r.csv", _long({"odd": [1, 2, 3, 4, 5], "even": [1, 2, 3, 4]})))
    answers = study.answers()
    # odd: median 3 -> 4 and 5 preferred, 1 and 2 not, 3 a tie (neither answer, not a miss)
    assert [answers[("odd", i)] for i in range(5)] == [
        (1.0, False, False, False),
        (2.0, False, False, False),
        (3.0, None, True, False),
        (4.0, True, False, False),
        (5.0, True, False, False),
    ]
    # even: the median is the mean of the middle two, 2.5: no tie
    assert [answers[("even", i)][1:3] for i in range(4)] == [
        (False, False),
        (False, False),
        (True, False),
        (True, False),
    ]


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_a_threshold_rule_is_recorded_and_applied(study):
    summary = study.imports(study.write("r.csv", _long({"a": [1, 2, 3, 4, 5, 6, 7]})), "--threshold", "4")
    assert summary["rule"] == "above / below 4" and summary["ties"] == 1
    assert [a[1] for a in study.of("a")] == [False, False, False, None, True, True, True]
    with study.ws.connect() as con:
        assert con.execute("SELECT rule, threshold FROM rating_rules").fetchall() == [("threshold", 4.0)]


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_attributes_come_from_subject_columns_and_a_subject_table(study):
    wide = study.write("wide.csv", "sex,age,X001\nf,31,3\nm,NA,4\n")
    study.imports(
        wide, "--layout", "wide", "--item-columns", r"X(\d+)", "--subject-columns", "sex,age", "--prefix", "w-"
    )
    table = study.write("raters.csv", "id,sex,age\nr0001,f,31.5\nr0002,m,40\nnobody,x,1\n")
    study.imports(study.write("l.csv", _long({"r0001": [3], "r0002": [4]})), "--subject-table", table)
    attributes = {s.name: s.attributes for s in list_subjects(study.ws)}
    assert attributes["w-r0001"] == {"sex": "f", "age": 31} and attributes["w-r0002"] == {"sex": "m", "age": None}
    assert attributes["r0001"] == {"sex": "f", "age": 31.5} and attributes["r0002"] == {"sex": "m", "age": 40.0}
    assert {s.origin for s in list_subjects(study.ws)} == {"ratings"}


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_raters_without_enough_answers_are_listed_as_refused(study):
    path = study.write("r.csv", _long({"good": SPREAD, "flat": [4] * 24, "few": SPREAD[:10]}))
    summary = study.imports(path)
    assert summary["refused"] == [
        {"subject": "flat", "reason": "0 usable label(s), fewer than 20"},
        {"subject": "few", "reason": "10 usable label(s), fewer than 20"},
    ]
    assert summary["ties"] == 24
    text = study.cli("label", "import-ratings", path, "--dataset", "faces").stderr
    assert "1 of 3 raters have enough labels for a run" in text and "2 refused" in text and "flat" in text


# -- importing again --------------------------------------------------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing(study):
    path = study.write("r.csv", _long({"a": SPREAD, "b": [3, 3, 5]}))
    study.imports(path)
    rows, answers = study.rows(), study.answers()
    again = study.imports(path)
    assert (again["added"], again["unchanged"], again["new_raters"]) == (0, 27, 0)
    assert study.rows() == rows and study.answers() == answers


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_a_grown_file_adds_only_its_new_ratings_and_moves_the_median(study):
    study.imports(study.write("r.csv", _long({"a": [1, 2, 3]})))
    assert study.of("a")[1][1:3] == (None, True)  # 2 is the median of 1, 2, 3
    grown = study.imports(study.write("r.csv", _long({"a": [1, 2, 3, 4, 5], "b": [2]})))
    assert (grown["added"], grown["unchanged"], grown["new_raters"]) == (3, 3, 1)
    assert study.rows()["labels"] == 6
    assert [a[1] for a in study.of("a")] == [False, False, None, True, True]  # median 3 now


def test_a_changed_rating_is_refused_unless_replaced(study):
    study.imports(study.write("r.csv", _long({"a": [1, 2, 3]})))
    changed = study.write("r.csv", _long({"a": [1, 5, 3]}))
    line = study.refuses(changed, "--dataset", "faces")
    assert "1 bad row(s), nothing imported — line 3: a has 2 stored for item '002'; --replace stores this 5" in line
    summary = study.imports(changed, "--replace")
    assert (summary["replaced"], summary["unchanged"], summary["added"]) == (1, 2, 0)
    assert study.rows()["labels"] == 3
    assert [a[:2] for a in study.of("a")] == [(1.0, False), (5.0, True), (3.0, None)]


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_another_rule_for_a_rater_is_refused_unless_replaced(study):
    path = study.write("r.csv", _long({"a": [1, 2, 3, 6]}))
    study.imports(path)
    line = study.refuses(path, "--dataset", "faces", "--threshold", "5")
    assert "1 rater(s) split their ratings on 'faces' by another rule (a: above / below the rater's own median)" in line
    study.imports(path, "--threshold", "5", "--replace")
    assert [a[1] for a in study.of("a")] == [False, False, False, True]


# -- bad input: one line, nothing written -----------------------------------------------------------------------------


def test_every_bad_row_is_reported_together_and_nothing_is_imported(refusing):
    path = refusing.write(
        "bad.csv",
        "rater,item,rating\n"
        "a,001,3\n"
        "a,999,4\n"  # line 3: unknown item
        "a,002,good\n"  # line 4: not a number
        "a,003,inf\n"  # line 5: not finite
        "a,001,5\n"  # line 6: 001 again, differently (from line 2)
        ",004,3\n"  # line 7: no rater
        "a,,3\n"  # line 8: no item
        "John Smith,004,3\n"  # line 9: not a subject name
        "a,005,NA\n"  # missing: fine
        "b,001,2\nb,001,2\n",  # the same rating twice: fine
    )
    before = refusing.rows()
    with pytest.raises(LabelFileError) as caught:
        import_ratings(refusing.ws, path, "faces", RatingTable())
    assert caught.value.problems == [
        (2, "rater 'a' rated item '001' differently: 3 on line 2, 5 on line 6"),
        (3, "unknown item '999' (dataset 'faces' has no such key or file stem)"),
        (4, "the rating 'good' of item '002' is not a number"),
        (5, "the rating 'inf' of item '003' is not a finite number"),
        (7, "the rater is empty"),
        (8, "the item is empty"),
        (9, "rater 'John Smith' cannot be part of a subject name: use letters, digits, '-', '_', '.'"),
    ]
    assert str(caught.value).startswith(f"{path}: 7 bad row(s), nothing imported — line 2: rater 'a' rated")
    assert refusing.rows() == before
    line = refusing.refuses(path, "--dataset", "faces")
    assert line.startswith("error: ") and "(and 2 more)" in line


BAD_FILES = [
    ("", "has no ratings: it is empty"),
    ("rater,item,rating\n", "has no ratings: it has a header and no rows"),
    ("rater,item,rating\na,001,NA\na,002,\n", "has no ratings: every rating cell is empty or NA"),
    ("rater,item,score\na,001,3\n", "has no column 'rating' (its columns: 'rater', 'item', 'score')"),
    ("rater,item,Item,rating\n", "column 'item' appears twice in the header (case aside)"),
    ("rater,item,rating\na,001,3\na,002\n", "not a readable CSV file (CSV Error on Line: 3; Expected Number of"),
]


@pytest.mark.parametrize(("text", "says"), BAD_FILES, ids=[s.split(": ")[-1][:24] for _, s in BAD_FILES])
def test_a_file_without_ratings_or_columns_is_refused_in_one_line(refusing, text, says):
    path = refusing.write("bad.csv", text)
    assert says in refusing.refuses(path, "--dataset", "faces")


BAD_WIDE = [
    ("X001,X999\n3,abc\n", (), "1 bad row(s), nothing imported — line 1: column 'X999': unknown item '999'"),
    ("X001,notes\n3,ok\n", (), "column(s) 'notes' are not items (--item-columns 'X(\\d+)'), --rater or"),
    ("X001,X002\n3,4\n", ("--subject-columns", "sex"), "has no column 'sex' (its columns: 'X001', 'X002')"),
    ("X001,X002\n3,4\n", ("--rater", "who"), "has no column 'who'"),
    ("who,X001\na,3\na,4\n", ("--rater", "who"), "rater 'a' rated item '001' differently: 3 on line 2, 4 on line 3"),
]


@pytest.mark.parametrize(("text", "args", "says"), BAD_WIDE, ids=[s[:24] for *_, s in BAD_WIDE])
def test_a_bad_wide_file_is_refused_in_one_line(refusing, text, args, says):
    path = refusing.write("bad.csv", text)
    assert says in refusing.refuses(path, "--dataset", "faces", "--layout", "wide", "--item-columns", r"X(\d+)", *args)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("missing.csv", "--dataset", "faces"), "ratings file missing.csv not found"),
        (("{ok}", "--dataset", "nope"), "no dataset 'nope' in this study"),
        (("{ok}", "--dataset", "faces", "--layout", "tall"), "unknown layout 'tall'; use long or wide"),
        (("{ok}", "--dataset", "faces", "--layout", "wide", "--item-columns", "X(", "--item", "x"), "--item and"),
        (("{ok}", "--dataset", "faces", "--layout", "wide", "--item-columns", "X("), "is not a regular expression"),
        (("{ok}", "--dataset", "faces", "--prefix", "a b"), "invalid --prefix 'a b'"),
        (("{ok}", "--dataset", "faces", "--subject-table", "none.csv"), "subject table none.csv not found"),
        (("{ok}", "--dataset", "faces", "--subject-table", "{table}"), "rater 'x' has more than one row"),
        (("{ok}", "--dataset", "faces", "--prefix", "p-", "--threshold", "2"), "1 rater(s) split their ratings"),
        (("{changed}", "--dataset", "faces", "--prefix", "p-"), "p-a has 1 stored for item '001'; --replace stores"),
        (("{ok}", "--dataset", "faces", "--prefix", "taken-"), "rater name(s) are taken by subjects"),
    ],
)
def test_bad_options_and_conflicts_with_the_study_are_refused_in_one_line(refusing, args, says):
    files = {
        "ok": refusing.write("ok.csv", _long({"a": SPREAD}, ITEMS)).name,
        "changed": refusing.write("changed.csv", _long({"a": [2, *SPREAD[1:]]})).name,
        "table": refusing.write("table.csv", "rater,sex\nx,f\nx,m\na,f\n").name,
    }
    args = [arg.format(**{k: refusing.files / v for k, v in files.items()}) for arg in args]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(refusing.files)
        assert says in refusing.refuses(*args)


def test_a_threshold_must_be_a_finite_number(refusing):
    result = refusing.cli("label", "import-ratings", "x.csv", "--dataset", "faces", "--threshold", "nan", ok=False)
    assert result.exit_code == 2 and "'--threshold': must be a number, got nan" in result.stderr


# -- the real London faces --------------------------------------------------------------------------------------------

LONDON = SHARED_DATA / "london-faces"


@pytest.mark.slow
def test_the_london_faces_long_and_wide_give_identical_labels_for_every_rater(ws, tmp_path):
    if not (LONDON / "ratings.csv").is_file():
        pytest.skip(f"the London faces ratings are not in {LONDON} (the shared data folder)")
    cli = Cli(ws.root)
    cli("data", "add", "london", "--kind", "folder", "--path", LONDON / "images", "--size", "8")
    long = cli.json(
        "label", "import-ratings", LONDON / "ratings.csv", "--dataset", "london", "--rater", "rater", "--item", "face",
        "--layout", "long", "--rating", "rating", "--prefix", "lon-", "--subject-table", LONDON / "raters.csv",
    )  # fmt: skip
    wide = cli.json(
        "label", "import-ratings", LONDON / "ratings-wide.csv", "--dataset", "london", "--layout", "wide",
        "--item-columns", r"X(\d+)", "--subject-columns", "rater_sex,rater_sexpref,rater_age", "--prefix", "wide-",
    )  # fmt: skip
    for summary in (long, wide):
        assert (summary["raters"], summary["added"], summary["missing_cells"]) == (2513, 256326, 0)
        assert len(summary["refused"]) == long["raters"] - 2040  # the share ratings.py documents
    assert wide["ties"] == long["ties"] and wide["refused"] == [
        {**r, "subject": r["subject"].replace("lon-", "wide-")} for r in long["refused"]
    ]
    study = Study(ws, tmp_path)
    assert study.answers("lon-") == study.answers("wide-")
    subjects = {s.name: s.attributes for s in list_subjects(ws)}
    assert subjects["lon-r0003"] == {"sex": "female", "sexpref": "either", "age": 17.1}
    assert subjects["wide-r0003"] == {"rater_sex": "female", "rater_sexpref": "either", "rater_age": 17.1}
