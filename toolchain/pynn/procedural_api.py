"""PyNN's procedural API (create, connect, record) over this backend's classes."""

from pyNN import common
from pyNN.connectors import FixedProbabilityConnector

from toolchain.pynn import simulator
from toolchain.pynn.populations import Population
from toolchain.pynn.projections import Projection
from toolchain.pynn.standardmodels import StaticSynapse

create = common.build_create(Population)

connect = common.build_connect(Projection, FixedProbabilityConnector, StaticSynapse)

set = common.set  # PyNN's name, shadowing the builtin as in every backend

record = common.build_record(simulator)


def record_v(source: object, filename: str) -> object:
    return record(["v"], source, filename)


def record_gsyn(source: object, filename: str) -> object:
    return record(["gsyn_exc", "gsyn_inh"], source, filename)
