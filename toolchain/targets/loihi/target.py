"""The ``loihi`` target: a Loihi 1 system mapped by the shared compiler passes and
co-simulated on the shared engine with Loihi's bit-accurate arithmetic."""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from toolchain.compiler.artifact import CompiledNetwork, StepEstimate, TargetDetail
from toolchain.compiler.describe import Activity
from toolchain.compiler.pipeline import Build, Pass, run_passes
from toolchain.ir import DCSource, Network, NoisyCurrentSource
from toolchain.sim.clock import nearest_step
from toolchain.sim.engine import Engine
from toolchain.targets.base import Target
from toolchain.targets.loihi.artifact import LoihiDetail
from toolchain.targets.loihi.convert import DEFAULT_VTH_MANT, convert_population
from toolchain.targets.loihi.fixed import VTH_MANT_MAX
from toolchain.targets.loihi.mapper import noise_conversions, passes
from toolchain.targets.loihi.spec import APPROXIMATIONS, BOARDS, LIMITS, SUPPORT, LoihiSpec
from toolchain.targets.loihi.spec import board as lookup_board
from toolchain.targets.loihi.timing import (
    compartments_per_core,
    step_cost,
    streamed_bias_writes,
)
from toolchain.targets.options import Option, Options
from toolchain.targets.recording import one_current_refusals, reported_current
from toolchain.targets.support import Support

if TYPE_CHECKING:
    from toolchain.targets.loihi.numerics import CompartmentNoise


class LoihiTarget(Target):
    """A Loihi system (``board``: one of ``spec.BOARDS``, default the 32-chip Nahuku).

    STDP runs on the learning engine model (``learning.py``): ``learning_epoch`` is the
    epoch length in steps; ``learning_seed`` switches weight rounding from nearest to
    stochastic, drawn from a generator with that seed.
    """

    name: ClassVar[str] = "loihi"
    OPTIONS: ClassVar[Options] = Options(
        Option("board", str, "nahuku32", "the Loihi system (chips on a grid)",
               choices=tuple(BOARDS)),
        Option("learning_epoch", int, 1, "learning-engine epoch length in steps (STDP)"),
        Option("learning_seed", int, None, "seed of stochastic weight rounding in STDP "
               "(none: round to nearest)"),
        Option("vth_mant", int, DEFAULT_VTH_MANT, "threshold mantissa of every population, "
               "its voltage scale: lower gives large weights room, at a coarser v"),
    )
    LIMITS: ClassVar[Mapping[str, str]] = LIMITS
    APPROXIMATIONS: ClassVar[Mapping[str, str]] = APPROXIMATIONS
    SUPPORT: ClassVar[Mapping[str, Support]] = SUPPORT

    @classmethod
    def catalogue(cls) -> list[str]:
        return ["boards:", *(f"  {b.name:<22} {b.n_chips} chip(s) of 128 cores: "
                             f"{b.description}" for b in BOARDS.values())]

    def configure(self) -> None:
        self.board = self.config["board"]
        self.spec = LoihiSpec(board=lookup_board(self.board))
        self.learning_epoch = self.config["learning_epoch"]
        self.learning_seed = self.config["learning_seed"]
        self.vth_mant = self.config["vth_mant"]
        if self.learning_epoch < 1:
            from toolchain.targets.options import TargetOptionError

            raise TargetOptionError(f"target 'loihi' option learning_epoch="
                                    f"{self.learning_epoch} must be at least 1 step")
        if not 1 <= self.vth_mant <= VTH_MANT_MAX:
            from toolchain.targets.options import TargetOptionError

            raise TargetOptionError(f"target 'loihi' option vth_mant={self.vth_mant} is "
                                    f"outside Loihi's threshold mantissa, 1..{VTH_MANT_MAX}")

    def passes(self) -> Sequence[Pass]:
        return passes(self.learning_epoch, stochastic=self.learning_seed is not None,
                      vth_mant=self.vth_mant)

    def remap(self, compiled: CompiledNetwork) -> LoihiDetail:
        """The partition's rows again (the passes are deterministic; under the fit policy
        the artifact was compiled with, so that what it approximated maps again)."""
        build = Build(network=compiled.network, spec=self.spec, board=self.board,
                      strict=False, target=self.name, fit=compiled.options.get("fit", self.fit))
        upto = [p for p in self.passes()
                if p.__name__ not in ("estimate_step", "compartment_section", "bias_section",
                                      "learning_section", "encode")]
        return LoihiDetail(run_passes(build, upto).need("rows", "remap"))

    def estimate(self, compiled: CompiledNetwork, activity: Activity) -> StepEstimate:
        detail = self.detail(compiled)
        assert isinstance(detail, LoihiDetail)
        return step_cost(compiled.network, self.spec.costs, compiled.cores,
                         compiled.placement, detail.rows, activity,
                         compartments=compartments_per_core(compiled.network, self.spec,
                                                            compiled.cores),
                         bias_writes=streamed_bias_writes(compiled.network),
                         bias_write=self.spec.bias_write)

    def detail(self, compiled: CompiledNetwork) -> LoihiDetail:
        return compiled.detail if isinstance(compiled.detail, LoihiDetail) \
            else self.remap(compiled)

    def make_simulator(self, compiled: CompiledNetwork,
                       detail: TargetDetail | None) -> Engine:
        from toolchain.targets.loihi.numerics import LoihiNumerics

        net = compiled.network
        net, noise = self.on_noise_generators(net)
        numerics = LoihiNumerics(vth_mant=self.vth_mant, learning_epoch=self.learning_epoch,
                                 learning_seed=self.learning_seed,
                                 currents={p.label: reported_current(net, p.label)
                                           for p in net.populations}, noise=noise)
        return Engine(net, numerics=numerics, target=self.name)

    def on_noise_generators(self, net: Network
                            ) -> tuple[Network, dict[str, tuple[CompartmentNoise, ...]]]:
        """``net`` as the chip runs it: each NoisyCurrentSource (only in an artifact
        compiled with fit='approximate') becomes its mean on the bias schedule (a DCSource
        of the same label and window) and its population's noise generator draws."""
        noisy = [c for c in net.currents if isinstance(c, NoisyCurrentSource)]
        if not noisy:
            return net, {}
        from toolchain.targets.loihi.numerics import CompartmentNoise

        pops = {p.label: p for p in net.populations}
        conversions = {t: convert_population(pops[t], net.dt, vth_mant=self.vth_mant,
                                             clip_refractory=True)
                       for t in {c.target for c in noisy}}
        found = noise_conversions(net, conversions)
        noise: dict[str, tuple[CompartmentNoise, ...]] = {}
        currents = []
        for c in net.currents:
            if not isinstance(c, NoisyCurrentSource):
                currents.append(c)
                continue
            nc = found[c.label]
            currents.append(DCSource(c.label, c.target, c.indices, nc.mean_na, c.start,
                                     c.stop))
            stop = int(nearest_step(c.stop, net.dt)) if math.isfinite(c.stop) else None
            noise[c.target] = (*noise.get(c.target, ()), CompartmentNoise(
                c.indices, int(nearest_step(c.start, net.dt)), stop, nc.multiplier,
                (net.seed, c.seed, zlib.crc32(c.label.encode()))))
        return net.replace(currents=tuple(currents)), noise

    def record_refusals(self, network: Network) -> list[str]:
        two = {p.label for p in network.populations
               if self.spec.compartments(p, network.dt) > 1}
        return one_current_refusals(network, "a Loihi compartment", two)

    def simulator(self, compiled: CompiledNetwork) -> Engine:
        """The engine with Loihi's numerics (the rows are not needed to run)."""
        return self.make_simulator(self.accept(compiled), None)
