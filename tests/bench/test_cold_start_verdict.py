"""The cold-start bench's arithmetic: ratios paired run by run, and the tracing-on verdict
as a difference of differences, so one slow moment on a shared machine moves one round,
not the figure."""

from __future__ import annotations

import pytest

from bench.cold_start import beyond_sdk, paired_ratio


def test_paired_ratio_is_the_median_of_the_pairs_ratios() -> None:
    # the machine slowed down twofold for the last pair: both sides slowed alike
    assert paired_ratio([1.1, 1.1, 2.2], [1.0, 1.0, 2.0]) == pytest.approx(1.1)


def test_tracing_that_adds_only_the_sdk_is_nothing_beyond_it() -> None:
    times = {
        "off": [1.10, 1.10, 2.20],
        "on": [1.15, 1.15, 2.30],  # + 0.05 of the baseline
        "base": [1.00, 1.00, 2.00],
        "libs": [1.02, 1.02, 2.04],
        "traced": [1.07, 1.07, 2.14],  # the SDK alone: + 0.05 of the baseline
    }
    adds, sdk, beyond = beyond_sdk(times)
    assert adds == pytest.approx(0.05)
    assert sdk == pytest.approx(0.05)
    assert beyond == pytest.approx(0.0)


def test_tracing_that_costs_more_than_the_sdk_shows_beyond_it() -> None:
    times = {
        "off": [1.1, 1.1, 1.1],
        "on": [1.3, 1.3, 1.3],
        "base": [1.0, 1.0, 1.0],
        "libs": [1.0, 1.0, 1.0],
        "traced": [1.05, 1.05, 1.05],
    }
    assert beyond_sdk(times)[2] == pytest.approx(0.15)
