"""A crossed mixed model beside the report's paired tests: is the personal model right more often than the image
population model, with raters *and* faces as random effects?

On item-level correctness (each rater's answered test faces, pooled over the 5 item folds), per personal
variant: statsmodels' ``BinomialBayesMixedGLM`` (a logistic model, variational Bayes) of ``correct ~ personal``
with a random intercept and a random personal slope per rater and per face. Its fixed effect (log-odds, posterior
mean and sd) is printed beside what the report says of the same variant: the mean accuracy gain with the two-way
(raters x items) and raters-only bootstrap intervals and Wilcoxon's p across raters. Mean-field variational Bayes
is known to understate the fixed effects' posterior sd; the two-way bootstrap is the report's interval. A study
with the runs made (e.g. the 100-rater London subset of ``studies/london-faces.toml`` plus the CNN entries of
``studies/london.toml``) is named by ``LONDON_STUDY``; without it a face-head study of ``LONDON_RATERS`` seeded
raters is made here (the face extractor plugin needed):

    LONDON_STUDY=/path/to/study .venv/bin/python -m pytest benchmarks/test_london_mixed_model.py -s --benchmark-only
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from prefstudy.report import collect
from prefstudy.report.population import PERSONAL, POPULATION
from prefstudy.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
LONDON = Path(os.environ.get("PREFSTUDY_SHARED_DATA", REPO.parent / "shared" / "data")) / "london-faces"
RATERS = int(os.environ.get("LONDON_RATERS", "100"))


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    if os.environ.get("LONDON_STUDY"):
        return Workspace(Path(os.environ["LONDON_STUDY"]).resolve())
    if not (LONDON / "ratings.csv").is_file():
        pytest.skip(f"the London faces are not in {LONDON} (see ../shared/README.md)")
    pytest.importorskip("prefstudy_face", reason="the face extractor plugin: pip install -e plugins/prefstudy-face")
    folder = tmp_path_factory.mktemp("mixed")
    declared = (REPO / "studies" / "london-faces.toml").read_text().replace("../shared/data", str(LONDON.parent))
    (folder / "london-faces.toml").write_text(declared)
    prefstudy = [str(Path(sys.executable).with_name("prefstudy"))]
    subprocess.run([*prefstudy, "study", "init", "study", "--from", "london-faces.toml"], cwd=folder, check=True)
    env = {**os.environ, "PREFSTUDY_STUDY": str(folder / "study")}
    made = [*prefstudy, "study", "run", "--limit-subjects", str(RATERS), "--seed", "0"]
    subprocess.run(made, env=env, check=True, capture_output=True)
    return Workspace((folder / "study").resolve())


def _long_table(comparisons) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(correct, personal, rater, item) rows: every answered test item of every rater, once per predictor."""
    correct, personal, rater, item = [], [], [], []
    for r, c in enumerate(comparisons):
        for is_personal, name in ((1, PERSONAL), (0, POPULATION)):
            right = c.right[name]
            keep = np.isfinite(right)
            correct.append(right[keep])
            personal.append(np.full(int(keep.sum()), is_personal))
            rater.append(np.full(int(keep.sum()), r))
            item.append(c.items[keep])
    return tuple(np.concatenate(x) for x in (correct, personal, rater, item))


def test_crossed_mixed_model_beside_the_paired_tests(study: Workspace, benchmark) -> None:
    pytest.importorskip("statsmodels")
    import pandas as pd
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    report = collect(study)
    variants = sorted({c.variant for c in report.comparisons})
    assert variants, "no personal runs compared with a population model in this study"
    rows = []

    def fit_all() -> None:
        rows.clear()
        for variant in variants:
            chosen = [c for c in report.comparisons if c.variant == variant]
            correct, personal, rater, item = _long_table(chosen)
            data = pd.DataFrame({"correct": correct, "personal": personal, "rater": rater, "item": item})
            began = time.perf_counter()
            model = BinomialBayesMixedGLM.from_formula(
                "correct ~ personal",
                {
                    "rater": "0 + C(rater)",
                    "item": "0 + C(item)",
                    # how much the personal model's edge varies by rater and by face: what the two-way bootstrap sees
                    "rater_slope": "0 + C(rater):personal",
                    "item_slope": "0 + C(item):personal",
                },
                data,
            )
            fitted = model.fit_vb()
            names = list(model.exog_names)
            j = names.index("personal")
            mean, sd = float(fitted.fe_mean[j]), float(fitted.fe_sd[j])
            rows.append((variant, len(chosen), len(data), mean, sd, time.perf_counter() - began))

    benchmark.pedantic(fit_all, rounds=1, iterations=1)
    summaries = {s.variant: s for s in report.population}
    print(
        f"\n{study.root}: crossed mixed model (BinomialBayesMixedGLM, fit_vb) of correct ~ personal "
        "+ (1 + personal|rater) + (1 + personal|face), personal vs the image population model, beside the report"
    )
    for variant, raters, n, mean, sd, seconds in rows:
        b = summaries[variant].against(POPULATION)
        boot = b.bootstrap
        print(
            f"- {variant}: {raters} raters, {n:,} rows, {seconds:.1f} s | mixed model log-odds {mean:+.3f} "
            f"(sd {sd:.3f}, ±1.96 sd [{mean - 1.96 * sd:+.3f}, {mean + 1.96 * sd:+.3f}], odds ratio "
            f"{np.exp(mean):.2f}) | report: mean gain {100 * b.accuracy_gain.mean:+.1f} pts, two-way bootstrap "
            f"[{100 * boot.low:+.1f}, {100 * boot.high:+.1f}], raters-only [{100 * boot.rater_low:+.1f}, "
            f"{100 * boot.rater_high:+.1f}], Wilcoxon p {b.accuracy_test.p_value:.2g}"
        )
        assert np.isfinite(mean) and sd > 0
        # The two answer the same question: where the bootstrap over raters and faces excludes zero, the mixed
        # model's effect has the same sign.
        if boot.low > 0 or boot.high < 0:
            assert np.sign(mean) == np.sign(boot.low)
    if not os.environ.get("LONDON_STUDY"):
        shutil.rmtree(study.root.parent, ignore_errors=True)
