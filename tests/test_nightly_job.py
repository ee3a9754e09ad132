"""The nightly pipeline end to end: a real Ray head on loopback, Ray's own Jobs SDK.

Token authentication stays on (Ray 2.60's default): head and client both get
RAY_AUTH_MODE=token and the same RAY_AUTH_TOKEN_PATH, in a temporary HOME; the client runs
in its own process with that environment. The head is
started with this venv first on PATH, because a job's entrypoint runs with the head's
PATH (`python` must be the one that has fleetopt).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fleetopt.io.ownership import FileKind, is_own
from tests.raynodes import free_port, start_node, stop, token_env, wait_for_port

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = "fleetopt/data/example"


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A head with its dashboard (the Jobs API), stopped by its own process alone."""
    home = tmp_path_factory.mktemp("home")
    env = token_env(home)
    gcs, dashboard = free_port(), free_port()
    args = [
        "--head",
        f"--port={gcs}",
        f"--dashboard-port={dashboard}",
        "--dashboard-host=127.0.0.1",
        "--include-dashboard=true",
        f"--ray-client-server-port={free_port()}",
        f"--min-worker-port={free_port()}",
        "--max-worker-port=0",
    ]
    log = home / "head.log"
    head = start_node(args, env, log, num_cpus=2)
    try:
        wait_for_port(dashboard, head, log)
        yield {"address": f"http://127.0.0.1:{dashboard}", "env": env}
    finally:
        stop(head)


SUBMIT = """
import json, sys, time
from ray.job_submission import JobStatus, JobSubmissionClient

address, entrypoint, working_dir, timeout_s = sys.argv[1:5]
timeout_s = float(timeout_s)
client = JobSubmissionClient(address)
deadline = time.monotonic() + timeout_s
while True:  # a freshly started head may not have its job agent up yet
    try:
        job_id = client.submit_job(
            entrypoint=entrypoint,
            runtime_env={
                "working_dir": working_dir,
                "excludes": [".venv", ".git", "runs", "benchmarks"],
            },
        )
        break
    except RuntimeError as err:
        if "No available agent" not in str(err) or time.monotonic() > deadline:
            raise
        time.sleep(2.0)
status = client.get_job_status(job_id)
while status not in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
    if time.monotonic() > deadline:
        client.stop_job(job_id)
        break
    time.sleep(1.0)
    status = client.get_job_status(job_id)
print(json.dumps({"status": status.value, "logs": client.get_job_logs(job_id)}))
"""


def submit_and_wait(head: dict, entrypoint: str, timeout_s: float = 420) -> tuple[str, str]:
    """Submit with Ray's Jobs SDK and wait, in a client process of its own.

    A separate process, because Ray reads its auth mode once per process: an earlier
    `ray.init` in this test process (another test module) would pin it to `disabled`.
    """
    proc = subprocess.run(
        [sys.executable, "-c", SUBMIT, head["address"], entrypoint, str(REPO), str(timeout_s)],
        env=head["env"],
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer["status"], answer["logs"]


@pytest.mark.slow
def test_nightly_job_runs_then_resumes(ray_head, tmp_path):
    out = tmp_path / "out"
    entry = (
        f"python jobs/nightly.py --case {EXAMPLE} --out {out} --scenarios 6 --chunk 3"
        " --candidates 3 --out-of-sample 4 --run-id nightly-test"
    )
    status, logs = submit_and_wait(ray_head, entry)
    assert status == "SUCCEEDED", logs
    (run,) = out.glob("*/nightly-test")
    assert (run / "_SUCCESS").exists()
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["status"] == "succeeded"
    assert list(manifest["stages"]) == [
        "validate",
        "plan",
        "robust",
        "stochastic",
        "installed",
        "compare",
        "report",
    ]
    assert is_own(
        run / "report.html", FileKind.REPORT
    )  # written before _SUCCESS, by the last stage
    assert manifest["ray_resources"]["CPU"] == 2.0  # it joined the head it was submitted to
    assert len(manifest["case_sha256"]) == 64
    plan = manifest["stages"]["plan"]["result"]
    assert plan["status"] == "optimal" and 0 < plan["cost_per_mtok_usd"] < 10
    robust = json.loads((run / "robust" / "summary.json").read_text())
    assert robust["chosen_plan"] in robust["candidates"]
    results = pd.read_parquet(run / "robust" / "evaluate" / "results.parquet")
    assert sorted(results["scenario"].unique()) == list(range(6))
    chosen = results[results["plan"] == robust["chosen_plan"]]
    solved = chosen[chosen["status"] == "optimal"]
    assert len(solved) >= 1 and (solved["total_cost_usd_per_year"] > 0).all()
    unsolved = results[results["status"] != "optimal"].groupby("plan").size()
    assert (
        unsolved.get(robust["chosen_plan"], 0)
        == unsolved.reindex(list(robust["candidates"]), fill_value=0).min()
    )  # no candidate fails in fewer scenarios
    assert "succeeded" in logs
    # The answer is the hedged plan, compared on the same futures with the same rule.
    assert manifest["params"]["stochastic"]["method"] == "auto" and manifest["params"]["shortfall"]
    hedged = manifest["stages"]["stochastic"]["result"]
    assert hedged["method"] == "ef" and hedged["scenarios"] == 6
    floor = -hedged["gap"] * hedged["objective"]["value"] - 1e-6
    assert hedged["vss"]["value"] >= floor and hedged["robust"]["difference"]["value"] >= floor
    assert hedged["robust"]["difference"]["value"] == pytest.approx(
        hedged["robust"]["objective"]["value"] - hedged["objective"]["value"], rel=1e-9
    )
    assert hedged["racks_ordered_now"] > 0
    assert "answer: the hedged plan" in logs
    # The robust choice is said once: as a second saving, or as the expected-value plan.
    said = (
        "the expected-value plan is also the robust choice"
        if robust["chosen_plan"] == "expected-value"
        else "over the robust choice"
    )
    assert said in logs
    # By default the headline says whether the 6 scenarios suffice (3 batches of 6 others).
    gap = hedged["replications"]
    assert gap["replications"] == 3 and len(gap["batches"]) == 3 and gap["scenarios"] == 6
    assert gap["ci_high"] >= gap["mean"] and gap["relative"] == pytest.approx(
        gap["ci_high"] / gap["plan_cost"], rel=1e-9
    )
    verdict = "6 scenarios suffice" if gap["suffices"] else "6 scenarios are not enough"
    assert gap["suffices"] == (gap["relative"] <= gap["tolerance"]) and verdict in logs

    first = {k: v["seconds"] for k, v in manifest["stages"].items()}
    stamp = (run / "robust" / "summary.json").stat().st_mtime_ns
    status, logs = submit_and_wait(ray_head, entry)
    assert status == "SUCCEEDED", logs
    again = json.loads((run / "run.json").read_text())
    assert {k: v["seconds"] for k, v in again["stages"].items()} == first  # nothing re-ran
    assert (run / "robust" / "summary.json").stat().st_mtime_ns == stamp


def test_a_failed_run_says_why_and_never_looks_complete(tmp_path):
    bad_case = tmp_path / "case"
    shutil.copytree(REPO / EXAMPLE, bad_case)
    sites = bad_case / "sites.csv"
    sites.write_text(sites.read_text().replace("liquid_cooling", "liquid_coolin", 1))
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "jobs" / "nightly.py"),
            "--case",
            str(bad_case),
            "--out",
            str(out),
            "--run-id",
            "broken",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "sites.csv" in proc.stderr and "liquid_coolin" in proc.stderr
    assert "Traceback" not in proc.stderr
    (run,) = out.glob("*/broken")
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["status"] == "failed"
    assert "liquid_coolin" in manifest["reason"]
    assert not (run / "_SUCCESS").exists()
