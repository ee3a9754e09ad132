"""Where each variable block lives in the solver's column vector.

Blocks are declared by name, size and the index table their variables follow (`over`,
e.g. "sr": one variable per (site, rack type) pair); the layout lays them out one after
the other. A new axis (a period, a scenario) is a new block or a bigger one, never new
offset arithmetic: every column number comes from here.

    layout = VariableLayout.of(("n", n_sr, "sr"), ("a", n_sr, "sr"), ...)
    x[layout.n]              # the n block of a solution vector (a declared attribute)
    layout.cols("a")         # its column numbers
    layout.col("a", rows)    # the columns of some of its rows (positions in its table)

The fleet model's blocks are declared attributes (n, a, f, y, m, b in every model; u, d, e,
eta, z in the models that have them: `has`); others (a diagnosis's slack columns, the
extensive form's) are read by name with `block`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SCENARIO_TABLE = "scenario"  # `over` of one-per-scenario blocks and rows (eta, z, tail)


@dataclass(frozen=True)
class Block:
    """One block of variables: contiguous columns [start, start + size)."""

    name: str
    start: int
    size: int
    over: str  # the index table (of fleetopt.model.index) whose rows the variables follow

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)


@dataclass(frozen=True)
class VariableLayout:
    """The blocks of a model in column order; `layout.<name>` is a block's slice."""

    blocks: tuple[Block, ...]

    @classmethod
    def of(cls, *specs: tuple[str, int, str]) -> VariableLayout:
        """Lay out blocks given as (name, size, over), in that order."""
        blocks, start = [], 0
        for name, size, over in specs:
            blocks.append(Block(name, start, int(size), over))
            start += int(size)
        return cls(tuple(blocks))

    def block(self, name: str) -> Block:
        for block in self.blocks:
            if block.name == name:
                return block
        raise AttributeError(f"no variable block {name!r}")

    def cols(self, name: str) -> np.ndarray:
        """The column numbers of block `name`."""
        block = self.block(name)
        return np.arange(block.start, block.start + block.size)

    def col(self, name: str, positions: np.ndarray) -> np.ndarray:
        """The columns of block `name`'s variables at `positions` of its index table."""
        return self.block(name).start + np.asarray(positions, dtype=np.int64)

    def has(self, name: str) -> bool:
        """Whether the layout has a block `name` (models differ in their optional blocks)."""
        return any(block.name == name for block in self.blocks)

    def present(self, *names: str) -> list[str]:
        """Those of `names` the layout has, in that order: a sum over blocks, some of them
        optional (the unmet share: m, and u where the model has it)."""
        return [name for name in names if self.has(name)]

    # The fleet model's blocks (docs/model.md sections 3 and 9), as slices of the columns.
    @property
    def n(self) -> slice:
        """Racks in service per `sr` row."""
        return self.block("n").slice

    @property
    def a(self) -> slice:
        """Powered racks per `sr` row."""
        return self.block("a").slice

    @property
    def f(self) -> slice:
        """Share of a workload served at a site per `sw` row."""
        return self.block("f").slice

    @property
    def y(self) -> slice:
        """Busy rack-equivalents per `y` row."""
        return self.block("y").slice

    @property
    def m(self) -> slice:
        """Unmet share per `wk` row."""
        return self.block("m").slice

    @property
    def b(self) -> slice:
        """New racks per `buy` row."""
        return self.block("b").slice

    @property
    def u(self) -> slice:
        """Shortfall below the minimum served share per `wk` row (where the model has it)."""
        return self.block("u").slice

    @property
    def d(self) -> slice:
        """Racks delivered per `sr` row (two-stage models)."""
        return self.block("d").slice

    @property
    def e(self) -> slice:
        """Recourse racks per `sr` row (two-stage models with recourse)."""
        return self.block("e").slice

    @property
    def eta(self) -> slice:
        """The value-at-risk level (two-stage models with a CVaR objective)."""
        return self.block("eta").slice

    @property
    def z(self) -> slice:
        """The cost above eta (two-stage models with a CVaR objective)."""
        return self.block("z").slice

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)

    @property
    def size(self) -> int:
        return sum(b.size for b in self.blocks)
