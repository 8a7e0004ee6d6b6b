"""`prefstudy label import|export`: a person's labels from CSV, all or nothing."""

from pathlib import Path

import duckdb
import pytest

from prefstudy.errors import LabelFileError
from prefstudy.subjects.label_files import import_labels
from prefstudy.subjects.labels import usable_labels

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bob.csv"
    path.write_text(text)
    return path


def test_import_stores_answers_and_response_times(sample_ws, tmp_path):
    path = _write(tmp_path, "key,preferred,rt_ms\ntest-00000,1,640\ntest-00001,no,812.5\ntest-00002,TRUE,\n")
    assert import_labels(sample_ws, path, "bob", "fm") == 3
    with sample_ws.connect() as con:
        rows = con.execute(
            "SELECT i.key, l.preferred, l.rt_ms, l.source FROM labels l JOIN items i "
            "ON i.dataset = l.dataset AND i.idx = l.item_idx ORDER BY l.trial"
        ).fetchall()
        kind = con.execute("SELECT kind FROM subjects WHERE name = 'bob'").fetchone()[0]
    assert rows == [
        ("test-00000", True, 640.0, "import"),
        ("test-00001", False, 812.5, "import"),
        ("test-00002", True, None, "import"),
    ]
    assert kind == "human"


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported(sample_ws, tmp_path):
    path = _write(
        tmp_path,
        "key,preferred,rt_ms\n"
        "test-00000,1,500\n"
        "test-99999,1,500\n"  # line 3: unknown key
        "test-00001,maybe,500\n"  # line 4: bad answer
        "test-00002,0,-3\n"  # line 5: bad response time
        "test-00000,0,400\n"  # line 6: duplicate
        "test-00003,1\n",  # line 7: missing column
    )
    with pytest.raises(LabelFileError) as caught:
        import_labels(sample_ws, path, "bob", "fm")
    assert [line for line, _ in caught.value.problems] == [3, 4, 5, 6, 7]
    assert "line 3: unknown key 'test-99999'" in str(caught.value)
    assert "nothing imported" in str(caught.value)
    with sample_ws.connect() as con:
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM subjects").fetchone()[0] == 0


def test_cli_import_error_is_one_line(cli, sample_ws, tmp_path):
    path = _write(tmp_path, "key,liked\ntest-00000,1\n")
    result = cli("label", "import", path, "--subject", "bob", "--dataset", "fm", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {path}: the header must be key,preferred[,rt_ms], got key,liked"


def test_export_csv_and_parquet_carry_every_label(cli, sample_ws, tmp_path):
    path = _write(tmp_path, "key,preferred,rt_ms\ntest-00005,1,300\ntest-00006,0,450\n")
    cli("label", "import", path, "--subject", "bob", "--dataset", "fm")
    text = cli("label", "export", "--subject", "bob").stdout.splitlines()
    assert text[0].startswith("dataset,key,preferred,rt_ms")
    assert text[1].startswith("fm,test-00005,1,300.0") and text[2].startswith("fm,test-00006,0,450.0")
    out = tmp_path / "bob.parquet"
    cli("label", "export", "--subject", "bob", "--format", "parquet", "--out", out)
    rows = duckdb.sql(f"SELECT key, preferred, rt_ms FROM '{out}' ORDER BY key").fetchall()
    assert rows == [("test-00005", True, 300.0), ("test-00006", False, 450.0)]


def test_the_latest_answer_per_item_is_the_one_learned(sample_ws, tmp_path):
    import_labels(sample_ws, _write(tmp_path, "key,preferred\ntest-00000,1\ntest-00001,1\n"), "bob", "fm")
    import_labels(sample_ws, _write(tmp_path, "key,preferred\ntest-00000,0\n"), "bob", "fm")
    usable = usable_labels(sample_ws, "bob", "fm")
    assert usable.item_idx.tolist() == [0, 1] and usable.preferred.tolist() == [False, True]
