"""The dependency ranges have one source, pyproject.toml, and every copy of them agrees.

`make test-oldest` runs the tests on the lowest allowed releases by installing through
constraints-oldest.txt, and the Ray clusters in clusters/ install the same ranges: these tests
fail as soon as either drifts from pyproject.toml's [project] dependencies.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "constraints-oldest.txt"
CLUSTER_REQUIREMENTS = REPO / "clusters" / "requirements.txt"


def declared() -> list[Requirement]:
    """pyproject.toml's runtime dependencies."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def requirement_lines(path: Path) -> list[Requirement]:
    """The requirements of a pip requirements or constraints file (comments and blanks left out)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def lower_bound(req: Requirement) -> Version | None:
    """The lowest version a requirement allows: its `>=` or `==` version (None without one)."""
    bounds = [Version(s.version) for s in req.specifier if s.operator in {">=", "=="}]
    return max(bounds, default=None)


def test_every_dependency_declares_a_lower_bound():
    missing = [str(req) for req in declared() if lower_bound(req) is None]
    assert not missing, f"no lower bound (>= or ==) in pyproject.toml: {missing}"


def test_oldest_constraints_are_pyproject_lower_bounds():
    pins = {}
    for req in requirement_lines(CONSTRAINTS):
        (spec,) = req.specifier
        assert spec.operator == "==", f"{CONSTRAINTS.name}: {req} is not a pin (==)"
        pins[canonicalize_name(req.name)] = Version(spec.version)
    bounds = {canonicalize_name(req.name): lower_bound(req) for req in declared()}
    assert pins == bounds, f"{CONSTRAINTS.name} must pin pyproject.toml's lower bounds"


def test_oldest_constraints_are_allowed():
    """Each pin lies inside pyproject.toml's range (a lower bound above an upper one fails)."""
    ranges = {canonicalize_name(req.name): req.specifier for req in declared()}
    for req in requirement_lines(CONSTRAINTS):
        (spec,) = req.specifier
        assert Version(spec.version) in ranges[canonicalize_name(req.name)], str(req)


def test_cluster_requirements_are_pyproject_dependencies():
    assert sorted(map(str, requirement_lines(CLUSTER_REQUIREMENTS))) == sorted(
        map(str, declared())
    ), f"{CLUSTER_REQUIREMENTS.relative_to(REPO)} must list pyproject.toml's dependencies"


def test_clusters_state_pyproject_ranges():
    """Every dependency range written anywhere in clusters/ (a pip line, a comment, the README)
    is pyproject.toml's; the cluster configs install fleetopt itself (its wheel or a repository
    archive) or clusters/requirements.txt, so they get pyproject.toml's ranges."""
    ranges = {canonicalize_name(req.name): req.specifier for req in declared()}
    names = "|".join(re.escape(name) for name in ranges)
    # A requirement as pip reads it: a name, extras, then specifiers with no space before
    # them (prose such as "Ray >= 2.52" says when a feature came, not what to install).
    spec = r"(?:==|>=|<=|~=|!=|<|>)[0-9][\w.*]*"
    stated = re.compile(rf"\b({names})(?:\[[\w,]+\])?((?:{spec},?)+)")
    found, differ = 0, []
    for path in sorted((REPO / "clusters").rglob("*")):
        for number, line in enumerate(path.read_text().splitlines() if path.is_file() else []):
            for match in stated.finditer(line):
                found += 1
                name, text = canonicalize_name(match[1]), match[2].rstrip(",")
                if SpecifierSet(text) != ranges[name]:
                    where = f"{path.relative_to(REPO)}:{number + 1}"
                    differ.append(f"{where}: {match[0]} (pyproject.toml: {ranges[name]})")
    assert found >= len(ranges), "the checker found too few ranges in clusters/ to be working"
    assert not differ, "ranges other than pyproject.toml's in clusters/:\n" + "\n".join(differ)
