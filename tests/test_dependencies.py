"""The dependency ranges have one source, pyproject.toml, and every copy of them agrees.

`make test-oldest` runs the tests on the lowest allowed releases by installing through
constraints-oldest.txt: these tests fail as soon as it drifts from pyproject.toml's [project]
dependencies.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "constraints-oldest.txt"


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
