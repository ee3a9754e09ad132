"""The numbers behind every figure and table of the report, read from run folders only.

One function per figure: each takes a run's tables (pandas) or its typed summary
(fleetopt.results) and returns a small table, so the numbers are tested on their own, apart
from the drawing. A table or column that a run does not hold (an older run, a run kind
that lacks it) gives None and the page leaves that figure out, saying why.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fleetopt.core.errors import RunFolderError
from fleetopt.core.stats import QUANTILES, Z95
from fleetopt.io.runfolder import (
    RUN_RECORD,
    SUCCESS_MARKER,
    RunKind,
    RunRecord,
    is_complete,
    read_record,
)
from fleetopt.results import yearly
from fleetopt.results.nightly import NightlyRecord, earlier_runs, nightly_metrics
from fleetopt.results.read import RunSummary, nightly_record, run_summary
from fleetopt.results.runs import Estimate, PlanStats
from fleetopt.results.schema import read_json
from fleetopt.results.stochastic import StochasticSummary
from fleetopt.results.summary import Figures, Summary
from fleetopt.scenarios.stats import rack_type_summary, site_summary
from fleetopt.solve.result import CONVERGENCE_COLUMNS, SOLVED

REPORTABLE = tuple(kind.value for kind in RunKind)
COST_PARTS = ("capex", "opex", "energy", "penalty")


@dataclass(frozen=True)
class Run:
    """A run folder as the report reads it: its run record (None: a folder of tables that
    is no run, such as a robust run's `choice`), its typed summary (a nightly run: its
    typed record), its tables."""

    path: Path
    record: RunRecord | None
    summary: RunSummary | None = None
    nightly: NightlyRecord | None = None

    @property
    def kind(self) -> str:
        return self.record.kind if self.record is not None else ""

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
        return _load(folder) if folder.is_dir() else None


def _load(folder: Path) -> Run:
    """A folder's run: its record and, when complete, its typed summary (a folder that is no
    run, such as a robust run's `choice`, has tables only)."""
    record = read_record(folder)
    run = Run(folder, record)
    if record is None:
        return run
    if record.kind == RunKind.NIGHTLY:
        return replace(run, nightly=nightly_record(folder))
    if record.kind in REPORTABLE and is_complete(folder):
        return replace(run, summary=run_summary(folder, record.kind))
    return run


def open_run(folder: str | os.PathLike[str], *, complete: bool = True) -> Run:
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
    return _load(path)


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


def cost_parts(figures: Figures) -> pd.DataFrame | None:
    """Yearly cost by part (capex, opex, energy, penalty); None when the plan has no costs."""
    values = [getattr(figures, f"{part}_cost_usd_per_year") for part in COST_PARTS]
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
    """Per (year and) site: power of the powered racks at full load against the cap, the
    headroom and the average draw (fleetopt.results.yearly), and floor slots used against
    the limit (NaN share where the floor is unlimited)."""
    out = yearly.power_use(sites)
    if {"slots", "max_slots"} <= set(sites.columns):
        limit = sites["max_slots"].astype(float).reset_index(drop=True)
        limited = np.isfinite(limit) & (limit > 0)
        out["slots"] = sites["slots"].astype(float).to_numpy()
        out["max_slots"] = limit.where(limited)
        out["floor_share"] = (out["slots"] / limit).where(limited)
    return out


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
    """Per (year and) workload: demand, served and unmet share, and the penalty its unmet
    part costs."""
    columns = ["period", "workload", "demand_tokens_per_s", "served_share", "unmet_share"]
    columns += ["penalty_cost_usd_per_year"]
    return workloads[[c for c in columns if c in workloads]].reset_index(drop=True)


# --- multi-period plans -----------------------------------------------------------------


def orders_by_type(orders: pd.DataFrame) -> pd.DataFrame:
    """New racks entering service per year (`period`) and rack type, over all sites."""
    out = orders.groupby(["period", "rack_type"], as_index=False)["new_racks"].sum()
    return out[out["new_racks"] > 0].rename(columns={"period": "year"}).reset_index(drop=True)


def racks_in_service(racks: pd.DataFrame) -> pd.DataFrame:
    """Racks in service per year and rack type, over all sites."""
    out = racks.groupby(["period", "rack_type"], as_index=False)["count"].sum()
    return out.rename(columns={"period": "year"})


def cash_parts(cash: pd.DataFrame) -> pd.DataFrame:
    """The cash paid out per year by part (long: year, part, usd), from
    fleetopt.results.yearly.cash_out."""
    columns = {f"{part}_usd": part for part in yearly.CASH_PARTS}
    long = cash[["period", *columns]].melt("period", var_name="part", value_name="usd")
    long["part"] = long["part"].map(columns)
    return long.rename(columns={"period": "year"})


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
    plans: dict[str, PlanStats],
    results: pd.DataFrame | None = None,
    scores: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Each plan of a scenario run side by side: the summary's mean (with its standard
    error), p95 and CVaR of cost per million tokens and of total cost, the share of
    scenarios it could not serve, P(unmet > 1%), the mean unmet share, and the score robust
    selection ranked it by."""
    rows = []
    for plan, stats in plans.items():
        row: dict[str, object] = {"plan": plan, "scenarios": stats.scenarios}
        for metric in ("cost_per_mtok_usd", "total_cost_usd_per_year"):
            dist = getattr(stats, metric)
            for key in ("mean", "se", "p95", "cvar"):
                row[f"{metric}_{key}"] = getattr(dist, key)
        row["unsolved_share"] = stats.probability_unsolved
        row["p_unmet_above_1pct"] = stats.probability_unmet_above_1pct
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
        [{"rack_type": rack, **asdict(stats)} for rack, stats in summary.items()],
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
        [{"site": site, **asdict(q)} for site, q in summary.items()],
        columns=["site", *QUANTILES],
    )


def value_of_information(vss: Estimate, evpi: Estimate) -> pd.DataFrame:
    """The value of the stochastic solution and the expected value of perfect information:
    value, standard error and a 95% normal interval, per year, and whether each is an
    estimate or a bound."""
    return pd.DataFrame([_interval(label, e) for label, e in (("VSS", vss), ("EVPI", evpi))])


def _interval(label: str, estimate: Estimate) -> dict[str, object]:
    """An estimate's row: value, standard error, 95% normal interval, kind (NaN unknown)."""
    mean = math.nan if estimate.value is None else estimate.value
    se = math.nan if estimate.se is None else estimate.se
    return {
        "measure": label,
        "mean": mean,
        "se": se,
        "low": mean - Z95 * se,
        "high": mean + Z95 * se,
        "kind": estimate.kind.value,
    }


@dataclass(frozen=True)
class ScenarioHeadline:
    """Headline figures of one plan of a scenario run: its summary and mean unmet share."""

    plan: str
    stats: PlanStats
    unmet_share_mean: float | None


def scenario_headline(
    plan_stats: PlanStats, results: pd.DataFrame | None, plan: str
) -> ScenarioHeadline:
    """Headline figures of one plan of a scenario run."""
    mean_unmet = None
    if results is not None:
        rows = solved(results)
        rows = rows[rows["plan"] == plan]["unmet_share"]
        mean_unmet = float(rows.mean()) if len(rows) else None
    return ScenarioHeadline(plan, plan_stats, mean_unmet)


# --- stochastic runs --------------------------------------------------------------------

BOUND_COLUMNS = ("iteration", "lower_bound", "upper_bound")


def convergence(table: pd.DataFrame, file: str = "convergence.parquet") -> pd.DataFrame:
    """The rows a method recorded per iteration (fleetopt.solve.result.ConvergenceRow, and
    a method's own columns), in iteration order, without columns it left empty."""
    missing = [c for c in BOUND_COLUMNS if c not in table.columns]
    if missing:
        raise RunFolderError(
            f"{file}: missing column(s) {', '.join(missing)}; expected"
            f" {', '.join(CONVERGENCE_COLUMNS)}"
        )
    rows = table.sort_values("iteration", ignore_index=True)
    return rows.dropna(axis="columns", how="all")


def bound_lines(history: pd.DataFrame) -> pd.DataFrame:
    """The bounds per iteration in long form (iteration, bound, usd), without those that say
    nothing: an upper bound before any plan (infinite), a lower bound below zero (costs are
    not negative: a decomposition's first rounds)."""
    long = history.melt(
        id_vars="iteration",
        value_vars=["lower_bound", "upper_bound"],
        var_name="bound",
        value_name="usd",
    )
    usd = long["usd"].astype(float)
    long = long[np.isfinite(usd) & (usd >= 0)].assign(usd=usd)
    long["bound"] = long["bound"].str.replace("_", " ")
    return long.reset_index(drop=True)


def stochastic_estimates(summary: StochasticSummary) -> pd.DataFrame:
    """The figures of a stochastic run over its scenarios, each with its standard error and
    95% normal interval: the plan's objective (RP), the expected-value plan's (EEV), wait
    and see (WS), VSS and EVPI, each compared plan's and the saving over it; and the
    certified lower bound (no interval: a bound)."""
    rows = [
        _interval(label, estimate)
        for label, estimate in (
            ("hedged plan (RP)", summary.objective),
            ("expected-value plan (EEV)", summary.ev_objective),
            ("wait and see (WS)", summary.wait_and_see),
            ("value of the stochastic solution (VSS = EEV - RP)", summary.vss),
            ("expected value of perfect information (EVPI = RP - WS)", summary.evpi),
            *(
                item
                for name, compared in summary.compared.items()
                for item in (
                    (f"{name} plan's orders now", compared.objective),
                    (f"saving over the {name} plan (paired)", compared.difference),
                )
            ),
        )
    ]
    rows.append({"measure": "certified lower bound", "mean": summary.lower_bound, "kind": "bound"})
    return pd.DataFrame(rows)


def out_of_sample(summary: StochasticSummary) -> pd.DataFrame:
    """Each plan checked on fresh scenarios: mean total cost, its 95% interval, the run's
    risk measure and P(shortfall)."""
    return pd.DataFrame(
        [
            {
                "plan": plan,
                "mean": oos.mean,
                "low": oos.ci95_low,
                "high": oos.ci95_high,
                "risk": oos.risk,
                "probability_shortfall": oos.probability_shortfall,
            }
            for plan, oos in summary.out_of_sample.items()
        ],
        columns=["plan", "mean", "low", "high", "risk", "probability_shortfall"],
    )


# --- nightly runs -----------------------------------------------------------------------


def sibling_manifests(run_dir: Path) -> list[NightlyRecord]:
    """The run records of every nightly run beside `run_dir` (OUT/DATE/RUN_ID layout)."""
    root = Path(run_dir).resolve().parent.parent
    found = []
    for path in sorted(root.glob(f"*/*/{RUN_RECORD}")):
        record = read_record(path.parent)
        if record is not None and record.kind == RunKind.NIGHTLY:
            data = read_json(path)
            found.append(NightlyRecord.from_json(data | {"path": str(path.parent)}))
    return found


def nightly_history(current: NightlyRecord, manifests: list[NightlyRecord]) -> pd.DataFrame:
    """The compared figures of every earlier run this one is compared with, oldest first,
    then this run (`current` True); each run at its finish time (this one: its start)."""
    rows = [
        {"run_id": m.run_id, "time": m.finished_at, **nightly_metrics(m), "current": False}
        for m in earlier_runs(current, manifests)
    ]
    rows.append(
        {
            "run_id": current.run_id,
            "time": current.finished_at or current.started_at,
            **nightly_metrics(current),
            "current": True,
        }
    )
    out = pd.DataFrame(rows)
    out["time"] = pd.to_datetime(out["time"], utc=True)
    return out.sort_values(["current", "time"], ignore_index=True)


def run_status(run: Run) -> str:
    """The run's status as its record says; a plan without a solution says its solve's
    status and exit code (its run finished, but found no plan); a nightly run writing its
    own report (its last stage, still running) has succeeded once every other stage has."""
    if run.nightly is not None and run.nightly.report_pending:
        return "succeeded"
    if isinstance(run.summary, Summary) and not run.summary.has_plan:
        return f"{run.summary.status.value} (exit code {int(run.summary.exit_code)})"
    return (run.record.status if run.record is not None else "") or "unknown"


def nightly_stages(record: NightlyRecord) -> pd.DataFrame:
    """Per stage of a nightly run: its status and seconds (NightlyRecord.stage_times)."""
    return pd.DataFrame(record.stage_times(), columns=["stage", "status", "seconds"])


def rack_changes(racks: pd.DataFrame) -> pd.DataFrame:
    """Racks added (positive) or removed per site and rack type since the previous run."""
    out = racks[racks["change"] != 0][["site", "rack_type", "count_previous", "count", "change"]]
    return out.sort_values(["site", "rack_type"], ignore_index=True)
