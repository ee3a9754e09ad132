"""The constraint-family registry: every model's rows come from it, each family finds its
blocks, and the extensive form keeps each scenario's families (a row is "power at site S
in scenario k")."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fleetopt.io.case import read_case
from fleetopt.model.build import build_evaluate_model, build_plan_model, plan_layout
from fleetopt.model.extensive import build_extensive
from fleetopt.model.families import (
    EVALUATE_FAMILIES,
    PLAN_FAMILIES,
    STAGE_FAMILIES,
    RowInputs,
    define_rows,
)
from fleetopt.model.index import build_index
from fleetopt.model.inputs import Multipliers, model_data
from fleetopt.model.labels import row_labels
from fleetopt.model.risk import Risk
from fleetopt.model.stage import build_stage_model, first_stage_bounds
from fleetopt.testing.casekit import write_case
from tests.test_model_optima import RACK_A, RACK_B, THROUGHPUT_AB, site, workload


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    path = write_case(
        tmp_path_factory.mktemp("families"),
        racks=[RACK_A, RACK_B],
        sites=[site("s1", power_cap_mw=1.0), site("s2", power_cap_mw=2.0)],
        workloads=[workload()],
        throughput=THROUGHPUT_AB,
    )
    return read_case(path)


def test_each_model_has_the_families_it_names(case):
    index = build_index(case)
    data = model_data(index)
    assert list(build_plan_model(index, case, data).families) == list(PLAN_FAMILIES)
    counts = index.sr["installed"].to_numpy() + 1
    assert list(build_evaluate_model(index, case, data, counts).families) == list(EVALUATE_FAMILIES)
    first = first_stage_bounds(index, case, [data])
    stage = build_stage_model(index, case, data, first, Risk(weight=1.0, alpha=0.9))
    assert list(stage.model.families) == [*STAGE_FAMILIES, "tail"]


def test_a_family_without_its_blocks_is_refused(case):
    index = build_index(case)
    inputs = RowInputs(index, case, model_data(index), plan_layout(index))
    with pytest.raises(ValueError, match="family delivered needs block"):
        define_rows(inputs, ["serve", "delivered"])


def test_the_extensive_form_keeps_each_scenarios_families(case):
    index = build_index(case)
    caps = [1.0, 0.5, 0.25]  # power cap factor per scenario
    datas = [
        model_data(index, replace(Multipliers.ones(index), power_cap=np.full(2, c))) for c in caps
    ]
    first = first_stage_bounds(index, case, datas)
    stages = [build_stage_model(index, case, d, first) for d in datas]
    ef = build_extensive(stages, np.full(3, 1 / 3)).model
    labels = row_labels(index, ef)
    power = labels[labels["family"] == "power"]
    assert len(power) == 3 * 2  # a row per site in each scenario
    for scenario, cap in enumerate(caps):
        here = power[power["scenario"] == scenario]
        assert list(here["site"]) == ["s1", "s2"]
        assert ef.row_ub[here["row"].to_numpy()] == pytest.approx([1.0 * cap, 2.0 * cap])
    assert len(labels) == ef.n_constraints and labels["row"].is_unique
