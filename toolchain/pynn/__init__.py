"""spikeport as a PyNN 0.13 backend: ``import toolchain.pynn as sim`` (or, once this module
is imported, ``import pyNN.spikeport as sim``).

A script builds its network with the standard PyNN API; the first ``run()`` captures it
into a ``toolchain.ir.Network``, compiles it for the target named in
``setup(target=...)`` and executes it on that target's simulator.  Recorded data come back
as Neo blocks, as from any PyNN backend.
"""

import sys

from pyNN import errors, random, space  # noqa: F401
from pyNN.connectors import (  # noqa: F401
    AllToAllConnector,
    ArrayConnector,
    CloneConnector,
    Connector,
    CSAConnector,
    DisplacementDependentProbabilityConnector,
    DistanceDependentProbabilityConnector,
    FixedNumberConnector,
    FixedNumberPostConnector,
    FixedNumberPreConnector,
    FixedProbabilityConnector,
    FixedTotalNumberConnector,
    FromFileConnector,
    FromListConnector,
    IndexBasedProbabilityConnector,
    MapConnector,
    OneToOneConnector,
    SmallWorldConnector,
)
from pyNN.core import IndexBasedExpression  # noqa: F401
from pyNN.network import Network  # noqa: F401
from pyNN.parameters import Sequence  # noqa: F401
from pyNN.random import GSLRNG, NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.space import Space  # noqa: F401
from pyNN.standardmodels import StandardCellType

from toolchain.pynn.control import (  # noqa: F401
    end,
    get_current_time,
    get_max_delay,
    get_min_delay,
    get_time_step,
    initialize,
    num_processes,
    rank,
    reset,
    run,
    run_for,
    run_until,
    setup,
)
from toolchain.pynn.populations import Assembly, Population, PopulationView  # noqa: F401
from toolchain.pynn.procedural_api import (  # noqa: F401
    connect,
    create,
    record,
    record_gsyn,
    record_v,
    set,
)
from toolchain.pynn.projections import Projection  # noqa: F401
from toolchain.pynn.random import NativeRNG  # noqa: F401
from toolchain.pynn.standardmodels import (  # noqa: F401
    CELL_TYPES,
    CURRENT_SOURCES,
    LIF,
    RESPONSES,
    SYNAPSE_TYPES,
    ACSource,
    AdditivePotentiationMultiplicativeDepression,
    AdditiveWeightDependence,
    AdExp,
    AlphaPSR,
    CondAlphaPostSynapticResponse,
    CondBetaPostSynapticResponse,
    CondExpPostSynapticResponse,
    CurrExpPostSynapticResponse,
    DCSource,
    EIF_cond_alpha_isfa_ista,
    EIF_cond_exp_isfa_ista,
    ElectricalSynapse,
    ExpPSR,
    GIF_cond_exp,
    GutigWeightDependence,
    HH_cond_exp,
    IF_cond_alpha,
    IF_cond_exp,
    IF_cond_exp_gsfa_grr,
    IF_curr_alpha,
    IF_curr_delta,
    IF_curr_exp,
    IF_facets_hardware1,
    Izhikevich,
    MultiplicativeWeightDependence,
    MultiQuantalSynapse,
    NoisyCurrentSource,
    PointNeuron,
    SimpleStochasticSynapse,
    SpikePairRule,
    SpikeSourceArray,
    SpikeSourceGamma,
    SpikeSourceInhGamma,
    SpikeSourcePoisson,
    SpikeSourcePoissonRefractory,
    StaticSynapse,
    STDPMechanism,
    StepCurrentSource,
    StochasticTsodyksMarkramSynapse,
    TsodyksMarkramSynapse,
    Vogels2011Rule,
)


def list_standard_models() -> list[str]:
    """The StandardCellType classes this backend offers."""
    return [obj.__name__ for obj in globals().values()
            if isinstance(obj, type) and issubclass(obj, StandardCellType)
            and obj is not StandardCellType]


def __getattr__(name: str) -> object:
    """PyNN models this backend lacks (multi-compartment neurons, native models): an
    AttributeError (so ``hasattr`` stays False) that names the supported alternatives."""
    from pyNN.standardmodels import cells, electrodes, synapses

    for kind, module, have in (
        ("cell type", cells, [c.__name__ for c in CELL_TYPES]),
        ("current source", electrodes, [c.__name__ for c in CURRENT_SOURCES]),
        ("synapse type", synapses, [c.__name__ for c in SYNAPSE_TYPES]),
    ):
        if isinstance(getattr(module, name, None), type):
            raise AttributeError(
                f"PyNN {kind} {name} is not supported by spikeport; "
                f"use one of: {', '.join(have)}"
            )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_as_pynn_backend() -> None:
    """Make ``import pyNN.spikeport`` (and ``get_simulator`` with "spikeport") find this
    package, without writing into the installed pyNN."""
    import pyNN

    this = sys.modules[__name__]
    sys.modules.setdefault("pyNN.spikeport", this)
    pyNN.spikeport = this
    prefix = __name__ + "."
    for name, module in list(sys.modules.items()):
        if name.startswith(prefix) and module is not None:
            sys.modules.setdefault("pyNN.spikeport." + name[len(prefix):], module)


register_as_pynn_backend()
