"""The roofline performance model and the bundled catalog.

The hand-worked numbers use a toy rack whose figures make the arithmetic short:
8 accelerators per rack, each 100 GB at 1 TB/s and 1 PFLOP/s FP8, one scale-up domain of 8,
all efficiencies 1 except prefill 0.5, per-layer latency 7 us, collectives 5 us; and a toy
dense model of 10B parameters at 1 byte, 10 layers, 2 collectives per layer, KV 100 kB per
token at 1,000 tokens of context (100 MB = 1e8 bytes per user), no attention FLOPs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetopt.catalog import measured, perf
from fleetopt.cli.catalog import perf_command
from fleetopt.core.errors import CaseError
from fleetopt.io.schema import RACKS, THROUGHPUT

TOY_SPEC = {
    "rack_type": "toy",
    "accelerator": "toy accelerator",
    "accelerators_per_rack": 8,
    "fp8_pflops_per_rack": 8.0,
    "fp4_pflops_per_rack": np.nan,
    "mem_kind": "hbm",
    "mem_gb_per_rack": 800.0,
    "mem_tb_per_s_per_rack": 8.0,
    "scaleup_accelerators": 8,
    "max_instance_accelerators": 8,
    "min_weight_bytes_per_param": 0.5,
    "mem_bw_efficiency": 1.0,
    "prefill_compute_efficiency": 0.5,
    "decode_compute_efficiency": 1.0,
    "mem_usable_frac": 1.0,
    "layer_latency_us": 7.0,
    "collective_latency_us": 5.0,
    "overlap": 0.0,
    "moe_prefill_compute_efficiency": 0.5,
    "moe_decode_compute_efficiency": 1.0,
    "moe_layer_latency_us": 17.0,
    "moe_layer_latency_per_doubling_us": 0.0,
    "perf_arch": "",
    "source": "test",
}
TOY_MODEL = {
    "model": "toy-10b",
    "params_billion": 10.0,
    "active_params_billion": 10.0,
    "weight_bytes_per_param": 1.0,
    "compute_precision": "fp8",
    "layers": 10,
    "collectives_per_layer": 2,
    "kv_bytes_per_token": 100_000,
    "attn_flops_per_ctx_token": 0.0,
    "prefill_attn_flops_per_ctx_token": 0.0,
    "avg_context_tokens": 1000,
    "max_context_tokens": 8192,
    "source": "test",
}


def specs(**changes) -> pd.DataFrame:
    return pd.DataFrame([{**TOY_SPEC, **changes}])


def models(**changes) -> pd.DataFrame:
    return pd.DataFrame([{**TOY_MODEL, **changes}])


# --- hand-worked toy rack ------------------------------------------------------------


def test_memory_bound_batch_limits_by_instance_size():
    # max_batch = (g x 100 GB - 10 GB weights) / 100 MB per user
    #   g=1: 90 GB / 0.1 GB = 900;  g=2: 1,900;  g=4: 3,900;  g=8: 7,900
    opts = perf.instance_options(specs(), models()).set_index("g")
    assert opts["max_batch"].to_dict() == {1: 900, 2: 1900, 4: 3900, 8: 7900}
    # Instances per rack: 8 / g inside the one domain of 8.
    assert opts["instances_per_rack"].to_dict() == {1: 8, 2: 4, 4: 2, 8: 1}


def test_model_that_does_not_fit_gets_no_instance_and_no_rows():
    # 900B params at 1 byte = 900 GB > 800 GB in the rack: no instance, no throughput row.
    assert perf.instance_options(specs(), models(params_billion=900.0)).empty
    big = models(model="huge", params_billion=900.0, active_params_billion=900.0)
    assert perf.estimate_throughput(specs(), big).empty


def test_step_time_hand_worked():
    # g=8, B=1: floor 10 layers x (7 + 2 x 5) us = 170 us; memory (10 GB + 0.1 GB) / 8 TB/s
    # = 1.2625 ms; compute 20 GFLOP / 8 PFLOP/s = 2.5 us. Step = 1.4325 ms.
    opts = perf.instance_options(specs(), models())
    one = opts[opts["g"] == 8]
    assert perf.step_time_s(one, 1.0)[0] == pytest.approx(1.4325e-3, rel=1e-12)
    # g=1 has no collectives: floor 70 us + (10.1 GB / 1 TB/s) = 10.17 ms.
    g1 = opts[opts["g"] == 1]
    assert perf.step_time_s(g1, 1.0)[0] == pytest.approx(10.17e-3, rel=1e-12)


def test_decode_point_hand_worked_at_50_tokens_per_user():
    # Target 50 tok/s/user: step <= 20 ms.
    # g=8: 0.17 + 1.25 + B x 0.0125 ms <= 20  ->  B = 1,486, step 19.995 ms,
    #      tokens = 1 instance x 1,486 / 0.019995 s = 74,318.58 tok/s per rack.
    # g=4: 0.17 + 2.5 + B x 0.025 ms <= 20 -> B = 693 -> 2 x 693 / 0.019995 = 69,317.3 (less).
    pts = perf.decode_points(specs(), models(), user_tps_points=[50])
    row = pts[pts["user_tps"] == 50].iloc[0]
    assert row["instance_accelerators"] == 8
    assert row["batch"] == 1486
    assert row["tokens_per_s"] == pytest.approx(1486 / 0.019995, rel=1e-9)
    assert row["bound"] == "bandwidth"


def test_decode_point_kv_capacity_bound_at_low_speed():
    # Target 5 tok/s/user: step <= 200 ms would allow B = 15,886 at g=8, but only 7,900 users'
    # KV fit: step = 0.17 + 1.25 + 7,900 x 0.0125 = 100.17 ms -> 7,900 / 0.10017 = 78,866.9.
    pts = perf.decode_points(specs(), models(), user_tps_points=[5])
    row = pts[pts["user_tps"] == 5].iloc[0]
    assert row["batch"] == 7900
    assert row["bound"] == "kv-capacity"
    assert row["tokens_per_s"] == pytest.approx(7900 / 0.10017, rel=1e-9)


def test_max_user_tps_and_its_row():
    # Fastest: g=8 at batch 1, 1 / 1.4325 ms = 698.08 tok/s; a row at floor(698.08) = 698.
    fastest = perf.max_user_tps(specs(), models()).iloc[0]
    assert fastest["max_user_tps"] == pytest.approx(1 / 1.4325e-3)
    assert fastest["instance_accelerators"] == 8
    rows = perf.estimate_throughput(specs(), models(), user_tps_points=[50, 1000])
    decode = rows[rows["phase"] == "decode"]
    assert decode["user_tps"].tolist() == [50, 698]  # 1,000 is out of reach: no row


def test_prefill_hand_worked():
    # 8 PFLOP/s x 0.5 / (2 x 10e9 FLOPs per token) = 200,000 tokens/s per rack.
    # TTFT: 1,000 tokens x 20 GFLOP / (8 x 1 PFLOP/s x 0.5) = 5 ms + 0.17 ms floor = 5.17 ms.
    row = perf.prefill_points(specs(), models()).iloc[0]
    assert row["tokens_per_s"] == pytest.approx(200_000)
    assert row["ttft_ms"] == pytest.approx(5.17)


def test_fp4_compute_only_where_the_rack_has_it():
    # The same model in FP4 on a rack with 16 PFLOP/s FP4 prefills twice as fast.
    fp4 = perf.prefill_points(specs(fp4_pflops_per_rack=16.0), models(compute_precision="fp4"))
    assert fp4.iloc[0]["tokens_per_s"] == pytest.approx(400_000)
    no_fp4 = perf.prefill_points(specs(), models(compute_precision="fp4"))
    assert no_fp4.iloc[0]["tokens_per_s"] == pytest.approx(200_000)


def test_moe_batch_touches_more_experts():
    # active share 0.1: one user reads 10% of the weights, two read 1 - 0.9^2 = 19%.
    opts = perf.instance_options(specs(), models(active_params_billion=1.0))
    g1 = opts[opts["g"] == 1]
    # g=1: MoE floor 10 layers x 17 us + (10 GB x share + B x 0.1 GB) / 1 TB/s
    assert perf.step_time_s(g1, 1.0)[0] == pytest.approx(170e-6 + (1.0e9 + 0.1e9) / 1e12)
    assert perf.step_time_s(g1, 2.0)[0] == pytest.approx(170e-6 + (1.9e9 + 0.2e9) / 1e12)


def test_moe_step_cost_grows_with_the_instance():
    # MoE floor per layer = base + per-doubling x log2(g): 20 + 10 x log2(g) us, 10 layers.
    s = specs(moe_layer_latency_us=20.0, moe_layer_latency_per_doubling_us=10.0)
    opts = perf.instance_options(s, models(active_params_billion=1.0)).set_index("g")
    floors = opts["step_floor_s"].to_dict()
    assert floors == pytest.approx({1: 200e-6, 2: 300e-6, 4: 400e-6, 8: 500e-6})
    # A dense model keeps its per-layer latency and collectives: 10 x (7 + 2 x 5) us at g=8.
    dense = perf.instance_options(s, models()).set_index("g")["step_floor_s"]
    assert dense[8] == pytest.approx(170e-6) and dense[1] == pytest.approx(70e-6)


def test_overlap_adds_the_shorter_of_memory_and_compute():
    # g=8, B=1000: memory (10 GB + 1000 x 0.1 GB) / 8 TB/s = 13.75 ms; compute
    # 1000 x 20 GFLOP / 8 PFLOP/s = 2.5 ms. Overlap 0: 0.17 + 13.75; 1: + 2.5; 0.5: + 1.25.
    for overlap, extra in ((0.0, 0.0), (0.5, 1.25e-3), (1.0, 2.5e-3)):
        opts = perf.instance_options(specs(overlap=overlap), models())
        one = opts[opts["g"] == 8]
        assert perf.step_time_s(one, 1000.0)[0] == pytest.approx(0.17e-3 + 13.75e-3 + extra)


def test_moe_models_use_the_moe_efficiencies():
    # Prefill: 8 PFLOP/s x 0.1 / (2 x 1e9 FLOPs per token) = 400,000 tokens/s per rack for a
    # MoE model with 1B active params at MoE prefill efficiency 0.1; a prompt token also
    # attends to half the prompt at prefill_attn_flops_per_ctx_token (1e6 x 500 = 0.5 GFLOP).
    s = specs(moe_prefill_compute_efficiency=0.1)
    row = perf.prefill_points(s, models(active_params_billion=1.0)).iloc[0]
    assert row["tokens_per_s"] == pytest.approx(400_000)
    attn = models(active_params_billion=1.0, prefill_attn_flops_per_ctx_token=1e6)
    row = perf.prefill_points(s, attn).iloc[0]
    assert row["tokens_per_s"] == pytest.approx(8e15 * 0.1 / 2.5e9)


def test_units_tokens_scale_with_rack_size():
    # Twice the accelerators per rack (two domains of 8): twice the tokens per rack.
    double = specs(accelerators_per_rack=16, fp8_pflops_per_rack=16.0, mem_gb_per_rack=1600.0)
    double["mem_tb_per_s_per_rack"] = 16.0
    one = perf.estimate_throughput(specs(), models())
    two = perf.estimate_throughput(double, models())
    assert np.allclose(two["tokens_per_s"], 2 * one["tokens_per_s"], rtol=1e-5)


def test_sram_instance_spans_racks_and_shares_throughput():
    # 4 chips of 1 GB per rack; a 10 GB model needs 10 chips -> instances of 16 chips
    # (4 racks; sizes beyond the domain of 4 are whole multiples of it, powers of two
    # inside). The same instance's tokens are shared by the 4 racks it spans.
    sram = specs(
        accelerators_per_rack=4,
        mem_kind="sram",
        mem_gb_per_rack=4.0,
        mem_tb_per_s_per_rack=400.0,
        fp8_pflops_per_rack=4.0,
        scaleup_accelerators=4,
        max_instance_accelerators=32,
    )
    opts = perf.instance_options(sram, models()).set_index("g")
    assert sorted(opts.index) == [12, 16, 20, 24, 28, 32]
    # g=12: 12 GB - 10 GB = 2 GB of KV -> 20 users; racks_per_instance 3.
    assert opts.loc[12, "max_batch"] == 20
    assert opts.loc[12, "instances_per_rack"] == pytest.approx(4 / 12)
    pts = perf.decode_points(sram, models(), user_tps_points=[5])
    row = pts.iloc[0]
    # KV-capacity bound: the largest instance holds the most users per rack.
    assert row["instance_accelerators"] == 32 and row["racks_per_instance"] == 8
    assert row["bound"] == "kv-capacity"
    per_instance = row["batch"] / perf.step_time_s(opts.loc[[32]].reset_index(), row["batch"])[0]
    assert row["tokens_per_s"] == pytest.approx(per_instance * 4 / 32)


def test_hbm_spans_domains_only_when_needed():
    # 8 x 100 GB holds a 10B model: no 16-accelerator instance even if allowed.
    opts = perf.instance_options(specs(max_instance_accelerators=16), models())
    assert opts["g"].max() == 8
    # A 1,000 GB model needs 2 domains: the smallest spanning size only.
    big = perf.instance_options(specs(max_instance_accelerators=32), models(params_billion=1000.0))
    assert big["g"].tolist() == [16]
    assert big["instances_per_rack"].iloc[0] == pytest.approx(0.5)
    # The rule looks at the weights alone: a context so long that one user's KV (800 GB)
    # does not fit next to the weights in a domain leaves no instance at all; it does not
    # open a spanning one (a longer context never adds options, so never throughput).
    long = perf.instance_options(
        specs(max_instance_accelerators=16), models(avg_context_tokens=8e6)
    )
    assert long.empty


# --- monotonicity ----------------------------------------------------------------------


def _assert_monotone(rows: pd.DataFrame) -> None:
    dec = rows[rows["phase"] == "decode"].sort_values(["rack_type", "model", "user_tps"])
    steps = dec.groupby(["rack_type", "model"])["tokens_per_s"].diff().dropna()
    assert (steps <= 1e-9).all(), "faster per-user decode must never give more tokens"


def test_catalog_curves_are_monotone():
    _assert_monotone(perf.load_catalog().throughput)


@settings(max_examples=40, deadline=None)
@given(
    bw=st.floats(1.0, 1e5),
    pflops=st.floats(0.1, 1e4),
    mem_gb=st.floats(50.0, 1e5),
    latency=st.floats(0.0, 50.0),
    active=st.floats(0.05, 1.0),
    ctx=st.integers(1, 200_000),
)
def test_random_racks_are_monotone(bw, pflops, mem_gb, latency, active, ctx):
    s = specs(
        mem_tb_per_s_per_rack=bw,
        fp8_pflops_per_rack=pflops,
        mem_gb_per_rack=mem_gb,
        layer_latency_us=latency,
    )
    m = models(active_params_billion=10.0 * active, avg_context_tokens=ctx)
    rows = perf.estimate_throughput(s, m)
    _assert_monotone(rows)
    assert (rows["tokens_per_s"] > 0).all()


# --- measured rows -------------------------------------------------------------------


def test_measured_rows_replace_the_estimated_curve():
    est = perf.estimate_throughput(specs(), models())
    measured = pd.DataFrame(
        {
            "rack_type": ["toy", "toy"],
            "model": ["toy-10b", "toy-10b"],
            "phase": ["decode", "decode"],
            "tokens_per_s": [50_000.0, 20_000.0],
            "user_tps": [40.0, 200.0],
            "source": ["lab run 2026-03", None],
        }
    )
    merged = perf.merge_measured(est, measured)
    dec = merged[merged["phase"] == "decode"]
    assert dec["tokens_per_s"].tolist() == [50_000.0, 20_000.0]  # no estimated point left
    assert dec["source"].tolist() == ["lab run 2026-03", "measured"]
    # The prefill curve has no measured row: the estimate stays.
    pre = merged[merged["phase"] == "prefill"]
    assert len(pre) == 1 and pre["source"].iloc[0].startswith("estimate:")
    assert list(merged.columns) == list(perf.THROUGHPUT_COLUMNS)


def test_perf_command_with_measured_and_out(tmp_path: Path):
    measured = tmp_path / "measured.csv"
    pd.DataFrame(
        [
            {
                "rack_type": "groq3-lpx",
                "model": "llama-3.3-70b",
                "phase": "decode",
                "tokens_per_s": 12345.0,
                "user_tps": 600.0,
                "source": "measured: test",
            }
        ]
    ).to_csv(measured, index=False)
    out = tmp_path / "tp.csv"
    args = ["--model", "llama-3.3-70b", "--rack-type", "groq3-lpx", "--rack-type", "vr-nvl72"]
    result = CliRunner().invoke(perf_command, [*args, "--measured", str(measured), "--out", out])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# generator: fleetopt perf\n")  # its mark, line 1
    rows = pd.read_csv(out, skiprows=1)
    assert set(rows["rack_type"]) == {"groq3-lpx", "vr-nvl72"}
    lpx = rows[(rows["rack_type"] == "groq3-lpx") & (rows["phase"] == "decode")]
    assert lpx["tokens_per_s"].tolist() == [12345.0]
    shown = CliRunner().invoke(perf_command, ["--model", "llama-3.1-8b"])
    assert shown.exit_code == 0 and "vera-cpu-rack" in shown.output
    bad = CliRunner().invoke(perf_command, ["--model", "no-such-model"])
    assert bad.exit_code != 0 and "unknown model" in bad.output


# --- the bundled catalog ---------------------------------------------------------------

REQUIRED_SYSTEMS = {
    "vr-nvl72": "gpu",
    "gb300-nvl72": "gpu",
    "gb200-nvl72": "gpu",
    "hgx-h100": "gpu",
    "groq3-lpx": "lpu",
    "vera-cpu-rack": "cpu",
    "cerebras-cs3": "wafer",
    "mi355x-rack": "gpu",
    "mi400-helios": "gpu",
}


def test_catalog_has_every_required_system():
    cat = perf.load_catalog()
    kinds = cat.racks.set_index("rack_type")["kind"]
    for rack_type, kind in REQUIRED_SYSTEMS.items():
        assert kinds.get(rack_type) == kind, rack_type
    assert set(cat.specs["rack_type"]) == set(cat.racks["rack_type"])
    # Every rack type can serve at least one model, both phases.
    phases = cat.throughput.groupby("rack_type")["phase"].nunique()
    assert (phases.reindex(cat.racks["rack_type"]) == 2).all()


def test_catalog_seed_figures():
    s = perf.load_catalog().specs.set_index("rack_type")
    vr, lpx = s.loc["vr-nvl72"], s.loc["groq3-lpx"]
    assert vr["accelerators_per_rack"] == 72 and vr["fp4_pflops_per_rack"] == 3600
    assert vr["mem_gb_per_rack"] == 72 * 288 and vr["mem_tb_per_s_per_rack"] == 72 * 22
    assert lpx["accelerators_per_rack"] == 256 and lpx["mem_gb_per_rack"] == 128
    assert lpx["mem_tb_per_s_per_rack"] == 40_000 and lpx["mem_kind"] == "sram"


@pytest.mark.parametrize("table", ["racks", "specs", "models", "throughput"])
def test_every_catalog_row_has_a_source(table: str):
    frame = getattr(perf.load_catalog(), table)
    assert "source" in frame.columns
    sources = frame["source"]
    assert sources.notna().all()
    assert (sources.astype(str).str.strip().str.len() > 10).all()


def test_catalog_columns():
    cat = perf.load_catalog()
    # The catalog holds each rack type's own figures: throughput_sigma is derived from the
    # calibration (throughput_sigma.csv) and the roadmap columns after it are a case's
    # planning assumptions (the example's are in fleetopt.catalog.example).
    own = RACKS.names.index("throughput_sigma")
    assert list(cat.racks.columns) == [*RACKS.names[:own], "source"]
    assert RACKS.names[own - 1] == "max_count"
    assert list(cat.specs.columns) == list(perf.SPEC_COLUMNS)
    assert list(cat.models.columns) == list(perf.MODEL_COLUMNS)
    # The catalog's rows are at its models' own lengths: no serving-key columns (isl, osl,
    # precision), which rows at a workload's lengths carry (fleetopt perf --workloads).
    assert list(cat.throughput.columns) == [*perf.THROUGHPUT_COLUMNS]
    assert [*perf.THROUGHPUT_COLUMNS, *perf.KEY_COLUMNS] == list(THROUGHPUT.names)
    # Estimates say so; measured rows name their run.
    sources = cat.throughput["source"]
    assert (sources.str.startswith("estimate:") | sources.str.startswith("measured:")).all()
    assert cat.racks["source"].str.startswith("estimate:").all()
    assert set(cat.models["compute_precision"]) <= {"fp8", "fp4"}
    assert set(cat.specs["mem_kind"]) <= {"hbm", "sram", "dram"}


def test_catalog_throughput_is_what_the_model_derives():
    committed = perf.load_catalog().throughput
    derived = measured.catalog_throughput()
    pd.testing.assert_frame_equal(
        committed.reset_index(drop=True), derived.reset_index(drop=True), check_dtype=False
    )


def test_lpx_is_fastest_per_user_and_cpu_slowest():
    fastest = perf.max_user_tps(*_specs_models()).pivot(
        index="rack_type", columns="model", values="max_user_tps"
    )
    for model in ("llama-3.3-70b", "deepseek-r1"):
        col = fastest[model].dropna()
        assert col.idxmax() == "groq3-lpx"
        assert col.idxmin() == "vera-cpu-rack"
        assert math.isfinite(col.max())


def test_catalog_doc_lists_every_rack_and_model():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "catalog.md").read_text()
    cat = perf.load_catalog()
    for name in [*cat.racks["rack_type"], *cat.models["model"]]:
        assert f"`{name}`" in doc, name


def _specs_models() -> tuple[pd.DataFrame, pd.DataFrame]:
    cat = perf.load_catalog()
    return cat.specs, cat.models


# --- physical bounds on the whole catalog ------------------------------------------------

_CATALOG = perf.load_catalog()
_LENGTHS = st.integers(1, 131_072)


def _keys(isl: int, osl: int, precision: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"model": _CATALOG.models["model"], "isl": float(isl), "osl": float(osl),
         "precision": precision}
    )  # fmt: skip


def _variants(keys: pd.DataFrame) -> pd.DataFrame:
    v = perf.served_variants(_CATALOG.models, keys)
    return v.drop(columns="model").rename(columns={"variant": "model"})


def _best_at(rows: pd.DataFrame, targets) -> pd.DataFrame:
    """Effective decode throughput per (rack type, model) at each per-user speed target:
    the best row at least that fast (docs/model.md section 1), 0 where none is."""
    dec = rows[rows["phase"] == "decode"]
    out = {}
    for u in targets:
        out[u] = dec[dec["user_tps"] >= u].groupby(["rack_type", "model"])["tokens_per_s"].max()
    return pd.DataFrame(out).fillna(0.0)


@settings(max_examples=12, deadline=None)
@given(isl=_LENGTHS, osl=st.integers(1, 32_768), precision=st.sampled_from(["", "fp8", "fp4"]))
def test_no_estimate_exceeds_the_roofline_of_its_hardware(isl, osl, precision):
    # Every rack type x model of the catalog, at random lengths and precision: decode and
    # prefill rows per rack stay under peak bandwidth, peak FLOP/s and the KV the memory
    # holds at that context (perf.roofline).
    keys = _keys(isl, osl, precision)
    rows = perf.estimate_throughput(_CATALOG.specs, _CATALOG.models, keys=keys)
    bound = perf.roofline(_CATALOG.specs, _variants(keys))
    bound["model"] = bound["model"].str.split("|").str[0]
    got = rows.merge(bound, on=["rack_type", "model"], how="left")
    assert got["decode_tokens_per_s"].notna().all()  # a pair with rows has a bound
    dec = got["phase"] == "decode"
    assert (got.loc[dec, "tokens_per_s"] <= got.loc[dec, "decode_tokens_per_s"] * (1 + 1e-12)).all()
    pre = ~dec
    assert (
        got.loc[pre, "tokens_per_s"] <= got.loc[pre, "prefill_tokens_per_s"] * (1 + 1e-12)
    ).all()


@settings(max_examples=10, deadline=None)
@given(
    isl=_LENGTHS,
    osl=st.integers(1, 32_768),
    more_in=st.integers(0, 65_536),
    more_out=st.integers(0, 16_384),
)
def test_throughput_never_rises_with_context_or_per_user_speed(isl, osl, more_in, more_out):
    # The same racks and models at a longer context: never more tokens at any per-user
    # speed target, never more prefill tokens; along each curve, a faster per-user speed
    # never gives more tokens.
    short = perf.estimate_throughput(_CATALOG.specs, _CATALOG.models, keys=_keys(isl, osl, ""))
    long = perf.estimate_throughput(
        _CATALOG.specs, _CATALOG.models, keys=_keys(isl + more_in, osl + more_out, "")
    )
    for rows in (short, long):
        _assert_monotone(rows)
    targets = perf.DEFAULT_USER_TPS_POINTS
    a, b = _best_at(short, targets), _best_at(long, targets)
    b = b.reindex(a.index, fill_value=0.0)
    assert b.index.equals(a.index) and (b.to_numpy() <= a.to_numpy() * (1 + 1e-12)).all()
    pre = ["rack_type", "model"]
    pa = short[short["phase"] == "prefill"].set_index(pre)["tokens_per_s"]
    pb = long[long["phase"] == "prefill"].set_index(pre)["tokens_per_s"].reindex(pa.index)
    assert (pb.fillna(0.0) <= pa * (1 + 1e-12)).all()


def test_online_throughput_is_at_most_the_offline_maximum():
    # Offline maximum: every instance option at the most users its memory holds, no
    # per-user speed asked (B / step(B) grows with B); every catalog row is at most that.
    opts = perf.instance_options(_CATALOG.specs, _CATALOG.models)
    offline = (
        opts["instances_per_rack"]
        * opts["max_batch"]
        / perf.step_time_s(opts, opts["max_batch"].to_numpy())
    )
    best = offline.groupby([opts["rack_type"], opts["model"]]).max().rename("offline")
    for rows in (_CATALOG.throughput, perf.estimate_throughput(_CATALOG.specs, _CATALOG.models)):
        dec = rows[rows["phase"] == "decode"]
        dec = dec[~dec["source"].str.startswith("measured:")]  # the model's rows
        got = dec.join(best, on=["rack_type", "model"])
        assert (got["tokens_per_s"] <= got["offline"] * (1 + 1e-12)).all()


def test_a_long_context_workload_gets_its_own_lower_figures():
    # Llama 3.3 70B on HGX H200 at 32k in / 1k out holds 33,280 tokens per user: four times
    # the catalog's 8,192, so fewer users fit and each step reads more KV. Every decode
    # target the long context still reaches gives fewer tokens; prefill too.
    h200 = _CATALOG.specs[_CATALOG.specs["rack_type"] == "hgx-h200"]
    llama = _CATALOG.models[_CATALOG.models["model"] == "llama-3.3-70b"]
    generic = perf.estimate_throughput(h200, llama)
    keys = pd.DataFrame([{"model": "llama-3.3-70b", "isl": 32768.0, "osl": 1024.0,
                          "precision": ""}])  # fmt: skip
    long = perf.estimate_throughput(h200, llama, keys=keys)
    assert (long[["isl", "osl"]].to_numpy() == [32768, 1024]).all()
    assert (long["precision"] == "").all() and long["model"].eq("llama-3.3-70b").all()
    g, lg = _best_at(generic, (5, 20, 50)), _best_at(long, (5, 20, 50))
    assert (lg.to_numpy() < g.to_numpy()).all()
    prefill = long[long["phase"] == "prefill"]
    assert (
        prefill["tokens_per_s"].iloc[0]
        < generic[generic["phase"] == "prefill"]["tokens_per_s"].iloc[0]
    )
    assert "TTFT of one 32768-token prompt" in prefill["source"].iloc[0]


def test_spec_parameters_outside_their_physical_range_are_refused(tmp_path: Path):
    # A share of peak above 1 would put estimates above the roofline: the catalog refuses it.
    assert perf.check_specs(_CATALOG.specs, "specs.csv") == []
    bad = _CATALOG.specs.astype({"overlap": float, "layer_latency_us": float})
    bad.loc[0, "mem_bw_efficiency"] = 1.2
    bad.loc[1, "overlap"] = -0.1
    bad.loc[2, "layer_latency_us"] = -5
    bad.loc[3, "fp8_pflops_per_rack"] = 0
    problems = [str(p) for p in perf.check_specs(bad, "specs.csv")]
    assert problems == [
        "specs.csv row 4, fp8_pflops_per_rack: expected > 0, got 0.0",
        "specs.csv row 1, mem_bw_efficiency: expected a share of peak in (0, 1], got 1.2",
        "specs.csv row 3, layer_latency_us: expected >= 0, got -5.0",
        "specs.csv row 2, overlap: expected in [0, 1], got -0.1",
    ]
    folder = tmp_path / "cat"
    folder.mkdir()
    for name in ("racks", "models"):
        getattr(_CATALOG, name).to_csv(folder / f"{name}.csv", index=False)
    bad.to_csv(folder / "specs.csv", index=False)
    with pytest.raises(CaseError) as err:
        perf.load_catalog(folder)
    assert "mem_bw_efficiency: expected a share of peak in (0, 1]" in str(err.value)
