"""The numbers behind every figure and table of the report, read from run folders only.

One function per figure: each takes a run's tables (pandas) or JSON and returns a small
table or dict, so the numbers are tested on their own, apart from the drawing. A table or
column that a run does not hold (an older run, a run kind that lacks it) gives None and
the page leaves that figure out, saying why.

Formats assumed for outputs still being built, used as soon as such folders exist:

- multi-period plans: a `period` column in racks, sites and placement; `orders.parquet`
  (period, site, rack_type, count: racks ordered in that period); `periods.parquet`
  (period, year). Without `year`, periods are labelled by their number.
- stochastic runs: run kind `stochastic`; `racks.parquet` (site, rack_type, count),
  `results.parquet` as a scenario run's, and `convergence.parquet` (iteration,
  lower_bound, upper_bound, gap) with one row per progressive-hedging iteration.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fleetopt.core.errors import RunFolderError
from fleetopt.io.runfolder import RUN_RECORD, SUCCESS_MARKER, is_complete, read_record
from fleetopt.scenarios.stats import QUANTILES, SOLVED, rack_type_summary, site_summary

REPORTABLE = ("plan", "sweep", "evaluate", "robust", "nightly", "stochastic")
COST_PARTS = ("capex", "opex", "energy", "penalty")
REPORT_STAGE = "report"  # the nightly stage that writes the report
Z_95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class Run:
    """A run folder as the report reads it: its record, its summary, its tables."""

    path: Path
    record: dict[str, Any]
    summary: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.record.get("kind") or self.summary.get("kind") or "")

    def table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
        """`name.parquet` (only those of `columns` it has), or None when absent."""
        path = self.path / f"{name}.parquet"
        if not path.is_file():
            return None
        if columns is not None:
            present = set(pq.read_schema(path).names)
            columns = [c for c in columns if c in present]
        return pd.read_parquet(path, columns=columns)

    def part(self, *names: str) -> Run | None:
        """A folder inside this run (a stage, a sub-run), or None when absent."""
        folder = self.path.joinpath(*names)
        if not folder.is_dir():
            return None
        return Run(folder, _json(folder / RUN_RECORD), _json(folder / "summary.json"))


def open_run(folder: str | Path, *, complete: bool = True) -> Run:
    """The run in `folder`; refuses (RunFolderError, exit 2) a folder that is not a run, a
    kind the report does not know, or, when `complete`, a run without `_SUCCESS`."""
    path = Path(folder)
    if not path.exists():
        raise RunFolderError(f"{path} does not exist: give a fleetopt run folder")
    if not path.is_dir():
        raise RunFolderError(f"{path} is a file, not a folder: give a fleetopt run folder")
    record = read_record(path)
    if record is None:
        raise RunFolderError(
            f"{path} is not a fleetopt run folder (no readable {RUN_RECORD}); nothing was written"
        )
    if record.kind not in REPORTABLE:
        raise RunFolderError(
            f"{path} holds a fleetopt {record.kind} run, which this version cannot report on"
        )
    if complete and not is_complete(path):
        reason = f": {record.reason}" if record.reason else ""
        raise RunFolderError(
            f"{path} is an incomplete {record.kind} run (status {record.status or 'unknown'}"
            f"{reason}; no {SUCCESS_MARKER}): finish or resume it first; nothing was written"
        )
    return Run(path, _json(path / RUN_RECORD), _json(path / "summary.json"))


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


RACK_TABLES = ("racks", "mix", "candidates", "placement", "orders")


def rack_types(run: Run) -> list[str]:
    """Every rack type any plan table in the run folder (and its sub-runs) names, sorted:
    one colour per rack type for the whole page."""
    names: set[str] = set()
    for path in sorted(run.path.rglob("*.parquet")):
        if path.stem in RACK_TABLES and "rack_type" in pq.read_schema(path).names:
            names.update(pd.read_parquet(path, columns=["rack_type"])["rack_type"].astype(str))
    return sorted(names)


# --- plans ------------------------------------------------------------------------------


def unmet_share(workloads: pd.DataFrame | None) -> float | None:
    """Share of demanded tokens left unserved, weighted by each workload's demand (as a
    scenario run's `unmet_share`); None without the demand column."""
    if workloads is None or "demand_tokens_per_s" not in workloads:
        return None
    demand = workloads["demand_tokens_per_s"].to_numpy(dtype=float)
    if demand.sum() <= 0:
        return 0.0
    return float((workloads["unmet_share"].to_numpy(dtype=float) * demand).sum() / demand.sum())


def plan_headline(summary: dict[str, Any], workloads: pd.DataFrame | None) -> dict[str, Any]:
    """The plan's headline figures: summary.json's, and the unmet share of tokens."""
    keys = (
        "status",
        "mip_gap",
        "cost_per_mtok_usd",
        "tokens_per_joule",
        "served_tokens_per_s",
        "fleet_cost_usd_per_year",
        "capex_cost_usd_per_year",
        "opex_cost_usd_per_year",
        "energy_cost_usd_per_year",
        "penalty_cost_usd_per_year",
    )
    return {**{k: summary.get(k) for k in keys}, "unmet_share": unmet_share(workloads)}


def cost_parts(summary: dict[str, Any]) -> pd.DataFrame | None:
    """Yearly cost by part (capex, opex, energy, penalty); None when the plan has no costs."""
    values = [summary.get(f"{part}_cost_usd_per_year") for part in COST_PARTS]
    if any(v is None for v in values):
        return None
    return pd.DataFrame({"part": COST_PARTS, "usd_per_year": np.asarray(values, dtype=float)})


def cost_by_site(sites: pd.DataFrame | None) -> pd.DataFrame | None:
    """Yearly capex, opex and energy cost per site (long: site, part, usd_per_year); None for
    a run whose sites table has no cost columns. The penalty belongs to no site."""
    columns = [f"{part}_cost_usd_per_year" for part in COST_PARTS[:3]]
    if sites is None or not set(columns) <= set(sites.columns):
        return None
    long = sites[["site", *columns]].melt("site", var_name="part", value_name="usd_per_year")
    long["part"] = long["part"].str.removesuffix("_cost_usd_per_year")
    return long.reset_index(drop=True)


def power_use(sites: pd.DataFrame) -> pd.DataFrame:
    """Per site: power of the powered racks at full load against the cap, the average
    draw, and floor slots used against the limit (NaN share where the floor is unlimited)."""
    out = sites[["site", "power_mw", "power_cap_mw", "avg_facility_mw"]].copy()
    out["power_share"] = out["power_mw"] / out["power_cap_mw"]
    if {"slots", "max_slots"} <= set(sites.columns):
        limit = sites["max_slots"].astype(float)
        limited = np.isfinite(limit) & (limit > 0)
        out["slots"] = sites["slots"].astype(float)
        out["max_slots"] = limit.where(limited)
        out["floor_share"] = (out["slots"] / limit).where(limited)
    return out.reset_index(drop=True)


def rack_mix(racks: pd.DataFrame) -> pd.DataFrame:
    """Per site and rack type: racks owned, of which installed and new."""
    out = racks[["site", "rack_type", "count"]].copy()
    out["installed"] = racks.get("installed", 0)
    out["new"] = out["count"] - out["installed"]
    return out[out["count"] > 0].reset_index(drop=True)


def placement_by_rack(placement: pd.DataFrame, points: pd.DataFrame | None) -> pd.DataFrame:
    """Rack-equivalents busy and tokens/s per workload, phase and rack type (summed over
    sites), with whether that operating point is an estimate (NA when not recorded)."""
    keys = ["workload", "phase", "rack_type"]
    out = placement.groupby(keys, as_index=False, sort=False)[["racks", "tokens_per_s"]].sum()
    if points is None:
        return out.assign(estimate=pd.NA)
    flags = points[[*keys, "estimate"]]
    return out.merge(flags, on=keys, how="left")


def estimate_flags(
    points: pd.DataFrame | None,
    placement: pd.DataFrame | None = None,
    racks: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """Per rack type of a plan: how many of the operating points it relies on are estimates.

    With a placement, the (rack type, workload, phase) points the plan uses; otherwise
    (a chosen robust plan) every point of the rack types it owns. None when the run does
    not record its operating points.
    """
    if points is None:
        return None
    keys = ["rack_type", "workload", "phase"]
    if placement is not None:
        used = points.merge(placement[keys].drop_duplicates(), on=keys)
    elif racks is not None:
        used = points[points["rack_type"].isin(racks.loc[racks["count"] > 0, "rack_type"])]
    else:
        used = points
    out = used.groupby("rack_type", as_index=False).agg(
        operating_points=("estimate", "size"), estimated=("estimate", "sum")
    )
    out["estimated"] = out["estimated"].astype(int)
    return out.sort_values(["estimated", "rack_type"], ascending=[False, True], ignore_index=True)


def workload_service(workloads: pd.DataFrame) -> pd.DataFrame:
    """Per workload: demand, served and unmet share, and the penalty its unmet part costs."""
    columns = ["workload", "demand_tokens_per_s", "served_share", "unmet_share"]
    columns += ["penalty_cost_usd_per_year"]
    return workloads[[c for c in columns if c in workloads]].reset_index(drop=True)


# --- multi-period plans -----------------------------------------------------------------


def is_multi_period(table: pd.DataFrame | None) -> bool:
    return table is not None and "period" in table.columns


def last_period(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of the last period of a multi-period table; the table itself otherwise."""
    if not is_multi_period(table):
        return table
    return table[table["period"] == table["period"].max()].reset_index(drop=True)


def order_schedule(orders: pd.DataFrame) -> pd.DataFrame:
    """New racks entering service per year (`period`) and rack type, over all sites."""
    out = orders.groupby(["period", "rack_type"], as_index=False)["new_racks"].sum()
    return out[out["new_racks"] > 0].rename(columns={"period": "year"}).reset_index(drop=True)


def racks_in_service(racks: pd.DataFrame) -> pd.DataFrame:
    """Racks in service per year and rack type, over all sites."""
    out = racks.groupby(["period", "rack_type"], as_index=False)["count"].sum()
    return out.rename(columns={"period": "year"})


def power_ramp(sites: pd.DataFrame) -> pd.DataFrame:
    """Per year and site: power of the powered racks and the cap."""
    table = sites.rename(columns={"period": "year"})
    columns = ["year", "site", "power_mw", "power_cap_mw"]
    return table[columns].sort_values(["site", "year"], ignore_index=True)


# --- scenario runs ----------------------------------------------------------------------


def solved(results: pd.DataFrame) -> pd.DataFrame:
    return results[results["status"].isin(SOLVED)]


ECDF_POINTS = 250  # at most this many points per plan: the page stays small for any N


def ecdf(results: pd.DataFrame, metric: str, max_points: int = ECDF_POINTS) -> pd.DataFrame:
    """Per plan, the empirical distribution of `metric` over its solved scenarios: each
    value with the share of scenarios at or below it. A plan with more than `max_points`
    scenarios keeps every k-th point (k = ceil(n / max_points)) and its largest, so the
    curve keeps its shape and the page its size."""
    rows = solved(results)[["plan", metric]].dropna()
    rows = rows[np.isfinite(rows[metric].to_numpy(dtype=float))]
    rows = rows.sort_values(["plan", metric], kind="stable")
    rank = rows.groupby("plan", sort=False).cumcount() + 1
    size = rows.groupby("plan", sort=False)[metric].transform("size")
    step = np.ceil(size / max_points)
    keep = (((rank - 1) % step) == 0) | (rank == size)
    return pd.DataFrame(
        {
            "plan": rows["plan"].astype(str).to_numpy(),
            "value": rows[metric].to_numpy(dtype=float),
            "share": (rank / size).to_numpy(dtype=float),
        }
    )[keep.to_numpy()].reset_index(drop=True)


def plan_comparison(
    plans: dict[str, dict],
    results: pd.DataFrame | None = None,
    scores: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Each plan of a scenario run side by side: the summary's mean (with its standard
    error), p95 and CVaR of cost per million tokens and of total cost, the share of
    scenarios it could not serve, P(unmet > 1%), the mean unmet share, and the score robust
    selection ranked it by."""
    rows = []
    for plan, stats in plans.items():
        row: dict[str, Any] = {"plan": plan, "scenarios": stats.get("scenarios")}
        for metric in ("cost_per_mtok_usd", "total_cost_usd_per_year"):
            dist = stats.get(metric) or {}
            for key in ("mean", "se", "p95", "cvar"):
                row[f"{metric}_{key}"] = dist.get(key)
        row["unsolved_share"] = stats.get("probability_unsolved")
        row["p_unmet_above_1pct"] = stats.get("probability_unmet_above_1pct")
        rows.append(row)
    out = pd.DataFrame(rows)
    if results is not None:
        mean_unmet = solved(results).groupby("plan")["unmet_share"].mean()
        out["unmet_share_mean"] = out["plan"].map(mean_unmet)
    if scores is not None:
        out["score"] = out["plan"].map(scores)
    return out


def rack_type_frequency(mix: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Per rack type: the share of solved scenarios whose best mix holds it, and the
    p5/p50/p95 of its total count (scenarios.stats.rack_type_summary, the summary's own)."""
    scenarios = pd.Index(sorted(solved(results)["scenario"].unique()))
    summary = rack_type_summary(mix, scenarios)
    out = pd.DataFrame(
        [{"rack_type": rack, **stats} for rack, stats in summary.items()],
        columns=["rack_type", "share_of_scenarios", *QUANTILES],
    )
    return out.sort_values(
        ["share_of_scenarios", "rack_type"], ascending=[False, True], ignore_index=True
    )


def site_utilisation(sites: pd.DataFrame, plan: str | None = None) -> pd.DataFrame:
    """Per site: p5/p50/p95 over scenarios of the share of the power cap in use (of one
    plan's rows when `plan` is given)."""
    if plan is not None:
        sites = sites[sites["plan"] == plan]
    summary = site_summary(sites)
    return pd.DataFrame(
        [{"site": site, **q} for site, q in summary.items()], columns=["site", *QUANTILES]
    )


def value_of_information(summary: dict[str, Any]) -> pd.DataFrame:
    """The value of the stochastic solution and the expected value of perfect information:
    mean, standard error and a 95% normal interval, per year."""
    rows = []
    for label, key in (
        ("VSS", "value_of_stochastic_solution_usd_per_year"),
        ("EVPI", "expected_value_of_perfect_information_usd_per_year"),
    ):
        stats = summary.get(key) or {}
        mean, se = stats.get("mean"), stats.get("se")
        half = Z_95 * se if mean is not None and se is not None else math.nan
        rows.append(
            {
                "measure": label,
                "mean": math.nan if mean is None else mean,
                "se": math.nan if se is None else se,
                "low": (mean - half) if mean is not None else math.nan,
                "high": (mean + half) if mean is not None else math.nan,
                "scenarios": stats.get("scenarios"),
            }
        )
    return pd.DataFrame(rows)


def scenario_headline(plan_stats: dict[str, Any], results: pd.DataFrame | None, plan: str):
    """Headline figures of one plan of a scenario run."""
    mean_unmet = None
    if results is not None:
        rows = solved(results)
        rows = rows[rows["plan"] == plan]["unmet_share"]
        mean_unmet = float(rows.mean()) if len(rows) else None
    return {
        "plan": plan,
        "scenarios": plan_stats.get("scenarios"),
        "status_counts": plan_stats.get("status_counts") or {},
        "cost_per_mtok_usd": plan_stats.get("cost_per_mtok_usd") or {},
        "total_cost_usd_per_year": plan_stats.get("total_cost_usd_per_year") or {},
        "p_unmet_above_1pct": plan_stats.get("probability_unmet_above_1pct"),
        "unmet_share_mean": mean_unmet,
    }


# --- stochastic runs --------------------------------------------------------------------

CONVERGENCE_COLUMNS = ("iteration", "lower_bound", "upper_bound")


def convergence(table: pd.DataFrame, file: str = "convergence.parquet") -> pd.DataFrame:
    """Bounds and relative gap per progressive-hedging iteration, in iteration order.

    A table without `gap` gets (upper - lower) / |upper|.
    """
    missing = [c for c in CONVERGENCE_COLUMNS if c not in table.columns]
    if missing:
        raise RunFolderError(
            f"{file}: missing column(s) {', '.join(missing)}; expected iteration, lower_bound,"
            " upper_bound, gap"
        )
    out = table[[*CONVERGENCE_COLUMNS, *(["gap"] if "gap" in table else [])]].copy()
    if "gap" not in out:
        upper = out["upper_bound"].abs().replace(0.0, np.nan)
        out["gap"] = (out["upper_bound"] - out["lower_bound"]) / upper
    return out.sort_values("iteration", ignore_index=True)


# --- nightly runs -----------------------------------------------------------------------


def nightly_metrics(manifest: dict[str, Any]) -> dict[str, float | None]:
    """The figures a nightly run is compared on, from its manifest's stage results."""
    stages = manifest["stages"]
    plan, rob = stages["plan"]["result"], stages["robust"]["result"]
    return {
        "expected_value_cost_per_mtok_usd": plan["cost_per_mtok_usd"],
        "robust_mean_cost_per_mtok_usd": rob["cost_per_mtok_usd"]["mean"],
        "robust_p95_cost_per_mtok_usd": rob["cost_per_mtok_usd"]["p95"],
        "robust_cvar_total_cost_usd_per_year": rob["total_cost_usd_per_year"]["cvar"],
        "robust_probability_unmet_above_1pct": rob["probability_unmet_above_1pct"],
    }


def sibling_manifests(run_dir: Path) -> list[dict[str, Any]]:
    """The run records of every nightly run beside `run_dir` (OUT/DATE/RUN_ID layout)."""
    root = Path(run_dir).resolve().parent.parent
    found = []
    for path in sorted(root.glob(f"*/*/{RUN_RECORD}")):
        record = _json(path)
        if record.get("kind") == "nightly":
            found.append({**record, "path": str(path.parent)})
    return found


def nightly_history(current: dict[str, Any], manifests: list[dict[str, Any]]) -> pd.DataFrame:
    """The compared figures of every successful nightly run of the same case, oldest first,
    then this run (`current` True); each run at its finish time (this one: its start)."""
    earlier = [
        m
        for m in manifests
        if m.get("status") == "succeeded"
        and m.get("case") == current.get("case")
        and m.get("run_id") != current.get("run_id")
    ]
    rows = [
        {
            "run_id": m.get("run_id"),
            "time": m.get("finished_at"),
            **nightly_metrics(m),
            "current": False,
        }
        for m in earlier
    ]
    rows.append(
        {
            "run_id": current.get("run_id"),
            "time": current.get("finished_at") or current.get("started_at"),
            **nightly_metrics(current),
            "current": True,
        }
    )
    out = pd.DataFrame(rows)
    out["time"] = pd.to_datetime(out["time"], utc=True)
    return out.sort_values(["current", "time"], ignore_index=True)


def run_status(run: Run) -> str:
    """The run's status as its record says; a nightly run writing its own report (its last
    stage, still running) has succeeded once every other stage has."""
    status = str(run.record.get("status") or "unknown")
    stages = run.record.get("stages") or {}
    if run.kind == "nightly" and status == "running" and REPORT_STAGE in stages:
        others = [stage.get("status") for name, stage in stages.items() if name != REPORT_STAGE]
        if all(s == "succeeded" for s in others):
            return "succeeded"
    return status


def nightly_stages(manifest: dict[str, Any]) -> pd.DataFrame:
    """Per stage of a nightly run: its status and seconds (the report stage only once it
    has finished: while running, it is writing this very report)."""
    rows = [
        {"stage": name, "status": stage.get("status"), "seconds": stage.get("seconds")}
        for name, stage in manifest.get("stages", {}).items()
        if not (name == REPORT_STAGE and stage.get("status") == "running")
    ]
    return pd.DataFrame(rows, columns=["stage", "status", "seconds"])


def rack_changes(racks: pd.DataFrame) -> pd.DataFrame:
    """Racks added (positive) or removed per site and rack type since the previous run."""
    out = racks[racks["change"] != 0][["site", "rack_type", "count_previous", "count", "change"]]
    return out.sort_values(["site", "rack_type"], ignore_index=True)
