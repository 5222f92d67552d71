"""The dashboards' statistics against textbook values, edge cases, and the summability the rollups rely on."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from reviews.analytics.stats import (
    alpha_from_coincidences,
    alpha_interval,
    band,
    cohen_kappa,
    cohen_kappa_from_table,
    coincidences,
    expected_calibration_error,
    krippendorff_alpha,
    median_from_histogram,
    median_interval_from_histogram,
    precision,
    reliability_bins,
    wilson_interval,
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units,
# nominal values 1-5, None where an observer gave no value. Nominal alpha = 0.743.
_ = None
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    "C": [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
}
UNITS = list(zip(*KRIPPENDORFF_2011.values(), strict=True))


def test_cohen_kappa_of_the_classic_two_by_two_example_is_0_4() -> None:
    # Wikipedia, "Cohen's kappa": 50 grant proposals, both yes 20, A yes B no 5, A no B yes 10, both no 15.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    table = {("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15}
    assert cohen_kappa_from_table(table) == pytest.approx(0.4)


def test_krippendorff_alpha_of_the_2011_worked_example_is_0_743() -> None:
    assert krippendorff_alpha(UNITS) == pytest.approx(0.743, abs=5e-4)


def test_krippendorff_alpha_sums_over_units_as_the_rollups_store_it() -> None:
    """Coincidences of two halves of the units, added up, give the alpha of all of them."""
    first, second = coincidences(UNITS[:5]), coincidences(UNITS[5:])
    merged = {key: first.get(key, 0) + second.get(key, 0) for key in {*first, *second}}
    assert alpha_from_coincidences(merged) == pytest.approx(krippendorff_alpha(UNITS))


def test_wilson_interval_of_known_values() -> None:
    low, high = wilson_interval(8, 10) or (math.nan, math.nan)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert tuple(round(v, 4) for v in wilson_interval(0, 10) or ()) == (0.0, 0.2775)
    assert tuple(round(v, 4) for v in wilson_interval(10, 10) or ()) == (0.7225, 1.0)
    assert tuple(round(v, 4) for v in wilson_interval(1, 2) or ()) == (0.0945, 0.9055)


def test_no_data_is_none_not_a_number() -> None:
    assert wilson_interval(0, 0) is None
    assert precision(0, 0) is None
    assert cohen_kappa([]) is None
    assert krippendorff_alpha([]) is None
    assert krippendorff_alpha([[1, None, None], [2]]) is None  # nothing pairable
    assert expected_calibration_error(reliability_bins([], [])) is None
    assert median_from_histogram([1, 2], [0, 0, 0]) is None


def test_perfect_agreement_is_one_but_a_single_shared_label_is_undefined() -> None:
    assert cohen_kappa([("a", "a"), ("b", "b"), ("a", "a")]) == pytest.approx(1.0)
    assert krippendorff_alpha([["a", "a"], ["b", "b", "b"]]) == pytest.approx(1.0)
    # Everyone always said "a": chance agreement is 1 too, so there is nothing to measure.
    assert cohen_kappa([("a", "a")] * 5) is None
    assert krippendorff_alpha([["a", "a"], ["a", "a", None]]) is None


def test_precision_is_confirmed_over_reviewed() -> None:
    assert precision(3, 4) == 0.75
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_reliability_bins_and_expected_calibration_error_by_hand() -> None:
    bins = reliability_bins([0.05, 0.15, 0.15, 0.95, 1.0], [0, 1, 0, 1, 1])
    assert bins[0] == pytest.approx((0.05, 0.0, 1))
    assert bins[1] == pytest.approx((0.15, 0.5, 2))
    assert bins[9] == pytest.approx((0.975, 1.0, 2))
    assert [b for i, b in enumerate(bins) if i not in (0, 1, 9)] == [(None, None, 0)] * 7
    # 1/5 * 0.05 + 2/5 * 0.35 + 2/5 * 0.025
    assert expected_calibration_error(bins) == pytest.approx(0.16)


def test_band_edges_match_threshold_tests() -> None:
    assert [band(x) for x in (0.0, 0.0999, 0.1, 0.3, 0.2999, 0.5, 0.7, 0.9, 1.0)] == [0, 0, 1, 3, 2, 5, 7, 9, 9]


def test_median_from_histogram_interpolates_within_its_bin() -> None:
    assert median_from_histogram([10, 20], [0, 4, 0]) == pytest.approx(15.0)
    assert median_from_histogram([10, 20], [1, 1, 2]) == pytest.approx(20.0)
    assert median_from_histogram([10, 20], [0, 0, 3]) == pytest.approx(20.0)  # open last bin: its floor


def test_median_interval_brackets_the_median_and_narrows_with_n() -> None:
    # 100 values spread evenly over [0, 100): ranks 50 ± 1.96·√100/2 = 40.2 and 59.8.
    edges = [float(e) for e in range(10, 101, 10)]
    low, high = median_interval_from_histogram(edges, [10] * 10 + [0])
    assert (low, high) == (pytest.approx(40.2), pytest.approx(59.8))
    small = median_interval_from_histogram(edges, [1] * 10 + [0])  # the same shape from 10 values: wider
    assert small is not None and small[0] < low and small[1] > high
    assert median_interval_from_histogram(edges, [0] * 11) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd")), min_size=2, max_size=40))
def test_cohen_kappa_matches_scikit_learn(pairs: list[tuple[str, str]]) -> None:
    ours = cohen_kappa(pairs)
    a, b = zip(*pairs, strict=True)
    if ours is None:
        assert len(set(a) | set(b)) == 1
    else:
        assert ours == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


def test_training_and_the_dashboard_share_one_calibration_error() -> None:
    """worker/training.py reports ECE through reviews/analytics/stats.py: one definition, not two."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("torch")
    from worker.training import expected_calibration_error as training_ece

    rng = np.random.default_rng(3)
    probs = rng.random(500)
    truth = (rng.random(500) < probs).astype(float)
    shared = expected_calibration_error(reliability_bins(probs.tolist(), truth.tolist()))
    assert training_ece(truth, probs) == pytest.approx(shared)


def _agreeing(items: int, disagreeing: int) -> dict[tuple[str, str], float]:
    """Double-reviewed items as a coincidence matrix: half of the agreeing ones 'a', half 'b'."""
    agree = (items - disagreeing) / 2
    return {("a", "a"): 2 * agree, ("b", "b"): 2 * agree, ("a", "b"): disagreeing, ("b", "a"): disagreeing}


def test_alpha_interval_brackets_alpha_narrows_with_more_items_and_is_the_same_on_every_call() -> None:
    few, many = _agreeing(20, 4), _agreeing(400, 80)  # the same alpha from 20 and from 400 items

    low, high = alpha_interval(few)
    alpha = alpha_from_coincidences(few)
    assert alpha is not None and low < alpha < high <= 1
    many_low, many_high = alpha_interval(many)
    assert many_low < alpha_from_coincidences(many) < many_high
    assert many_high - many_low < (high - low) / 2
    assert alpha_interval(few) == (low, high)  # seeded: a dashboard shows the same interval on every load


def test_alpha_interval_is_none_where_alpha_is() -> None:
    assert alpha_interval({("a", "a"): 10.0}) is None  # one verdict only: no variation, no alpha
    assert alpha_interval({}) is None
