"""The command line as a user meets it: help, one-line errors, debug tracebacks, the demo, data fetch."""

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefstudy.cli import app
from prefstudy.datasets.readers.fetch import ARCHIVE_SHA256, fetch_fashion_mnist


def test_every_command_group_has_help():
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for command in ("study", "data", "subject", "label", "run", "report", "demo", "backbones"):
        assert command in top.stdout
        assert runner.invoke(app, [command, "--help"]).exit_code == 0


def test_errors_are_one_line_unless_debugging(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no study here") and len(result.stderr.strip().splitlines()) == 1
    monkeypatch.setenv("PREFSTUDY_DEBUG", "1")
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 1 and type(result.exception).__name__ == "PrefstudyError"


def test_json_output_is_only_json_on_stdout(cli, sample_ws):

    result = cli(
        "subject", "simulate", "alice", "--dataset", "fm", "--rule", "classes:Bag,Coat", "--limit", "300", "--json"
    )
    payload = json.loads(result.stdout)
    assert payload["n_labels"] == 300 and payload["agreement_with_rule"] == 1.0


# The demo's test accuracies at 1 epoch, fp32, 2 threads, with the onecycle schedule (issue 17):
# `prefstudy run --subject S --dataset fm --protocol model2 --epochs 1 --seed 0 --test-fraction 0.2
# --precision fp32` in `study init --from demo`. Float kernels differ between CPU kinds, so the numbers
# are exact on the kind they were measured on (by vendor and vector unit) and close elsewhere.
# (Under the paper's constant rate and the contiguous fp32 layout, before issue 17: 0.8635, 0.908, 0.7195.)
DEMO_ACCURACY_BEFORE = {("AuthenticAMD", "AVX2"): {"alice": 0.879, "bob": 0.9235, "carol": 0.8025}}
# carol under --schedule paper, 1 epoch: 0.7195 with fp32 in the contiguous layout, the number from before
# the runs package (reproduced exactly at c16f16f); fp32 on CPUs has run channels_last since (issue 17:
# 1.5x faster training), which rounds differently.
PAPER_SCHEDULE_CAROL = 0.7095


def _cpu_kind() -> tuple[str, str]:
    import torch

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    vendor = next((line.split(":")[1].strip() for line in info.splitlines() if line.startswith("vendor_id")), "?")
    return vendor, torch.backends.cpu.get_cpu_capability()


@pytest.mark.slow  # trains three models
def test_demo_runs_end_to_end_reproduces_its_accuracies_and_is_idempotent(tmp_path: Path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runner = CliRunner()
        demo = ["demo", "--dir", str(tmp_path / "demo"), "--epochs", "1", "--precision", "fp32"]
        first = runner.invoke(app, demo)
        assert first.exit_code == 0, first.stderr
        for subject in ("alice", "bob", "carol"):
            assert f"{subject}-fm-model2-" in first.stdout
        assert "Test accuracy across subjects" in first.stdout
        second = runner.invoke(app, demo)
        assert second.exit_code == 0 and "run:" not in second.stderr  # nothing trained again
    finally:
        torch.set_num_threads(threads)
    runs = sorted(p.name.split("-")[0] for p in (tmp_path / "demo" / "runs").iterdir())
    assert runs == ["alice", "bob", "carol"]
    report = json.loads(runner.invoke(app, ["report", "--study", str(tmp_path / "demo"), "--format", "json"]).stdout)
    accuracy = {r["subject"]: r["metrics"]["test"]["accuracy"] for r in report["runs"]}
    print(f"\ndemo test accuracies (1 epoch, fp32): {accuracy}")
    expected = DEMO_ACCURACY_BEFORE.get(_cpu_kind())
    if expected is not None:
        assert accuracy == expected
    else:
        (reference,) = DEMO_ACCURACY_BEFORE.values()
        assert all(abs(accuracy[s] - reference[s]) <= 0.02 for s in reference), (accuracy, reference)
    # --schedule paper trains as every run did before schedules, reproducibly from its seed.
    torch.set_num_threads(2)
    try:
        carol = ["run", "--study", str(tmp_path / "demo"), "--subject", "carol", "--dataset", "fm", "--epochs", "1"]
        paper = runner.invoke(
            app, [*carol, "--test-fraction", "0.2", "--precision", "fp32", "--schedule", "paper", "--json"]
        )
    finally:
        torch.set_num_threads(threads)
    assert paper.exit_code == 0, paper.stderr
    result = json.loads(paper.stdout)
    print(f"carol under --schedule paper: {result['metrics']['test']['accuracy']}")
    assert result["schedule"] == "paper"
    if expected is not None:
        assert result["metrics"]["test"]["accuracy"] == PAPER_SCHEDULE_CAROL
    else:
        assert abs(result["metrics"]["test"]["accuracy"] - PAPER_SCHEDULE_CAROL) <= 0.02


@pytest.fixture
def mirror(fashion_mnist_dir: Path, tmp_path: Path):
    """A local HTTP mirror serving the (Debian-recompressed) official files, plus one tampered file."""
    root = tmp_path / "mirror"
    (root / "good").mkdir(parents=True)
    (root / "bad").mkdir()
    for name in ARCHIVE_SHA256:
        shutil.copy(fashion_mnist_dir / name, root / "good" / name)
        shutil.copy(fashion_mnist_dir / name, root / "bad" / name)
    (root / "bad" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"tampered")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.slow  # serves and downloads 30 MB
def test_fetch_downloads_and_checks_every_file(mirror: str, tmp_path: Path):
    result = fetch_fashion_mnist(tmp_path / "dest", base_url=mirror + "/good", force=True)
    assert sorted(result.downloaded) == sorted(ARCHIVE_SHA256)
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == sorted(ARCHIVE_SHA256)


@pytest.mark.slow  # serves and downloads 30 MB
def test_fetch_rejects_a_file_that_fails_its_checksum_and_keeps_nothing_of_it(mirror: str, tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["data", "fetch", "fashion-mnist", "--dest", str(tmp_path / "dest"), "--url", mirror + "/bad", "--force"]
    )
    assert result.exit_code == 1 and "failed its sha256 check" in result.stderr
    assert not (tmp_path / "dest" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not list((tmp_path / "dest").glob(".*"))  # no partial download left behind


def test_fetch_uses_a_local_copy_first(fashion_mnist_dir: Path):
    result = fetch_fashion_mnist(base_url="http://127.0.0.1:9/unreachable")
    assert result.found_locally and result.folder == fashion_mnist_dir and result.downloaded == []
