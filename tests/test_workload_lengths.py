"""Context length and precision as workload inputs: workloads.csv and throughput.csv may
give isl, osl and precision; a workload uses the throughput rows of its own (model, isl,
osl, precision), so a 32k-context workload is planned on its own lower figures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from fleetopt.catalog import measured, perf
from fleetopt.cli.catalog import perf_command
from fleetopt.cli.main import main
from fleetopt.core.errors import CaseError
from fleetopt.io.case import read_case
from fleetopt.model.index import build_index
from fleetopt.pipelines.plan import plan_case
from fleetopt.testing.casekit import decode, prefill, rack, site, workload, write_case

SECONDS_PER_YEAR = 31_536_000


def problems(folder: Path) -> list[str]:
    with pytest.raises(CaseError) as err:
        read_case(folder)
    return [str(p) for p in err.value.problems]


def test_isl_and_osl_go_together_and_precision_is_a_known_format(tmp_path: Path):
    folder = write_case(
        tmp_path,
        workloads=[workload(isl=32768), workload(workload="w2", osl=1024, precision="fp6")],
        throughput=[prefill(), decode(), decode(user_tps=20, isl=4096)],
    )
    assert problems(folder) == [
        "workloads.csv row 1 (workload=w1), osl: must not be blank when isl is given (isl and "
        "osl go together)",
        "workloads.csv row 2 (workload=w2), precision: must be one of fp8, fp4; got 'fp6'",
        "workloads.csv row 2 (workload=w2), isl: must not be blank when osl is given (isl and "
        "osl go together)",
        "throughput.csv row 3 (rack_type=r1, model=m1, phase=decode), osl: must not be blank "
        "when isl is given (isl and osl go together)",
    ]


def test_a_workload_needs_rows_at_its_own_lengths_and_precision(tmp_path: Path):
    # Rows at the catalog's lengths do not serve a 32k-context workload: no silent fallback.
    folder = write_case(
        tmp_path,
        workloads=[workload(isl=32768, osl=1024), workload(workload="w2", precision="fp4")],
    )
    assert problems(folder) == [
        "workloads.csv row 1 (workload=w1), model: no row in throughput.csv for model 'm1' at "
        "isl 32768, osl 1024, precision blank: a workload uses the rows with its own isl, osl "
        "and precision",
        "workloads.csv row 2 (workload=w2), model: no row in throughput.csv for model 'm1' at "
        "blank isl/osl, precision fp4: a workload uses the rows with its own isl, osl and "
        "precision",
    ]


def test_each_workload_takes_the_rows_of_its_serving_key(tmp_path: Path):
    # Two workloads of one model: chat at the rows' blank (catalog) lengths, 20,000 decode
    # tokens/s per rack; a 32k-context agent with its own rows, 5,000. Each needs 10,000
    # decode tokens/s: 0.5 rack-equivalents for chat, 2 for the agent; the plan buys
    # ceil(2.5) = 3 racks.
    long = {"isl": 32768, "osl": 1024}
    folder = write_case(
        tmp_path,
        racks=[rack(capex_usd=1_000_000, power_kw=100, idle_power_frac=0)],
        sites=[site(power_cap_mw=100, energy_usd_per_mwh=0)],
        workloads=[
            workload(workload="chat", prefill_tokens_per_s=0, decode_tokens_per_s=10_000),
            workload(workload="agent", prefill_tokens_per_s=0, decode_tokens_per_s=10_000, **long),
        ],
        throughput=[decode(tokens_per_s=20_000), decode(tokens_per_s=5_000, **long)],
        config={"unmet_penalty_usd_per_mtok": 1000.0},
    )
    case = read_case(folder)
    index = build_index(case)
    tp = index.y.groupby("w")["tp_tokens_per_s"].first().to_dict()
    names = case.workloads["workload"].tolist()
    assert {names[w]: v for w, v in tp.items()} == {"chat": 20_000, "agent": 5_000}
    outcome = plan_case(case)
    assert outcome.summary.status == "optimal"
    assert int(outcome.tables.racks["count"].sum()) == 3


def test_a_case_without_the_columns_keys_by_model_alone(tmp_path: Path):
    # v1: no isl/osl/precision anywhere; blank matches blank, every row of the model serves.
    folder = write_case(tmp_path, throughput=[prefill(), decode(), decode(user_tps=100)])
    case = read_case(folder)
    assert case.workloads[["isl", "osl"]].isna().all().all()
    assert len(build_index(case).y) == 2  # prefill and decode of w1 on r1 at s1


def test_perf_writes_rows_for_every_workload_key(tmp_path: Path):
    # `fleetopt perf --workloads case/workloads.csv --out case/throughput.csv`: the rows of
    # each distinct (model, isl, osl, precision), estimated at those lengths; a workload
    # without lengths gets the catalog's own rows (blank key).
    workloads = tmp_path / "workloads.csv"
    demand = {"prefill_tokens_per_s": 1e6, "decode_tokens_per_s": 1e5}
    pd.DataFrame(
        [
            {"workload": "chat", "model": "llama-3.3-70b", "isl": "", "osl": "", "precision": ""},
            {"workload": "rag", "model": "llama-3.3-70b", "isl": 32768, "osl": 1024,
             "precision": ""},
            {"workload": "fp4", "model": "llama-3.3-70b", "isl": 32768, "osl": 1024,
             "precision": "fp4"},
        ]
    ).assign(**demand).to_csv(workloads, index=False)  # fmt: skip
    out = tmp_path / "throughput.csv"
    args = ["--workloads", str(workloads), "--rack-type", "gb200-nvl72", "--out", str(out)]
    result = CliRunner().invoke(perf_command, args)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# generator: fleetopt perf\n")  # its mark, line 1
    rows = pd.read_csv(out, skiprows=1, keep_default_na=False, na_values=[""])
    assert list(rows.columns) == [*perf.THROUGHPUT_COLUMNS, *perf.KEY_COLUMNS]
    keys = rows[["isl", "osl", "precision"]].astype(object).fillna("").drop_duplicates()
    assert sorted(map(tuple, keys.astype(str).to_numpy())) == [
        ("", "", ""),
        ("32768.0", "1024.0", ""),
        ("32768.0", "1024.0", "fp4"),
    ]
    generic = rows[rows["isl"].isna()]
    catalog = measured.catalog_throughput()
    catalog = catalog[
        (catalog["rack_type"] == "gb200-nvl72") & (catalog["model"] == "llama-3.3-70b")
    ]
    assert generic["tokens_per_s"].tolist() == pytest.approx(catalog["tokens_per_s"].tolist())
    long = rows[rows["isl"].notna() & rows["precision"].isna()]
    dec = long[long["phase"] == "decode"]
    assert dec["tokens_per_s"].max() < generic[generic["phase"] == "decode"]["tokens_per_s"].max()
    # A bad file: read as a case reads workloads.csv, every problem at once, exit 2; then
    # models the catalog lacks and a length without the other, at once.
    for cells, texts in (
        ({"isl": "1k", "osl": "", "precision": "int3"},
         ("must be a number, got '1k'", "must be one of fp8, fp4; got 'int3'")),
        ({"model": "gpt-9", "isl": 1024, "osl": ""},
         ("unknown model 'gpt-9'", "isl and osl go together")),
    ):  # fmt: skip
        bad = tmp_path / "bad.csv"
        pd.DataFrame([{"workload": "w", "model": "llama-3.3-70b", **demand, **cells}]).to_csv(
            bad, index=False
        )
        result = CliRunner().invoke(main, ["perf", "--workloads", str(bad)])
        assert result.exit_code == 2, result.output
        for text in texts:
            assert text in result.output, text
    assert "Traceback" not in result.output


def test_a_query_prints_rack_figures_and_writes_its_rows(tmp_path: Path):
    out = tmp_path / "rows.csv"
    args = ["--rack-type", "hgx-h200", "--model", "llama-3.3-70b", "--isl", "32768",
            "--osl", "1024", "--json", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(perf_command, args)
    assert result.exit_code == 0, result.output
    head, tail = result.output.rsplit("}", 1)
    got = json.loads(head + "}")
    assert got["output_tps_per_rack"] == pytest.approx(
        got["output_tps_per_gpu"] * got["gpus_per_rack"]
    )
    assert (
        got["gpus_per_rack"] == 32
        and got["output_tps_per_rack"] <= got["roofline_output_tps_per_rack"]
    )
    assert "wrote" in tail and str(out) in tail
    rows = pd.read_csv(out, skiprows=1)
    assert set(rows["rack_type"]) == {"hgx-h200"} and (rows["isl"] == 32768).all()
