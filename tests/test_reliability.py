"""Reliability targets of the two-stage program (docs/model.md section 9, "Reliability
targets"): the chance constraint and the CVaR bound on a hand-computed case, the run's
in-sample probability of shortfall, the cost-of-reliability curve, and the refusals.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fleetopt.core.errors import CaseError
from fleetopt.io.case import read_case
from fleetopt.model.build import OBJECTIVE_SCALE
from fleetopt.model.extensive import build_extensive
from fleetopt.model.index import build_index
from fleetopt.model.inputs import Multipliers, model_data
from fleetopt.model.reliability import (
    ReliabilityTarget,
    probability_of_shortfall,
    shortfall_columns,
    with_target,
)
from fleetopt.model.stage import build_stage_model, first_stage_bounds
from fleetopt.pipelines.options import FarmSettings, Method, ScenarioOptions, StochasticSettings
from fleetopt.pipelines.reliability import CURVE_COLUMNS
from fleetopt.pipelines.stochastic import stochastic
from fleetopt.solve.mathopt import solve_model
from fleetopt.solve.result import SolveStatus
from fleetopt.testing.casekit import write_case
from tests.test_model_optima import decode, rack, site, workload

RACK_USD = 400_000.0  # capex 2M over 5 years, no discounting, no opex, free energy
SHORT_USD = 315_360.0  # a rack's worth (1,000 tokens/s) short for a year: 10 USD/Mtok
DEMANDS = (1.0, 2.0, 3.0, 4.0)  # racks' worth of demand in scenarios 0..3


def one_rack_case(tmp_path: Path, uncertainty: dict | None = None) -> Path:
    """One site, one rack type (1,000 tokens/s, 400k USD/year), one workload of 1,000
    tokens/s, all of it a minimum (min_served_share 1), a shortfall at 10 USD per million
    tokens: 10 x 1,000 x 31,536,000 / 1e6 = 315,360 USD/year per rack's worth short."""
    return write_case(
        tmp_path,
        racks=[rack("A", capex_usd=2_000_000)],
        sites=[site()],
        workloads=[workload("w", decode_tokens_per_s=1_000, min_served_share=1.0)],
        throughput=[decode("A", 1_000)],
        config={
            "unmet_penalty_usd_per_mtok": 1.0,
            "shortfall_penalty_usd_per_mtok": 10.0,
            "uncertainty": uncertainty or {},
        },
    )


def demand(factor: float) -> Multipliers:
    ones = np.ones(1)
    return Multipliers(
        demand=np.array([factor]), energy_price=ones, power_cap=ones, supply=ones, throughput=ones
    )


def solve_with(case, target):
    """The extensive form of the four scenarios of DEMANDS with `target` (None: without):
    its racks, objective (USD/year) and in-sample probability of shortfall."""
    index = build_index(case)
    datas = [model_data(index, demand(d)) for d in DEMANDS]
    first = first_stage_bounds(index, case, datas)
    stages = [build_stage_model(index, case, d, first) for d in datas]
    ef = build_extensive(stages, np.full(4, 0.25))
    short = shortfall_columns(index, ef, stages)
    model = ef if target is None else with_target(ef, short, target)
    options = dataclasses.replace(case.solver, relative_gap=1e-9)
    solution = solve_model(model.model, options)
    assert solution.status is SolveStatus.OPTIMAL, solution
    racks = float(model.scenario_x(solution.x, 0)[stages[0].first_cols].sum())
    probability = probability_of_shortfall(short.shares(solution.x), ef.probabilities)
    return racks, solution.objective / OBJECTIVE_SCALE, probability, short.shares(solution.x)


# With n racks, scenario d (racks' worth of demand) is short max(0, d - n) racks' worth:
# cost(n) = 400,000 n + 315,360 x sum_d max(0, d - n) / 4. A rack (400k) saves at most
# 315,360, so without a target none is bought; a target P forces whole scenarios served.
HAND = [
    # P, racks, cost: the scenarios allowed short are the largest ones
    (None, 0, 315_360 * (1 + 2 + 3 + 4) / 4),  # 788,400; short in all four
    (1.0, 0, 315_360 * (1 + 2 + 3 + 4) / 4),  # the target allows all: as without
    (0.75, 1, 400_000 + 315_360 * (0 + 1 + 2 + 3) / 4),  # 873,040
    (0.5, 2, 800_000 + 315_360 * (0 + 0 + 1 + 2) / 4),  # 1,036,520
    (0.25, 3, 1_200_000 + 315_360 * (0 + 0 + 0 + 1) / 4),  # 1,278,840
    (0.0, 4, 1_600_000.0),  # no shortfall anywhere
]


@pytest.mark.parametrize(("p", "racks", "cost"), HAND)
def test_chance_constraint_buys_the_hand_computed_racks(tmp_path, p, racks, cost):
    """docstring of HAND: P of the scenarios may be short, so 4 (1 - P) scenarios must be
    served whole, the smallest ones: n = 4 (1 - P) racks (0 without a target)."""
    case = read_case(one_rack_case(tmp_path))
    target = None if p is None else ReliabilityTarget(p)
    bought, objective, probability, _ = solve_with(case, target)
    assert bought == racks
    assert objective == pytest.approx(cost, rel=1e-9)
    assert probability == (1.0 if racks == 0 else (4 - racks) / 4)
    assert probability <= (1.0 if p is None else p)


def test_cvar_bound_limits_the_mean_of_the_worst_shortfall_shares(tmp_path):
    """CVaR at level 1 - P of the shortfall share (d - n) / d, P = 0.5: the mean of the two
    largest shares (d = 3 and 4). n = 2: (1/3 + 1/2) / 2 = 0.417; n = 3: (0 + 1/4) / 2 =
    0.125. A bound of 0.2 needs 3 racks (1,278,840 USD/year), where the chance constraint at
    P = 0.5 buys 2; a bound of 0.5 allows 2 (1,036,520); 0 forbids every shortfall (4 racks);
    at P = 0 the bound is on the largest share: 0.25 allows n = 3 (d = 4 short 1/4)."""
    case = read_case(one_rack_case(tmp_path))
    for p, tolerance, racks, cost in [
        (0.5, 0.2, 3, 1_278_840.0),
        (0.5, 0.5, 2, 1_036_520.0),
        (0.5, 0.0, 4, 1_600_000.0),
        (0.0, 0.25, 3, 1_278_840.0),
        (0.0, 0.2, 4, 1_600_000.0),
    ]:
        bought, objective, _, shares = solve_with(case, ReliabilityTarget(p, tolerance))
        assert (bought, objective) == (racks, pytest.approx(cost, rel=1e-9)), (p, tolerance)
        worst = np.sort(shares)[::-1][: max(1, int(4 * p))]
        assert worst.mean() <= tolerance + 1e-9
