"""The track record of `brainbench predict`, worked out by hand."""

from __future__ import annotations

import pytest

from brainbench.analysis.track_record import confidence_bins, track_record

CONFIDENCE = [0.50 + k / 100 for k in range(40)]  # 0.50 ... 0.89
CORRECT = [k % 2 == 0 for k in range(20)] + [k % 5 != 0 for k in range(20)]  # low half 10/20 right, high half 16/20


@pytest.mark.parametrize(("at", "index"), [(0.1, 0), (0.55, 0), (0.69, 0), (0.695, 1), (0.75, 1), (0.99, 1)])
def test_a_prediction_is_read_against_its_confidence_bin(at: float, index: int) -> None:
    record = track_record(
        list(reversed(CONFIDENCE)), list(reversed(CORRECT)), at
    )  # the order of the items does not matter
    assert record["n"] == 40 and record["n_correct"] == 26 and record["n_bins"] == 2
    chosen = record["bin"]
    assert chosen["index"] == index and chosen["n"] == 20
    assert chosen["n_correct"] == (10, 16)[index]
    assert (chosen["confidence_low"], chosen["confidence_high"]) == pytest.approx(((0.50, 0.69), (0.70, 0.89))[index])
    assert chosen["mean_confidence"] == pytest.approx((0.595, 0.795)[index])


def test_few_items_make_one_bin_and_many_at_most_five() -> None:
    assert len(confidence_bins([0.6] * 39)) == 1
    assert [len(members) for members in confidence_bins([0.6] * 200)] == [40] * 5
    small = track_record([0.5, 0.7, 0.9], [True, False, True], 0.95)
    assert small["n_bins"] == 1 and small["bin"]["n"] == 3 and small["accuracy"] == pytest.approx(2 / 3)
