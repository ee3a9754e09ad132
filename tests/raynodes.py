"""Ray nodes that tests start and stop themselves: free ports, token authentication in a
temporary HOME, and `ray start --block`, so that stopping exactly the process a test started
(SIGTERM) takes its node down and nothing else. `ray stop` would end every Ray process on
the machine, other users' and other runs' included.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token_env(home: Path) -> dict[str, str]:
    """The environment of a Ray cluster with token authentication, its token in `home`."""
    token = home / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {
        **os.environ,
        "HOME": str(home),
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    env.pop("RAY_ADDRESS", None)
    return env


def node_ports() -> list[str]:
    """Ports a node would otherwise take at fixed defaults (nodes may share this host)."""
    names = (
        "node-manager-port",
        "object-manager-port",
        "dashboard-agent-listen-port",
        "dashboard-agent-grpc-port",
        "metrics-export-port",
        "runtime-env-agent-port",
    )
    return [f"--{name}={free_port()}" for name in names]


def start_node(args: list[str], env: dict, log: Path, *, num_cpus: int = 1) -> subprocess.Popen:
    """`ray start --block` with `args`, in its own process group, its output in `log`."""
    common = [
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--num-cpus={num_cpus}",
        "--object-store-memory=100000000",
        "--disable-usage-stats",
        *node_ports(),
    ]
    with log.open("w") as out:
        return subprocess.Popen(
            [RAY, "start", *args, *common],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


def wait_for_port(port: int, node: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    """Until something listens on `port` of loopback; a node that exits first fails."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.poll() is not None:
            raise RuntimeError(f"ray start exited with {node.returncode}: {log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listened on port {port} within {timeout_s} s: {log.read_text()}")


def stop(node: subprocess.Popen) -> None:
    """SIGTERM to the node this test started (its `ray start --block`), then its group."""
    if node.poll() is None:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=60)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
    # Whatever of the node outlived it: its own session, so only its processes.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(node.pid, signal.SIGKILL)
