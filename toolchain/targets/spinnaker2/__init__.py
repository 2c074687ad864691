"""SpiNNaker2: 152 Cortex-M4F PEs per chip, SRAM-resident synapse rows, multicast key/mask
routing between chips, timer-tick real-time execution.

``compile`` maps (quantise, partition, place, delay extensions, keys, router tables) and
raises a clear error when the network does not fit; ``simulator`` co-simulates the result
on the shared engine with the PE arithmetic and the per-tick timing model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from toolchain.compiler.artifact import CompiledNetwork
from toolchain.compiler.pipeline import Build, run_passes
from toolchain.ir import Network
from toolchain.targets.base import Pass, Target
from toolchain.targets.spinnaker2.artifact import build_artifact, spinnaker2_report
from toolchain.targets.spinnaker2.mapper import Mapping, MappingError, map_network
from toolchain.targets.spinnaker2.routing import Routing, RoutingError, route
from toolchain.targets.spinnaker2.spec import BOARDS, Board, SpecError, SpiNNaker2Spec, grid


@dataclass
class SpiNNaker2Compiled:
    """A network mapped onto a SpiNNaker2 machine: slices, placement, keys, router tables."""

    network: Network
    spec: SpiNNaker2Spec
    mapping: Mapping
    routing: Routing

    def resources(self) -> dict[str, float]:
        """What the mapping uses; physical resources, not semantic effects."""
        slices = self.mapping.slices
        kinds = {k: sum(s.kind == k for s in slices) for k in ("neurons", "source", "delay")}
        return {
            "pes": len(slices),
            "pes_neurons": kinds["neurons"],
            "pes_sources": kinds["source"],
            "pes_delay_extension": kinds["delay"],
            "chips": len({s.chip for s in slices}),
            "router_entries_max": self.routing.max_entries,
            "router_entries_total": self.routing.total_entries,
            "router_entries_before_minimisation": sum(self.routing.entries_before.values()),
            "row_bytes_total": sum(s.row_bytes for s in slices),
            "synapse_storage": self.spec.synapse_storage,
            **self.mapping.stats,
        }


def board_named(name: str) -> Board:
    """'1-chip', '48-chip', or 'WxH' for a W x H torus of chips."""
    if name in BOARDS:
        return BOARDS[name]()
    m = re.fullmatch(r"(\d+)x(\d+)", name)
    if m:
        return grid(int(m.group(1)), int(m.group(2)))
    raise SpecError(f"unknown spinnaker2 board '{name}'; use one of: "
                    f"{', '.join(BOARDS)}, or 'WxH' (e.g. '10x10') for a torus of chips")


class SpiNNaker2Target(Target):
    """SpiNNaker2 machine model.

    The keyword options override the ``SpiNNaker2Spec`` field of the same name (``spec``
    replaces the whole spec, the other options still apply on top).  ``tick_ms=None`` takes
    the network's dt when it is a SpiNNaker timer tick (1 or 0.1 ms) and 1 ms otherwise.
    """

    name: ClassVar[str] = "spinnaker2"

    def __init__(self, board: str | Board = "1-chip", tick_ms: float | None = None, *,
                 neurons_per_pe: int | None = None, numerics: str | None = None,
                 late_spikes: str | None = None, ring_buffer_ticks: int | None = None,
                 pe_clock_hz: float | None = None, code_and_stack_bytes: int | None = None,
                 synapse_storage: str | None = None, fit_tick: bool | None = None,
                 planned_rate_hz: float | None = None,
                 spec: SpiNNaker2Spec | None = None) -> None:
        self.machine = board_named(board) if isinstance(board, str) else board
        self.board = self.machine.name  # the shared compiler's name for the board
        self.tick_ms = tick_ms
        self.base = spec
        options = {"neurons_per_pe": neurons_per_pe, "numerics": numerics,
                   "late_spikes": late_spikes, "ring_buffer_ticks": ring_buffer_ticks,
                   "pe_clock_hz": pe_clock_hz, "code_and_stack_bytes": code_and_stack_bytes,
                   "synapse_storage": synapse_storage, "fit_tick": fit_tick,
                   "planned_rate_hz": planned_rate_hz}
        self.overrides = {k: v for k, v in options.items() if v is not None}
        self.spec = self.spec_for(None)  # checks the options now, not at compile time

    def spec_for(self, network: Network | None) -> SpiNNaker2Spec:
        tick = self.tick_ms
        if tick is None:
            tick = network.dt if network is not None and network.dt in (1.0, 0.1) else 1.0
        base = self.base if self.base is not None else SpiNNaker2Spec()
        return base.replace(board=self.machine, tick_ms=tick, **self.overrides)

    def map(self, network: Network) -> SpiNNaker2Compiled:
        """The full SpiNNaker2 mapping (slices, keys, router tables); raises ``MappingError``
        or ``RoutingError`` when the network does not fit."""
        last = getattr(self, "_last", None)
        if last is not None and last.network is network:  # compile() then simulator()
            return last
        spec = self.spec_for(network)
        mapping = map_network(network, spec)
        self._last = SpiNNaker2Compiled(network, spec, mapping, route(mapping))
        return self._last

    def passes(self) -> Sequence[Pass]:
        return (self._map, _artifact)

    def _map(self, build: Build) -> Build:
        return build.replace(extras={**build.extras, "spinnaker2": self.map(build.network)})

    def compile(self, network: Network) -> CompiledNetwork:
        """The shared artifact; the mapping detail is deterministic and is recomputed from
        the artifact's network when a simulator needs it (:meth:`simulator`)."""
        build = Build(network=network, spec=self.spec, board=self.board)  # type: ignore[arg-type]
        return run_passes(build, self.passes()).need("artifact", "compile")

    def report(self, compiled: CompiledNetwork) -> str:
        """The shared compile report plus the SpiNNaker2 resources."""
        return compiled.report() + spinnaker2_report(self.map(compiled.network).resources())

    def simulator(self, compiled: CompiledNetwork | SpiNNaker2Compiled | Network) -> Any:
        from toolchain.targets.spinnaker2.sim import SpiNNaker2Simulator

        if not isinstance(compiled, SpiNNaker2Compiled):
            network = compiled if isinstance(compiled, Network) else compiled.network
            compiled = self.map(network)
        return SpiNNaker2Simulator(compiled.network, compiled.mapping)


def _artifact(build: Build) -> Build:
    m: SpiNNaker2Compiled = build.extras["spinnaker2"]
    art = build_artifact(build.network, m.mapping, m.routing, build.board, build.rate_hz)
    return build.replace(cores=art.cores, placement=art.placement, routes=art.routes,
                         numerics=art.numerics, artifact=art)


__all__ = ["MappingError", "RoutingError", "SpecError", "SpiNNaker2Compiled", "SpiNNaker2Spec",
           "SpiNNaker2Target", "board_named"]
