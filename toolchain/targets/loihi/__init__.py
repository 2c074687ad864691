"""Intel Loihi: limits and formats (spec), mapping passes (mapper), cost model (timing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from toolchain.compiler.artifact import CompiledNetwork
from toolchain.compiler.pipeline import compile_network
from toolchain.ir import Network
from toolchain.targets.base import Pass, Simulator, Target
from toolchain.targets.loihi.mapper import passes
from toolchain.targets.loihi.spec import BOARDS, LoihiSpec
from toolchain.targets.loihi.spec import board as lookup_board


class LoihiTarget(Target):
    """A Loihi system (``board``: one of ``spec.BOARDS``, default the 32-chip Nahuku).

    STDP runs on the learning engine model (``learning.py``): ``learning_epoch`` is the
    epoch length in steps; ``learning_seed`` switches weight rounding from nearest to
    stochastic, drawn from a generator with that seed.
    """

    name: ClassVar[str] = "loihi"

    def __init__(self, board: str = "nahuku32", *, rate_hz: float = 10.0,
                 strict: bool = True, learning_epoch: int = 1,
                 learning_seed: int | None = None) -> None:
        self.board = board
        self.spec = LoihiSpec(board=lookup_board(board))
        self.rate_hz = rate_hz
        self.strict = strict
        self.learning_epoch, self.learning_seed = learning_epoch, learning_seed

    def passes(self) -> Sequence[Pass]:
        return passes(self.learning_epoch, stochastic=self.learning_seed is not None)

    def compile(self, network: Network) -> CompiledNetwork:
        return compile_network(network, self, strict=self.strict, rate_hz=self.rate_hz)

    def simulator(self, compiled: CompiledNetwork) -> Simulator:
        try:
            from toolchain.targets.loihi.numerics import LoihiNumerics
        except ImportError:
            raise NotImplementedError(
                "Loihi's bit-accurate numerics (toolchain.targets.loihi.numerics) are not "
                "available in this build; compile-only use works, simulate on 'reference'"
            ) from None
        from toolchain.sim.engine import Engine

        numerics = LoihiNumerics(learning_epoch=self.learning_epoch,
                                 learning_seed=self.learning_seed)
        return Engine(compiled.network, numerics=numerics, target=self.name)


__all__ = ["BOARDS", "LoihiSpec", "LoihiTarget"]
