"""Simulated subjects: labels drawn from a rule with known ground truth, stored exactly like a person's.

The simulated person sees the items in a seeded random order (one trial each), answers by the
rule, flips each answer with probability ``noise``, and sees a fraction ``repeat`` of the items
a second time at the end (answered with fresh noise), for test-retest consistency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prefstudy.datasets.catalog import ImageSet, load_images
from prefstudy.errors import PrefstudyError
from prefstudy.subjects.labels import insert_labels, insert_repeats, label_count, new_session
from prefstudy.subjects.roster import SIMULATED, ensure_subject, record_simulation
from prefstudy.subjects.rules import Rule, parse_rule
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class SimulatedLabels:
    item_idx: np.ndarray  # items in trial order
    preferred: np.ndarray  # the subject's (noisy) answers
    truth: np.ndarray  # the rule's answers
    repeat_item_idx: np.ndarray  # items shown again, in trial order
    repeat_preferred: np.ndarray
    region: tuple[float, float, float, float] | None


def _check_probability(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise PrefstudyError(f"--{name} must be between 0 and 1, got {value}")


def simulate_labels(
    images: ImageSet, rule: Rule, *, noise: float = 0.0, repeat: float = 0.0, seed: int = 0, limit: int | None = None
) -> SimulatedLabels:
    """Answer every item (or a seeded ``limit`` of them) by ``rule``, with label noise and repeats."""
    _check_probability("noise", noise)
    _check_probability("repeat", repeat)
    n = len(images.keys)
    if limit is not None and limit < 1:
        raise PrefstudyError(f"--limit must be at least 1, got {limit}")
    truth_all = rule.preferred(images.images, images.classes)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)[: limit if limit is not None else n]
    truth = truth_all[order]
    answers = truth ^ (rng.random(len(order)) < noise)
    n_repeat = round(repeat * len(order))
    repeat_pos = np.sort(rng.choice(len(order), size=n_repeat, replace=False))
    repeat_items = order[repeat_pos]
    repeat_answers = truth_all[repeat_items] ^ (rng.random(n_repeat) < noise)
    return SimulatedLabels(order, answers, truth, repeat_items, repeat_answers, rule.region)


def _constant_column(value: object, m: int) -> np.ndarray:
    column = np.empty(m, dtype=object)
    for i in range(m):  # element-wise: numpy would otherwise turn a list value into a 2-D array
        column[i] = value
    return column


def _refuse_labelled(ws: Workspace, subject: str, dataset: str) -> None:
    if label_count(ws, subject, dataset):
        raise PrefstudyError(f"subject {subject!r} already has labels on {dataset!r}; simulate another subject name")


@dataclass(frozen=True)
class SimulationResult:
    subject: str
    dataset: str
    rule: str
    n_labels: int
    n_repeats: int
    preferred_share: float
    agreement_with_rule: float


def simulate_subject(
    ws: Workspace,
    subject: str,
    dataset: str,
    rule_text: str,
    *,
    noise: float = 0.0,
    repeat: float = 0.0,
    seed: int = 0,
    limit: int | None = None,
) -> SimulationResult:
    """Create (or extend to a new dataset) a simulated subject and store its labels."""
    images = load_images(ws, dataset)
    rule = parse_rule(rule_text, images.info.class_names)
    _refuse_labelled(ws, subject, dataset)
    sim = simulate_labels(images, rule, noise=noise, repeat=repeat, seed=seed, limit=limit)
    if sim.preferred.all() or not sim.preferred.any():
        raise PrefstudyError(f"rule {rule_text!r} gives every item of {dataset!r} the same answer; choose another rule")
    session = new_session("simulated")
    n, r = len(sim.item_idx), len(sim.repeat_item_idx)
    region = list(sim.region) if sim.region else None

    def columns(item_idx: np.ndarray, answers: np.ndarray, first_trial: int) -> dict[str, np.ndarray]:
        m = len(item_idx)
        return {
            "subject": np.full(m, subject, dtype=object),
            "dataset": np.full(m, dataset, dtype=object),
            "item_idx": item_idx.astype(np.int32),
            "preferred": answers.astype(bool),
            "session": np.full(m, session, dtype=object),
            "trial": np.arange(first_trial, first_trial + m, dtype=np.int32),
            "region": _constant_column(region, m),
            "source": np.full(m, "simulated", dtype=object),
        }

    with ws.transaction() as con:
        _refuse_labelled(ws, subject, dataset)  # again: another process may have simulated them meanwhile
        ensure_subject(con, subject, SIMULATED)
        record_simulation(con, subject, dataset, rule_text, noise=noise, repeat=repeat, seed=seed, session=session)
        insert_labels(con, columns(sim.item_idx, sim.preferred, 1))
        if r:
            insert_repeats(con, columns(sim.repeat_item_idx, sim.repeat_preferred, n + 1))
    return SimulationResult(
        subject=subject,
        dataset=dataset,
        rule=rule_text,
        n_labels=n,
        n_repeats=r,
        preferred_share=float(sim.preferred.mean()),
        agreement_with_rule=float((sim.preferred == sim.truth).mean()),
    )
