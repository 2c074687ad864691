"""spikeport: write a spiking network once in PyNN; compile, co-simulate and deploy it on
neuromorphic hardware (Loihi, SpiNNaker2, DYNAP-SE, and an open FPGA LIF/STDP core).

The Python API in four calls (PyNN users need none of them: ``setup(target=...)`` does it)::

    import toolchain as sp
    net = sp.load("net.spnet")                      # or build a toolchain.ir.Network
    compiled = sp.compile(net, "loihi")             # raises if it does not fit, saying why
    result = sp.simulate(net, "loihi", t_stop=500)  # a SimulationResult
    report = sp.deviation(net, "loihi", t_stop=500) # vs the float reference
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# the artifact's kinds, registered with ir.io here so that loading a saved artifact works
# whatever was imported before (the IR itself imports nothing above it)
import toolchain.compiler.artifact  # noqa: F401
from toolchain.ir import load, save

if TYPE_CHECKING:
    from toolchain.compiler.artifact import CompiledNetwork
    from toolchain.ir import Network
    from toolchain.sim.metrics import DeviationReport
    from toolchain.sim.results import SimulationResult

__version__ = "0.1.0"


def compile(network: Network, target: str = "reference", *, strict: bool = True,
            rate_hz: float = 10.0, fit: str = "strict", **options: Any) -> CompiledNetwork:
    """Map ``network`` onto ``target`` (constructed with its ``options``); a broken limit
    raises ``MappingError``, or with ``strict=False`` is recorded in the artifact.
    ``fit='approximate'`` lets the target apply its documented approximations to make the
    network fit instead (``artifact.approximations`` lists what they changed)."""
    from toolchain.targets import get_target

    return get_target(target, fit=fit, **options).compile(network, strict=strict,
                                                           rate_hz=rate_hz)


def simulate(network: Network | CompiledNetwork, target: str = "reference", *,
             t_stop: float, **options: Any) -> SimulationResult:
    """Co-simulate for ``t_stop`` ms: a network compiled for ``target`` (constructed with
    ``options``, ``fit=`` among them), or an artifact (also one loaded from disk) on the
    target it was compiled for."""
    from toolchain.compiler.artifact import CompiledNetwork
    from toolchain.targets import get_target, target_for

    if isinstance(network, CompiledNetwork):
        tgt = target_for(network)
        sim = tgt.simulator(network)
    else:
        tgt = get_target(target, **options)
        sim = tgt.simulator(tgt.compile(network))
    sim.run_until(t_stop)
    return sim.result()


def deviation(network: Network, target: str, *, t_stop: float,
              **options: Any) -> DeviationReport:
    """How far ``target``'s behaviour is from the float reference on ``network``."""
    from toolchain.sim.metrics import compare

    reference = simulate(network, "reference", t_stop=t_stop)
    return compare(reference, simulate(network, target, t_stop=t_stop, **options),
                   t_stop=t_stop)


__all__ = ["__version__", "compile", "deviation", "load", "save", "simulate"]
