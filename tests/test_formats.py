"""Numbers written one way (fleetopt.core.formats), and axis ticks in the same words."""

from __future__ import annotations

import math

import pytest

from fleetopt.core import formats
from fleetopt.report.figures import nice_ticks, tick_labels


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1_190_468_196.21, "$1.19B"),
        (124_526_045.2, "$124.5M"),
        (59_872_831.5, "$59.87M"),
        (5_245_809_808.5, "$5.25B"),
        (242_440_858.11595204, "$242.4M"),  # the raw objective the issue quotes
        (1_200_000, "$1.20M"),
        (999_996, "$1.00M"),  # rounds up into the next scale, not '$1000.00k'
        (0.02569690462470708, "$0.0257"),
        (3.5, "$3.50"),
        (450.25, "$450.2"),
        (0, "$0"),
        (-3_000_000, "-$3.00M"),
        (-1e-9, "$0"),  # never '-$0'
        (None, "n/a"),
        (math.nan, "n/a"),
        (math.inf, "n/a"),
    ],
)
def test_money(value, text):
    assert formats.usd(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0231, "2.31%"),
        (0.001405668163673687, "0.14%"),  # the raw gap the issue quotes
        (0.4286, "42.9%"),
        (1.0, "100.0%"),
        (1e-7, "<0.01%"),
        (0.0, "0%"),
        (-0.05, "-5.00%"),
        (None, "n/a"),
    ],
)
def test_shares(value, text):
    assert formats.share(value) == text


def test_changes_dates_and_magnitudes():
    assert formats.usd_change(2_960_000) == "+$2.96M"
    assert formats.usd_change(-2_960_000) == "-$2.96M"
    assert formats.usd_change(0) == "$0"
    assert formats.share_change(0.005) == "+0.50 pp"
    assert formats.signed_integer(-13) == "-13" and formats.signed_integer(0) == "0"
    assert formats.number(1_469_029_029.6) == "1.47B" and formats.number(12.218) == "12.22"
    assert formats.mw(1000) == "1,000" and formats.megawatts(65.711) == "65.71 MW"
    assert formats.mw_change(-0.007) == "-0.007"
    assert formats.month_year(2026.5) == "Jul 2026" and formats.month_year(2027.0) == "Jan 2027"
    assert formats.gap(-1e-12) == "0%"  # solver noise below zero
    assert formats.seconds(754) == "12 min 34 s" and formats.seconds(3.21) == "3.2 s"
    assert formats.usd_plus_minus(4.86e9, 3.44e9) == "$4.86B ± $3.44B"
    assert formats.usd_plus_minus(4.86e9, None) == "$4.86B"


@pytest.mark.parametrize(
    ("low", "high", "kind", "expected"),
    [
        (0, 1.19e9, "usd", ["$0", "$250M", "$500M", "$750M", "$1B", "$1.25B"]),
        # The "2% 2% 3% 3%": ticks closer than whole percents stay apart.
        (0.02, 0.031, "share", ["2%", "2.25%", "2.5%", "2.75%", "3%", "3.25%"]),
        (0, 3300, "integer", ["0", "1,000", "2,000", "3,000", "4,000"]),
        (2.4244e8, 2.4278e8, "usd", ["$242.4M", "$242.5M", "$242.6M", "$242.7M", "$242.8M"]),
    ],
)
def test_axis_ticks_are_round_and_written_as_the_page_writes(low, high, kind, expected):
    ticks = nice_ticks(low, high, whole=kind == "integer")
    assert ticks[0] <= low and ticks[-1] >= high
    labels = tick_labels(ticks, kind)
    assert labels == expected
    assert len(set(labels)) == len(labels)


def test_ticks_finer_than_the_format_get_the_digits_that_tell_them_apart():
    ticks = [1.000_010e6, 1.000_020e6, 1.000_030e6]
    labels = tick_labels(ticks, "usd")
    assert len(set(labels)) == 3  # '$1.00M' three times would say nothing
