"""Which items a strategy picks next, from a pool of candidates: torch-free, deterministic, seeded.

Strategies:

- ``random``: a seeded permutation of the pool;
- ``uncertainty``: the items whose P(preferred) under the subject's latest model is nearest 0.5;
- ``diverse``: one item at a time from the feature cluster with the fewest labelled items, the item
  nearest its cluster's centre first, so the first labels cover the domain.

Every label records what chose it (:data:`STRATEGIES`): besides the three orders, ``explore`` (the random
share mixed into an active order, which keeps an unbiased estimate possible), ``test`` (a held-out item,
shown as its own random share: labelled and scored, never trained on) and ``repeat`` (a test-retest repeat).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prefstudy.errors import PrefstudyError

RANDOM, UNCERTAINTY, DIVERSE = "random", "uncertainty", "diverse"
ORDERS = (RANDOM, UNCERTAINTY, DIVERSE)
EXPLORE, TEST, REPEAT = "explore", "test", "repeat"
STRATEGIES = (*ORDERS, EXPLORE, TEST, REPEAT)


def check_order(order: str) -> str:
    """``order`` when it is one of :data:`ORDERS`; else one line saying which are."""
    if order not in ORDERS:
        raise PrefstudyError(f"unknown order {order!r}; use one of: {', '.join(ORDERS)}")
    return order


def pick_random(candidates: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` candidates in a seeded random order."""
    return rng.permutation(np.asarray(candidates))[:n]


def pick_uncertain(candidates: np.ndarray, p_preferred: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` candidates whose P(preferred) (indexed by item) is nearest 0.5; ties in candidate order."""
    candidates = np.asarray(candidates)
    margin = np.abs(np.asarray(p_preferred, dtype=np.float64)[candidates] - 0.5)
    margin[~np.isfinite(margin)] = np.inf  # an item the model did not score comes last
    return candidates[np.argsort(margin, kind="stable")[:n]]


@dataclass(frozen=True)
class Clusters:
    """Each item's feature cluster and its distance to the cluster's centre (indexed by item)."""

    assignment: np.ndarray  # int, -1 for an item without features
    distance: np.ndarray  # float

    @property
    def k(self) -> int:
        return int(self.assignment.max()) + 1 if len(self.assignment) else 0


def pick_diverse(candidates: np.ndarray, clusters: Clusters, labelled: np.ndarray, n: int) -> np.ndarray:
    """``n`` candidates, one at a time from the cluster with the fewest labelled items (then the larger
    cluster, then the lower cluster number), each the candidate nearest its cluster's centre."""
    candidates = np.asarray(candidates)
    k = clusters.k
    if k == 0 or n <= 0 or not len(candidates):
        return candidates[:0]
    of_labelled = clusters.assignment[np.asarray(labelled, dtype=np.int64)]
    counts = np.bincount(of_labelled[of_labelled >= 0], minlength=k)
    sizes = np.bincount(clusters.assignment[clusters.assignment >= 0], minlength=k)
    # Each cluster's candidates, nearest its centre first.
    cand_clusters = clusters.assignment[candidates]
    order = np.lexsort((clusters.distance[candidates], cand_clusters))
    queues: dict[int, list[int]] = {}
    for position in order:
        c = int(cand_clusters[position])
        if c >= 0:
            queues.setdefault(c, []).append(int(candidates[position]))
    heads = {c: 0 for c in queues}
    chosen: list[int] = []
    while len(chosen) < n and heads:
        c = min(heads, key=lambda c: (counts[c], -sizes[c], c))
        chosen.append(queues[c][heads[c]])
        counts[c] += 1
        heads[c] += 1
        if heads[c] == len(queues[c]):
            del heads[c]
    if len(chosen) < n:  # items without features come last, in candidate order
        rest = candidates[cand_clusters < 0]
        chosen += [int(i) for i in rest[: n - len(chosen)]]
    return np.asarray(chosen, dtype=candidates.dtype)


def kmeans(features: np.ndarray, k: int, seed: int, iterations: int = 25) -> Clusters:
    """Seeded k-means (k-means++ start, Lloyd steps) of ``features`` (N, D) into at most ``k`` clusters."""
    x = np.asarray(features, dtype=np.float32)
    n = len(x)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    squared = (x * x).sum(axis=1)
    # Greedy k-means++ (as scikit-learn's): of a few candidates drawn for each new centre, the one that
    # lowers the total squared distance most; plain k-means++ often splits a large cluster and merges two.
    trials = 2 + int(np.log(k))
    centres = [x[rng.integers(n)]]
    nearest = (squared - 2 * x @ centres[0] + centres[0] @ centres[0]).clip(0)
    for _ in range(1, k):
        total = nearest.sum()
        if total <= 0:
            break
        candidates = rng.choice(n, size=trials, p=nearest / total)
        distances = (squared[None, :] - 2 * x[candidates] @ x.T + squared[candidates][:, None]).clip(0)
        options = np.minimum(nearest[None, :], distances)
        best = int(options.sum(axis=1).argmin())
        centres.append(x[candidates[best]])
        nearest = options[best]
    c = np.stack(centres)
    for _ in range(iterations):
        d = squared[:, None] - 2 * x @ c.T + (c * c).sum(axis=1)[None, :]
        assign = d.argmin(axis=1)
        moved = np.stack([x[assign == j].mean(axis=0) if (assign == j).any() else c[j] for j in range(len(c))])
        if np.allclose(moved, c):
            break
        c = moved
    d = squared[:, None] - 2 * x @ c.T + (c * c).sum(axis=1)[None, :]
    assign = d.argmin(axis=1)
    distance = np.sqrt(d[np.arange(n), assign].clip(0))
    # Renumber clusters by size (largest first), so the numbering does not depend on the start.
    sizes = np.bincount(assign, minlength=len(c))
    rank = np.empty(len(c), dtype=np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(c))
    return Clusters(assignment=rank[assign], distance=distance.astype(np.float32))


def cluster_count(n_items: int) -> int:
    """How many clusters ``diverse`` draws from: enough that the first labels cover the domain, few enough
    that each cluster holds items to label (about sqrt(N/2), between 2 and 200)."""
    return int(np.clip(round(np.sqrt(n_items / 2)), 2, 200))


def slot_kinds(seed: int, salt: int, positions: np.ndarray, test_share: float, explore: float) -> np.ndarray:
    """What fills each trial position: ``test`` (a held-out item) with probability ``test_share``, else
    ``explore`` (random) with probability ``explore``, else the order's own strategy (``""``).

    A pure function of the position, so the items a page fetched ahead and the items it is served after a
    reload agree."""
    out = np.empty(len(positions), dtype=object)
    for index, position in enumerate(np.asarray(positions, dtype=np.int64)):
        u = np.random.default_rng([seed, salt, int(position), 7]).random(2)
        out[index] = TEST if u[0] < test_share else EXPLORE if u[1] < explore else ""
    return out
