"""Throughput sigmas of the catalog's rack types, derived from the calibration's errors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fleetopt.catalog.calibration import committed_calibration, summary_table
from fleetopt.catalog.example import EXAMPLE_DIR
from fleetopt.catalog.perf import load_catalog
from fleetopt.catalog.uncertainty import load_throughput_sigmas, throughput_sigmas

MEASURED = {"hgx-h100", "hgx-h200", "gb200-nvl72", "gb300-nvl72", "mi355x-rack"}
CARRIED = {"vr-nvl72", "mi400-helios"}
ESTIMATED = {"groq3-lpx", "cerebras-cs3", "vera-cpu-rack"}


def test_committed_sigmas_are_what_the_calibration_gives():
    pd.testing.assert_frame_equal(load_throughput_sigmas(), throughput_sigmas())


def test_every_rack_type_has_one_sigma_on_its_basis():
    table = load_throughput_sigmas()
    assert sorted(table["rack_type"]) == sorted(load_catalog().racks["rack_type"])
    basis = table.groupby("basis")["rack_type"].apply(set).to_dict()
    assert basis == {"measured": MEASURED, "carried": CARRIED, "estimated": ESTIMATED}
    sigma = table.groupby("basis")["throughput_sigma"]
    # An unmeasured rack is less certain than any measured one, and one without a family
    # fit less certain than one carrying a fit.
    assert sigma.max()["measured"] < sigma.min()["carried"]
    assert sigma.max()["carried"] < sigma.min()["estimated"]
    assert table["source"].str.len().gt(40).all()


def test_measured_sigma_is_the_calibration_error_of_its_hardware():
    # The RMS log error of all a hardware's points, pooled from the report's per-split rows.
    summary = summary_table(committed_calibration())
    summary = summary[summary["rack_type"] != ""]
    pooled = summary.groupby("rack_type").apply(
        lambda g: float(np.sqrt((g["points"] * g["rms_log_error"] ** 2).sum() / g["points"].sum())),
        include_groups=False,
    )
    table = load_throughput_sigmas().set_index("rack_type")["throughput_sigma"]
    for rack, sigma in pooled.items():
        assert table[rack] == round(sigma, 3)


def test_the_example_carries_the_catalog_sigmas():
    racks = pd.read_csv(EXAMPLE_DIR / "racks.csv").set_index("rack_type")["throughput_sigma"]
    table = load_throughput_sigmas().set_index("rack_type")["throughput_sigma"]
    pd.testing.assert_series_equal(racks, table.reindex(racks.index))
