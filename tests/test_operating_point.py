"""`fleetopt perf --rack-type R --model M --isl I --osl O [--user-tps U] --json`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fleetopt.catalog import measured, operating_point, perf
from fleetopt.cli.catalog import perf_command


def _query(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(perf_command, list(args))
    return result.exit_code, result.output


def test_query_for_a_measured_point_returns_that_measurement():
    code, out = _query(
        "--rack-type", "gb200-nvl72", "--model", "deepseek-r1",
        "--isl", "8192", "--osl", "1024", "--user-tps", "30", "--json",
    )  # fmt: skip
    assert code == 0, out
    got = json.loads(out)
    table = measured.load_measured()
    rows = table[
        (table["hardware"] == "gb200")
        & (table["isl"] == 8192)
        & (table["osl"] == 1024)
        & (table["spec_method"] == "none")
        & (table["user_tps"] >= 30)
    ]
    best = rows.loc[rows["output_tps_per_gpu"].idxmax()]
    assert got["source"] == "measured"
    assert got["run_url"] == best["run_url"] and got["date"] == best["date"]
    assert got["output_tps_per_gpu"] == pytest.approx(best["output_tps_per_gpu"])
    assert got["input_tps_per_gpu"] == pytest.approx(best["input_tps_per_gpu"])
    assert got["user_tps"] == pytest.approx(best["user_tps"]) and got["user_tps"] >= 30
    assert got["gpus"] == best["gpus"] == got["prefill_gpus"] + got["decode_gpus"]
    # Without --user-tps: the measured point of most throughput.
    code, out = _query(
        "--rack-type", "gb200-nvl72", "--model", "deepseek-r1", "--isl", "8192", "--osl", "1024",
        "--json",
    )  # fmt: skip
    top = table.loc[
        table[
            (table["hardware"] == "gb200")
            & (table["isl"] == 8192)
            & (table["osl"] == 1024)
            & (table["spec_method"] == "none")
        ]["output_tps_per_gpu"].idxmax()
    ]
    assert json.loads(out)["output_tps_per_gpu"] == pytest.approx(top["output_tps_per_gpu"])


def test_model_estimate_blends_prefill_and_decode_on_the_same_gpus():
    code, out = _query(
        "--rack-type", "vr-nvl72", "--model", "deepseek-r1",
        "--isl", "8192", "--osl", "1024", "--user-tps", "50", "--json",
    )  # fmt: skip
    assert code == 0, out
    got = json.loads(out)
    assert got["source"] == "model"
    r = 8192 / 1024
    blended = 1 / (1 / got["decode_tps_per_gpu"] + r / got["prefill_tps_per_gpu"])
    assert got["output_tps_per_gpu"] == pytest.approx(blended, rel=1e-12)
    assert got["input_tps_per_gpu"] == pytest.approx(r * got["output_tps_per_gpu"], rel=1e-12)
    assert got["user_tps"] >= 50
    # The chosen instance runs the largest batch meeting 50 tok/s/user: one more user
    # would break it.
    cat = perf.load_catalog()
    keys = pd.DataFrame([{"model": "deepseek-r1", "isl": 8192, "osl": 1024}])
    variant = operating_point.served_variants(cat.models, keys).drop(columns="model")
    opts = perf.instance_options(
        cat.specs[cat.specs["rack_type"] == "vr-nvl72"],
        variant.rename(columns={"variant": "model"}),
    )
    one = opts[opts["g"] == got["gpus"]]
    assert 1 / perf.step_time_s(one, got["batch"])[0] >= 50
    assert 1 / perf.step_time_s(one, got["batch"] + 1)[0] < 50


def test_longer_prompts_cost_throughput_per_gpu():
    cat = perf.load_catalog()
    queries = pd.DataFrame(
        [
            {"rack_type": "mi400-helios", "model": "deepseek-r1", "isl": isl, "osl": 1024,
             "user_tps": 30.0}
            for isl in (1024, 8192, 32768)
        ]
    )  # fmt: skip
    est = operating_point.model_estimates(cat.specs, cat.models, queries)
    assert np.all(np.diff(est["output_tps_per_gpu"].to_numpy()) < 0)
    assert np.all(np.diff(est["prefill_tps_per_gpu"].to_numpy()) < 0)
    assert (est["user_tps"] >= 30).all()


def test_bad_query_input_exits_2_naming_the_valid_choices():
    base = ["--model", "deepseek-r1", "--isl", "1024", "--osl", "1024", "--json"]
    code, out = _query("--rack-type", "hgx-h300", *base)
    assert code == 2 and "unknown rack type(s): hgx-h300" in out and "vr-nvl72" in out
    code, out = _query("--rack-type", "vr-nvl72", "--model", "gpt-5", "--isl", "1", "--osl", "1")
    assert code == 2 and "unknown model(s): gpt-5" in out and "llama-3.3-70b" in out
    code, out = _query("--rack-type", "vr-nvl72", "--model", "deepseek-r1", "--isl", "0")
    assert code == 2 and "'--isl': 0 is not in the range x>=1" in out
    code, out = _query("--rack-type", "vr-nvl72", *base[:4], "--user-tps", "-5")
    assert code == 2 and "--user-tps" in out
    code, out = _query("--rack-type", "vr-nvl72", "--model", "deepseek-r1", "--isl", "1024")
    assert code == 2 and "needs exactly one --rack-type" in out and "groq3-lpx" in out
    code, out = _query("--rack-type", "vr-nvl72", *base[:6], "--user-tps", "5000")
    assert code == 2 and "valid --user-tps: (0, " in out
    assert "Traceback" not in out
