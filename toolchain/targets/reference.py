"""The float64 reference target: exact integration where the dynamics are linear, ideal
interconnect, no quantisation.  Every hardware target is compared against it, and it is
checked against Brian2 (tests/sim)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from toolchain.compiler.artifact import (
    CompiledNetwork,
    Cores,
    Placement,
    Routes,
    StepEstimate,
    TargetDetail,
)
from toolchain.compiler.describe import (
    Activity,
    WeightFormat,
    projection_numerics,
    spikes_per_step,
    synaptic_events_per_step,
)
from toolchain.compiler.encode import encode
from toolchain.compiler.pipeline import Build, Pass
from toolchain.compiler.spec import Mesh
from toolchain.ir import Network
from toolchain.sim.engine import Engine
from toolchain.sim.numerics import COND_SCHEMES, ReferenceNumerics
from toolchain.targets.base import Target
from toolchain.targets.options import RUN, Option, Options
from toolchain.targets.support import FEATURES, Support, native


@dataclass(frozen=True)
class ReferenceSpec:
    """The host computer: no cores, no limits."""

    name: str = "reference"
    limits: None = None

    @property
    def mesh(self) -> Mesh:
        return Mesh("host", 1, 1, 1, 1, 1)


SUPPORT = {feature: native("float64, exact propagators where the dynamics are linear "
                           "(Brian2's Euler for conductances)",
                           "checked against Brian2: tests/sim/test_brian2_agreement.py")
           for feature in FEATURES}


class ReferenceTarget(Target):
    """Runs the IR as it is: weights in float64, delays in whole steps, no cores."""

    name: ClassVar[str] = "reference"
    SUPPORT: ClassVar[Mapping[str, Support]] = SUPPORT
    OPTIONS: ClassVar[Options] = Options(
        Option("cond_scheme", str, "euler", "how IF_cond_exp is integrated: 'euler' "
               "(Brian2's choice) or the second-order mean-conductance scheme",
               choices=tuple(COND_SCHEMES), stage=RUN),
    )

    def configure(self) -> None:
        self.numerics = ReferenceNumerics(self.config["cond_scheme"])
        self.spec = ReferenceSpec()  # type: ignore[assignment]
        self.board = "host"

    def passes(self) -> Sequence[Pass]:
        return (_describe, encode)

    def estimate(self, compiled: CompiledNetwork, activity: Activity) -> StepEstimate:
        return _estimate(compiled.network, activity)

    def make_simulator(self, compiled: CompiledNetwork,
                       detail: TargetDetail | None) -> Engine:
        return Engine(compiled.network, numerics=self.numerics, target=self.name)


def _describe(build: Build) -> Build:
    """Pass: the network as it runs on the host: exact weights, whole-step delays."""
    net = build.network
    fmt = WeightFormat(unit=0.0, exponent=0, weight_bits=64, max_mantissa=0)  # exact
    numerics = tuple(projection_numerics(p, fmt, realised=None,
                                         saturated=0, step_ms=net.dt, delay_bits=0)
                     for p in net.projections)
    empty = np.zeros(0)
    return build.replace(
        cores=Cores.from_rows(()), placement=Placement(chip=empty, x=empty, y=empty,
                                                       slot=empty, method="none (host)"),
        routes=Routes.from_rows(()), numerics=numerics,
        estimate=_estimate(net, build.activity))


def _estimate(net: Network, activity: Activity) -> StepEstimate:
    """Event counts only: the host's time and energy are not a hardware figure."""
    nan = math.nan
    return StepEstimate(
        rate_hz=activity.planned_rate_hz, compute_ns=nan, noc_ns=nan, barrier_ns=nan,
        synaptic_ops=synaptic_events_per_step(net, activity),
        neuron_updates=float(net.n_neurons), spikes_out=spikes_per_step(net, activity),
        hop_messages_x=0.0, hop_messages_y=0.0, energy_synops_pj=nan,
        energy_updates_pj=nan, energy_spikes_pj=nan, energy_noc_pj=nan, slowest_core=-1,
        basis=activity.basis,
    )
