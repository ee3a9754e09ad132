"""Static checks of the cluster definitions in clusters/.

The KubeRay CRD schemas accept several mistakes that the operator only rejects at admission
(or never): a misspelt submissionMode, a TTL without shutdown, a runtimeEnvYAML that is not
YAML, bad resource names, invalid cron strings. These tests catch them offline, together
with the launcher config's validity against the schema shipped inside the installed Ray wheel.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CLUSTERS = REPO / "clusters"
KUBERAY = CLUSTERS / "kuberay"

SUBMISSION_MODES = {"K8sJobMode", "HTTPMode", "InteractiveMode", "SidecarMode"}
# RFC 1123 label (container, group, port names); Ray custom resources must also start with a
# letter (KubeRay derives Service names from them, which are RFC 1035 labels).
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
RAY_KINDS = {"RayCluster", "RayJob", "RayCronJob"}


# --------------------------------------------------------------------------------------------
# helpers


def load_all(path: Path) -> list[dict]:
    with path.open() as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def yaml_files() -> list[Path]:
    return sorted(p for p in CLUSTERS.rglob("*") if p.suffix in {".yaml", ".yml"})


def kuberay_docs() -> list[tuple[str, dict]]:
    """Every Kubernetes object under clusters/kuberay, plus RayJobs embedded in ConfigMaps."""
    out = []
    for path in sorted(KUBERAY.glob("*.yaml")):
        for i, doc in enumerate(load_all(path)):
            where = f"{path.name}#{i}"
            out.append((where, doc))
            if doc.get("kind") == "ConfigMap":
                for key, text in doc.get("data", {}).items():
                    if key.endswith((".yaml", ".yml")):
                        out.append((f"{where}[{key}]", yaml.safe_load(text)))
    return out


def docs_of(kind: str) -> list[tuple[str, dict]]:
    return [(w, d) for w, d in kuberay_docs() if d.get("kind") == kind]


def rayjob_specs() -> list[tuple[str, dict]]:
    """RayJob specs: from RayJobs (including embedded ones) and RayCronJob jobTemplates."""
    specs = [(w, d["spec"]) for w, d in docs_of("RayJob")]
    specs += [(f"{w}.jobTemplate", d["spec"]["jobTemplate"]) for w, d in docs_of("RayCronJob")]
    return specs


def cluster_specs() -> list[tuple[str, dict]]:
    specs = [(w, d["spec"]) for w, d in docs_of("RayCluster")]
    specs += [(f"{w}.rayClusterSpec", s["rayClusterSpec"]) for w, s in rayjob_specs()]
    return specs


def by_where(pairs: list[tuple[str, dict]]) -> list:
    """Parametrize over (where, object) pairs, each test id being the `where`."""
    return [pytest.param(where, obj, id=where) for where, obj in pairs]


def pinned_ray_version() -> str:
    text = (REPO / "pyproject.toml").read_text()
    m = re.search(r'"ray\[default\]==([0-9.]+)"', text)
    assert m, "pyproject.toml no longer pins ray[default]==X.Y.Z"
    return m.group(1)


def check_cron(expr: str) -> list[str]:
    """Problems with a standard 5-field cron expression (empty list: valid)."""
    fields = expr.split()
    if len(fields) != 5:
        return [f"{expr!r}: {len(fields)} fields, want 5"]
    names = ["minute", "hour", "day-of-month", "month", "day-of-week"]
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    problems = []
    for name, field, (lo, hi) in zip(names, fields, ranges, strict=True):
        for part in field.split(","):
            base, slash, step = part.partition("/")
            if slash and not (step.isdigit() and int(step) > 0):
                problems.append(f"{name}: bad step in {part!r}")
            if base == "*":
                continue
            bounds = base.split("-")
            if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
                problems.append(f"{name}: {part!r} is not a number, range or *")
                continue
            values = [int(b) for b in bounds]
            if any(not lo <= v <= hi for v in values) or values != sorted(values):
                problems.append(f"{name}: {part!r} outside {lo}-{hi}")
    return problems


def entrypoint_paths(entrypoint: str) -> tuple[list[str], dict[str, str]]:
    """The argv of a `python SCRIPT ...` entrypoint and its --option values."""
    argv = shlex.split(entrypoint)
    opts = {}
    for i, tok in enumerate(argv):
        if tok.startswith("--") and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            opts[tok] = argv[i + 1]
    return argv, opts


def pip_packages(runtime_env: dict) -> list[str]:
    pip = runtime_env.get("pip")
    if isinstance(pip, dict):
        pip = pip.get("packages")
    return list(pip or [])


# --------------------------------------------------------------------------------------------
# every YAML parses


def test_cluster_files_exist():
    names = {p.relative_to(CLUSTERS).as_posix() for p in yaml_files()}
    assert {
        "aws.yaml",
        "kuberay/raycluster.yaml",
        "kuberay/rayjob.yaml",
        "kuberay/raycronjob.yaml",
        "kuberay/cronjob-fallback.yaml",
    } <= names
    assert (CLUSTERS / "README.md").is_file()


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(CLUSTERS).as_posix())
def test_yaml_parses(path):
    docs = load_all(path)
    assert docs, f"{path} holds no document"
    assert all(isinstance(d, dict) for d in docs)


def test_each_kind_present():
    kinds = [d.get("kind") for _, d in kuberay_docs()]
    for kind in ("RayCluster", "RayJob", "RayCronJob", "CronJob", "ConfigMap", "Role"):
        assert kind in kinds, f"no {kind} under clusters/kuberay"
    for _, doc in kuberay_docs():
        if doc["kind"] in RAY_KINDS:
            assert doc["apiVersion"] == "ray.io/v1", doc["kind"]


# --------------------------------------------------------------------------------------------
# RayJob / RayCronJob semantics the CRD schema does not check


def test_rayjob_specs_found():
    wheres = [w for w, _ in rayjob_specs()]
    # rayjob.yaml, raycronjob.yaml's jobTemplate and the RayJob inside the fallback ConfigMap
    assert len(wheres) >= 3, wheres


@pytest.mark.parametrize("where,spec", by_where(rayjob_specs()))
def test_entrypoint_names_existing_paths(where, spec):
    argv, opts = entrypoint_paths(spec["entrypoint"])
    assert argv[0] == "python", f"{where}: entrypoint should start with python: {argv}"
    assert argv[1] == "jobs/nightly.py", f"{where}: entrypoint runs {argv[1]}, not jobs/nightly.py"
    # Paths are relative to the job's working_dir, the repository root.
    assert (REPO / argv[1]).is_file(), f"{where}: {argv[1]} does not exist in the repository"
    assert "--case" in opts and "--out" in opts, f"{where}: nightly.py needs --case and --out"
    assert (REPO / opts["--case"]).is_dir(), f"{where}: case folder {opts['--case']} is missing"
    # The head's local disk disappears with the cluster: outputs must go to object storage.
    assert re.match(r"^(s3|gs|gcs|abfs|hdfs)://", opts["--out"]), f"{where}: --out {opts['--out']}"
    if "--scenarios" in opts:
        assert int(opts["--scenarios"]) > 0


@pytest.mark.parametrize("where,spec", by_where(rayjob_specs()))
def test_runtime_env_yaml_is_a_string_with_pip(where, spec):
    text = spec.get("runtimeEnvYAML")
    assert isinstance(text, str), f"{where}: runtimeEnvYAML must be a string, not {type(text)}"
    env = yaml.safe_load(text)
    assert isinstance(env, dict), f"{where}: runtimeEnvYAML does not parse to a mapping"
    assert set(env) <= {"working_dir", "pip", "env_vars", "py_modules", "excludes", "config"}, env
    packages = pip_packages(env)
    names = [re.split(r"[\s<>=!~\[@;]", p.strip(), maxsplit=1)[0].lower() for p in packages]
    # fleetopt itself brings pyproject.toml's ranges (and ray is the image's, not reinstalled).
    assert names == ["fleetopt"], f"{where}: pip must install fleetopt alone: {packages}"
    assert isinstance(env.get("working_dir"), str) and env["working_dir"], f"{where}: working_dir"
    for value in env.get("env_vars", {}).values():
        assert isinstance(value, str), f"{where}: env_vars values must be strings"


@pytest.mark.parametrize("where,spec", by_where(rayjob_specs()))
def test_submission_mode_and_lifecycle(where, spec):
    mode = spec.get("submissionMode", "K8sJobMode")
    assert mode in SUBMISSION_MODES, f"{where}: submissionMode {mode!r}"
    if spec.get("ttlSecondsAfterFinished", 0):
        assert spec.get("shutdownAfterJobFinishes") is True, (
            f"{where}: ttlSecondsAfterFinished only applies with shutdownAfterJobFinishes"
        )
    for key in ("ttlSecondsAfterFinished", "activeDeadlineSeconds", "backoffLimit"):
        if key in spec:
            assert isinstance(spec[key], int) and spec[key] >= 0, f"{where}: {key}"
    # Each run brings its own cluster, deleted when done, with a hard deadline.
    assert "rayClusterSpec" in spec and "clusterSelector" not in spec, where
    assert spec.get("shutdownAfterJobFinishes") is True, where
    assert spec.get("activeDeadlineSeconds", 0) > 0, where


def test_rayjob_entrypoints_agree():
    """rayjob.yaml, the RayCronJob template and the fallback run the same pipeline."""
    entrypoints = {shlex.split(s["entrypoint"])[1] for _, s in rayjob_specs()}
    envs = {s["runtimeEnvYAML"] for _, s in rayjob_specs()}
    assert entrypoints == {"jobs/nightly.py"}
    assert len(envs) == 1, "the RayJob specs install different runtime environments"


def test_rayjob_nightly_deadline_shorter_than_period():
    for where, spec in rayjob_specs():
        assert spec["activeDeadlineSeconds"] < 24 * 3600, f"{where}: nightly runs could overlap"


# --------------------------------------------------------------------------------------------
# RayCluster specs


@pytest.mark.parametrize("where,spec", by_where(cluster_specs()))
def test_cluster_spec(where, spec):
    version = pinned_ray_version()
    assert spec.get("rayVersion") == version, f"{where}: rayVersion != ray pin {version}"
    groups = [("head", spec["headGroupSpec"])]
    assert spec.get("workerGroupSpecs"), f"{where}: no worker group"
    for g in spec["workerGroupSpecs"]:
        for key in ("groupName", "minReplicas", "maxReplicas", "template"):
            assert key in g, f"{where}: worker group lacks {key}"
        assert DNS1123_LABEL.match(g["groupName"]), f"{where}: groupName {g['groupName']!r}"
        assert 0 <= g["minReplicas"] <= g.get("replicas", g["minReplicas"]) <= g["maxReplicas"]
        groups.append((g["groupName"], g))
    for name, group in groups:
        for key, value in group.get("rayStartParams", {}).items():
            assert isinstance(value, str), f"{where}/{name}: rayStartParams[{key}] must be a string"
        containers = group["template"]["spec"]["containers"]
        assert containers, f"{where}/{name}: no containers"
        for c in containers:
            assert DNS1123_LABEL.match(c["name"]) and len(c["name"]) <= 63, c["name"]
            image = c["image"]
            assert image.startswith(f"rayproject/ray:{version}"), f"{where}/{name}: {image}"
            assert "gpu" not in image and "cu1" not in image, f"{where}/{name}: CPU image expected"
            for port in c.get("ports", []):
                assert len(port["name"]) <= 15 and DNS1123_LABEL.match(port["name"]), port
            limits = c.get("resources", {}).get("limits", {})
            assert "cpu" in limits and "memory" in limits, f"{where}/{name}: set cpu/memory limits"


# --------------------------------------------------------------------------------------------
# names, namespaces, schedules


@pytest.mark.parametrize("where,doc", by_where(kuberay_docs()))
def test_resource_names_dns1123(where, doc):
    meta = doc["metadata"]
    name = meta.get("name") or meta.get("generateName", "").rstrip("-")
    assert name, f"{where}: no metadata.name or generateName"
    pattern = DNS1035_LABEL if doc["kind"] in RAY_KINDS else DNS1123_LABEL
    assert pattern.match(name), f"{where}: {name!r} is not a DNS-1123 label"
    # KubeRay appends suffixes (RayJob -> RayCluster -> Pods/Services); stay well below 63.
    limit = 40 if doc["kind"] in RAY_KINDS else 63
    assert len(name) <= limit, f"{where}: {name!r} is longer than {limit}"
    for key in meta.get("labels", {}):
        assert re.match(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", key), key


def test_single_namespace():
    namespaces = {d["metadata"].get("namespace") for _, d in kuberay_docs()}
    assert len(namespaces) == 1 and None not in namespaces, namespaces
    for _, rb in docs_of("RoleBinding"):
        for subject in rb["subjects"]:
            assert subject.get("namespace") in namespaces


@pytest.mark.parametrize("kind", ["RayCronJob", "CronJob"])
def test_cron_schedules_valid(kind):
    docs = docs_of(kind)
    assert docs
    for where, doc in docs:
        schedule = doc["spec"]["schedule"]
        assert not schedule.startswith(("CRON_TZ", "TZ")), f"{where}: use spec.timeZone"
        assert check_cron(schedule) == [], f"{where}: {check_cron(schedule)}"
        tz = doc["spec"].get("timeZone")
        assert tz and re.match(r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", tz), f"{where}: timeZone {tz!r}"


@pytest.mark.parametrize(
    "expr,ok",
    [
        ("30 2 * * *", True),
        ("*/15 0-6 1,15 * 1-5", True),
        ("0 0 * * 7", True),
        ("30 2 * *", False),
        ("60 2 * * *", False),
        ("0 24 * * *", False),
        ("0 2 * * * *", False),
        ("0 2 0 * *", False),
        ("@daily", False),
        ("0 5-2 * * *", False),
        ("*/0 * * * *", False),
    ],
)
def test_cron_checker_itself(expr, ok):
    assert (check_cron(expr) == []) is ok


def test_raycronjob_documents_alpha_feature_gate():
    text = (KUBERAY / "raycronjob.yaml").read_text()
    assert "alpha" in text.lower() and "feature gate" in text.lower()
    assert "RayCronJob" in text and "1.6" in text
    readme = (CLUSTERS / "README.md").read_text()
    assert "feature gate" in readme and "alpha" in readme.lower()


# --------------------------------------------------------------------------------------------
# fallback CronJob: its pod creates a RayJob, with just enough RBAC


def test_fallback_cronjob_creates_rayjob():
    docs = {
        (d["kind"], d["metadata"]["name"]): d for d in load_all(KUBERAY / "cronjob-fallback.yaml")
    }
    [cron] = [d for (k, _), d in docs.items() if k == "CronJob"]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    argv = container.get("command", []) + container.get("args", [])
    assert argv[:2] == ["kubectl", "create"], f"the pod must run kubectl create: {argv}"
    manifest = Path(argv[argv.index("-f") + 1])
    # The manifest comes from a ConfigMap volume mounted at its directory.
    [mount] = [m for m in container["volumeMounts"] if Path(m["mountPath"]) == manifest.parent]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    configmap = docs[("ConfigMap", volume["configMap"]["name"])]
    rayjob = yaml.safe_load(configmap["data"][manifest.name])
    assert rayjob["kind"] == "RayJob" and rayjob["apiVersion"] == "ray.io/v1"
    # `kubectl create` + generateName: a new RayJob every night, no name clash.
    assert "generateName" in rayjob["metadata"] and "name" not in rayjob["metadata"]
    assert rayjob["metadata"]["namespace"] == cron["metadata"]["namespace"]

    # RBAC: the pod's ServiceAccount is bound to a Role that can create rayjobs.
    sa = pod["serviceAccountName"]
    assert ("ServiceAccount", sa) in docs
    bindings = [
        d
        for (k, _), d in docs.items()
        if k == "RoleBinding"
        and any(s["kind"] == "ServiceAccount" and s["name"] == sa for s in d["subjects"])
    ]
    assert bindings, f"no RoleBinding for ServiceAccount {sa}"
    role = docs[("Role", bindings[0]["roleRef"]["name"])]
    allowed = [
        r
        for r in role["rules"]
        if "ray.io" in r["apiGroups"] and "rayjobs" in r["resources"] and "create" in r["verbs"]
    ]
    assert allowed, "the Role does not allow creating ray.io rayjobs"
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], "keep the Role narrow"
    assert pod["restartPolicy"] in {"Never", "OnFailure"}
    assert cron["spec"]["concurrencyPolicy"] in {"Forbid", "Replace"}


# --------------------------------------------------------------------------------------------
# Ray cluster launcher config


def ray_schema() -> dict:
    ray = pytest.importorskip("ray")
    path = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"
    assert path.is_file(), f"ray-schema.json not in the installed ray wheel ({path})"
    return json.loads(path.read_text())


def launcher_config() -> dict:
    [config] = load_all(CLUSTERS / "aws.yaml")
    return config


def test_launcher_config_matches_ray_schema():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(launcher_config(), ray_schema())


def test_launcher_schema_check_can_fail():
    jsonschema = pytest.importorskip("jsonschema")
    schema = ray_schema()
    bad = launcher_config()
    bad["available_node_types"]["ray.head.default"]["resources"] = {"CPU": "lots"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    bad = launcher_config()
    bad["setup_commands"] = [{"not": "a string"}]  # what an unquoted `key: value` becomes
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_launcher_config_semantics():
    config = launcher_config()
    assert config["provider"]["type"] == "aws"
    types = config["available_node_types"]
    assert config["head_node_type"] in types
    workers = {k: v for k, v in types.items() if k != config["head_node_type"]}
    assert workers, "no worker node type"
    for name, node in types.items():
        assert "resources" in node and "node_config" in node, name
        assert node["node_config"].get("InstanceType"), name
    assert any(
        v["node_config"]["InstanceType"].startswith(("c7i", "c6i", "c7a")) for v in workers.values()
    )
    for name, node in workers.items():
        assert node["resources"].get("CPU", 0) > 0, f"{name}: solver workers must offer CPUs"
        assert node.get("max_workers", 0) <= config["max_workers"]
    version = pinned_ray_version()
    assert config["docker"]["image"].startswith(f"rayproject/ray:{version}")
    setup = " ".join(config["setup_commands"])
    assert "pip install" in setup and "fleetopt" in setup, "setup_commands must install fleetopt"
    start = " ".join(config["head_start_ray_commands"] + config["worker_start_ray_commands"])
    assert "RAY_AUTH_MODE=token" in start


def test_launcher_commands_are_valid_shell():
    config = launcher_config()
    keys = [k for k in config if k.endswith("_commands")]
    commands = [c for k in keys for c in config[k]]
    assert commands
    for command in commands:
        result = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True)
        assert result.returncode == 0, f"{command!r}: {result.stderr}"


def test_launcher_file_mounts_are_relative_or_home():
    """Mounts must not name a path of one developer's machine."""
    for remote, local in launcher_config().get("file_mounts", {}).items():
        for path in (remote, local):
            assert path.startswith(("~", "./")) or not path.startswith("/"), path


# --------------------------------------------------------------------------------------------
# README


def test_readme_covers_operations():
    readme = (CLUSTERS / "README.md").read_text()
    for needle in (
        "ray up clusters/aws.yaml",
        "ray job submit --working-dir .",
        "RAY_AUTH_MODE=token",
        "RAY_AUTH_TOKEN_PATH",
        "~/.ray/auth_token",
        "PATH",
        "YYYY-MM-DD/RUN_ID",
        "run.json",
        "_SUCCESS",
        "--run-id",
        "cronjob-fallback.yaml",
    ):
        assert needle in readme, f"clusters/README.md does not mention {needle!r}"
