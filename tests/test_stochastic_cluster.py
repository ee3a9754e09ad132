"""Progressive hedging and Benders decomposition on a real two-node Ray cluster: a head and a
second node started with `ray start` on this machine (loopback), the run joining it by
address, actors on both nodes.

Token authentication stays on: nodes and driver share RAY_AUTH_MODE=token and one
RAY_AUTH_TOKEN_PATH in a temporary HOME. Every port is a free one, and the nodes run with
`--block`, so that stopping exactly these two processes (by their ids, SIGTERM) takes their
node down and nothing else: `ray stop` would end every Ray process on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.raynodes import free_port, start_node, stop, token_env
from tests.test_scenarios import UNCERTAIN, two_site_case

FLEETOPT = [sys.executable, "-m", "fleetopt.cli.main"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ph", "benders"])
def test_subproblems_run_on_a_two_node_cluster(tmp_path, method):
    home = tmp_path / "home"
    home.mkdir()
    env = token_env(home)
    gcs = free_port()
    head_args = ["--head", f"--port={gcs}", "--include-dashboard=false"]
    head_args.append(f"--ray-client-server-port={free_port()}")
    nodes = [start_node(head_args, env, tmp_path / "head.log")]
    try:
        nodes.append(start_node([f"--address=127.0.0.1:{gcs}"], env, tmp_path / "node.log"))
        case = two_site_case(tmp_path, UNCERTAIN)
        out = tmp_path / "run"
        command = [
            *FLEETOPT,
            "stochastic",
            str(case),
            "-n",
            "4",
            "--method",
            method,
            "--workers",
            "2",
            "--out-of-sample",
            "4",
            "--address",
            f"127.0.0.1:{gcs}",
            "--out",
            str(out),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
        assert done.returncode == 0, done.stderr + logs
        summary = json.loads((out / "summary.json").read_text())
        assert summary["nodes"] == 2  # one actor on each node
        assert summary["method"] == method and summary["scenarios"] == 4
        results = pd.read_parquet(out / "results.parquet")
        assert sorted(results[results["plan"] == "stochastic"]["scenario"]) == [0, 1, 2, 3]
        assert (out / "_SUCCESS").exists() and "stochastic plan" in done.stdout
    finally:
        for node in reversed(nodes):
            stop(node)
