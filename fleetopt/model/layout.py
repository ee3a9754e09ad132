"""Where each variable block lives in the solver's column vector.

Blocks are declared by name, size and the index table their variables follow (`over`,
e.g. "sr": one variable per (site, rack type) pair); the layout lays them out one after
the other. A new axis (a period, a scenario) is a new block or a bigger one, never new
offset arithmetic:

    layout = VariableLayout.of(("n", n_sr, "sr"), ("a", n_sr, "sr"), ...)
    x[layout.n]          # the n block of a solution vector
    layout.cols("a")     # its column numbers
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


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

    def __getattr__(self, name: str) -> slice:
        if name.startswith("__") or name == "blocks":
            raise AttributeError(name)
        return self.block(name).slice

    def block(self, name: str) -> Block:
        for block in self.blocks:
            if block.name == name:
                return block
        raise AttributeError(f"no variable block {name!r}")

    def cols(self, name: str) -> np.ndarray:
        """The column numbers of block `name`."""
        block = self.block(name)
        return np.arange(block.start, block.start + block.size)

    def __contains__(self, name: object) -> bool:
        """Whether the layout has a block `name` (models differ in their optional blocks)."""
        return any(block.name == name for block in self.blocks)

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)

    @property
    def size(self) -> int:
        return sum(b.size for b in self.blocks)
