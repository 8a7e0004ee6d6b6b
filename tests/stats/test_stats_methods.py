"""The methods sentences name the options the functions pass, and importing prefstudy.stats loads no SciPy."""

import subprocess
import sys
from importlib.metadata import version

from prefstudy.stats import EXACT_UP_TO, methods_sentences, wilcoxon
from prefstudy.stats.methods import HOLM, MCNEMAR, T_TEST, WILCOXON, bootstrap_sentence


def test_the_sentences_carry_the_options_the_calls_use():
    w = wilcoxon([1.0, 2.0, -3.0, 0.0])
    assert f"zero_method='{w.zero_method}'" in WILCOXON and f"correction={w.correction}" in WILCOXON
    assert f"at most {EXACT_UP_TO} non-zero" in WILCOXON and f"method='{w.scipy_method}'" in WILCOXON
    assert "method='asymptotic'" in WILCOXON and "alternative='two-sided'" in WILCOXON
    assert "exact=True" in MCNEMAR and "method='holm'" in HOLM and "n ≥ 3" in T_TEST
    assert "from 500 bootstrap replicates" in bootstrap_sentence(500)
    sentences = methods_sentences()
    assert all(s.endswith(".") for s in sentences) and len(sentences) == 13
    assert f"scipy {version('scipy')}" in sentences[-1] and f"statsmodels {version('statsmodels')}" in sentences[-1]
    assert len(methods_sentences(versions=False)) == 12


def test_importing_the_package_and_its_methods_loads_no_scipy_statsmodels_or_torch():
    code = (
        "import sys, prefstudy.stats as s; s.methods_sentences(); s.spread([1.0, 2.0]); "
        "print(','.join(m for m in ('scipy', 'statsmodels', 'krippendorff', 'sklearn', 'torch') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
