"""The strategies that choose what a subject labels next, and the simple image features of `diverse`."""

from __future__ import annotations

import numpy as np
import pytest

from prefstudy.active.image_features import simple_features
from prefstudy.active.selection import (
    EXPLORE,
    TEST,
    check_order,
    cluster_count,
    kmeans,
    pick_diverse,
    pick_random,
    pick_uncertain,
    slot_kinds,
)
from prefstudy.errors import PrefstudyError


def test_uncertainty_picks_the_items_nearest_one_half_and_never_outside_the_candidates():
    p = np.array([0.9, 0.52, 0.1, 0.49, 0.5, 0.7, np.nan])
    assert pick_uncertain(np.array([0, 1, 2, 3, 5, 6]), p, 3).tolist() == [3, 1, 5]
    assert pick_uncertain(np.array([6, 0]), p, 2).tolist() == [0, 6]  # unscored last


def test_random_is_seeded():
    a = pick_random(np.arange(100), 10, np.random.default_rng(3))
    assert a.tolist() == pick_random(np.arange(100), 10, np.random.default_rng(3)).tolist()
    assert len(set(a.tolist())) == 10


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=np.float32)
    which = np.repeat(np.arange(4), [50, 30, 15, 5])
    return centres[which] + rng.normal(0, 0.5, (100, 2)).astype(np.float32), which


def test_kmeans_finds_separated_clusters_and_numbers_them_by_size():
    x, which = _blobs()
    clusters = kmeans(x, 4, seed=0)
    assert clusters.k == 4
    for blob in range(4):  # each blob is one cluster, the largest numbered 0
        assert len(set(clusters.assignment[which == blob].tolist())) == 1
    assert clusters.assignment[which == 0][0] == 0 and clusters.assignment[which == 3][0] == 3


def test_diverse_covers_every_cluster_before_any_twice_nearest_the_centre_first():
    x, which = _blobs()
    clusters = kmeans(x, 4, seed=0)
    chosen = pick_diverse(np.arange(100), clusters, np.array([], dtype=np.int64), 6)
    assert sorted(set(which[chosen[:4]].tolist())) == [0, 1, 2, 3]
    first_of_blob0 = chosen[which[chosen] == 0][0]
    members = np.flatnonzero(clusters.assignment == clusters.assignment[first_of_blob0])
    assert clusters.distance[first_of_blob0] == clusters.distance[members].min()
    # Labelled items count: with blob 0 labelled twice and the others not, blob 0 comes last.
    labelled = np.flatnonzero(which == 0)[:2]
    again = pick_diverse(np.setdiff1d(np.arange(100), labelled), clusters, labelled, 3)
    assert 0 not in which[again].tolist()


def test_slot_kinds_follow_the_shares_and_depend_only_on_the_position():
    kinds = slot_kinds(0, 17, np.arange(5000), test_share=0.2, explore=0.25)
    assert abs((kinds == TEST).mean() - 0.2) < 0.02
    assert abs((kinds == EXPLORE).mean() - 0.8 * 0.25) < 0.02
    assert slot_kinds(0, 17, np.arange(40, 60), 0.2, 0.25).tolist() == kinds[40:60].tolist()
    assert (slot_kinds(0, 17, np.arange(100), 0.0, 0.0) == "").all()


def test_simple_features_tell_bright_from_dark_and_striped_from_flat():
    flat_dark = np.full((4, 16, 16, 3), 20, np.uint8)
    flat_bright = np.full((4, 16, 16, 3), 230, np.uint8)
    stripes = np.zeros((4, 16, 16, 3), np.uint8)
    stripes[:, :, ::2] = 255
    f = simple_features(np.concatenate([flat_dark, flat_bright, stripes]))
    assert f.shape[0] == 12 and np.isfinite(f).all()
    clusters = kmeans(f, 3, seed=0)
    assert [len(set(clusters.assignment[i : i + 4].tolist())) for i in (0, 4, 8)] == [1, 1, 1]
    assert len(set(clusters.assignment[[0, 4, 8]].tolist())) == 3


def test_orders_and_cluster_counts():
    assert check_order("diverse") == "diverse"
    with pytest.raises(PrefstudyError, match="unknown order 'smart'"):
        check_order("smart")
    assert cluster_count(10) == 2 and cluster_count(10_000) == 71 and cluster_count(10**7) == 200
