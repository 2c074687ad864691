"""Projection: synapses held as flat arrays (int32 indices, float32 weight and delay).

Connections are drawn by the vectorised builders in :mod:`toolchain.pynn.connect`; the
arrays are what the IR stores, so building the network at ``run()`` copies nothing.
Values read back come through ``ir.network.as_given`` (0.015 set is 0.015 read, not the
float32 0.014999999664723873).  Parameters of synapse dynamics (U, tau_rec, p...) are
float64, one value for the projection or one per synapse.  Plastic weights read after a
run come from the target (they change there); everything set between runs reaches it at
the next run.
"""

from __future__ import annotations

import numpy as np
from pyNN import common, errors
from pyNN.parameters import LazyArray
from pyNN.random import RandomDistribution
from pyNN.space import Space
from pyNN.standardmodels.base import excitatory_receptor_types, inhibitory_receptor_types

from toolchain.ir.network import INDEX_DTYPE, SYNAPSE_DTYPE, as_given
from toolchain.pynn import connect, simulator
from toolchain.pynn.standardmodels import (
    DYNAMIC_SYNAPSES,
    SYNAPSE_TYPES,
    StaticSynapse,
    STDPMechanism,
    Vogels2011Rule,
)


def _frozen(arr: np.ndarray, dtype: type) -> np.ndarray:
    """Read-only and owning its data, so the IR can share it instead of copying."""
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.base is not None:
        arr = arr.copy()
    arr.setflags(write=False)
    return arr


class Connection(common.Connection):
    """One synapse, as PyNN's ``Projection.connections``, ``__getitem__`` and iteration hand
    it out: its weight, delay and synaptic parameters can be read and set."""

    def __init__(self, projection: Projection, i: int) -> None:
        self._projection = projection
        self._i = i

    @property
    def presynaptic_index(self) -> int:
        return int(self._projection._pre_index[self._i])

    @property
    def postsynaptic_index(self) -> int:
        return int(self._projection._post_index[self._i])

    def __getattr__(self, name: str) -> float:
        if name.startswith("_"):
            raise AttributeError(name)
        return float(self._projection._column(name)[self._i])

    def __setattr__(self, name: str, value: float) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self._projection._set_one(name, self._i, value)

    def as_tuple(self, *names: str) -> tuple:
        return tuple(getattr(self, name) for name in names)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population: common.BasePopulation | common.Assembly,
                 postsynaptic_population: common.BasePopulation | common.Assembly,
                 connector: connect.pc.Connector,
                 synapse_type: StaticSynapse | STDPMechanism | None = None,
                 source: str | None = None, receptor_type: str | None = None,
                 space: Space | None = None, label: str | None = None) -> None:
        common.Projection.__init__(self, presynaptic_population, postsynaptic_population,
                                   connector, synapse_type, source, receptor_type,
                                   space if space is not None else Space(), label)
        if self.label is None:
            self.label = f"projection{common.Projection._nProj}"
        if not isinstance(self.synapse_type, SYNAPSE_TYPES):
            names = ", ".join(c.__name__ for c in SYNAPSE_TYPES)
            raise errors.ConnectionError(
                f"Projection '{self.label}': synapse type {type(self.synapse_type).__name__} "
                f"is not supported by spikeport; use one of: {names} (from this backend)"
            )
        self._chunks: list[tuple[np.ndarray, int, dict]] = []
        _, self._dynamics_names, self._state_names = DYNAMIC_SYNAPSES.get(
            type(self.synapse_type), ("", (), ()))
        self._dynamics_initial: dict[str, np.ndarray] = {}
        builder = connect.BUILDERS.get(type(connector))
        if builder is not None:
            pre, post = builder(self, connector)
            self._set_connections(pre, post, self._synapse_values(pre, post))
            if connector.callback is not None:
                connector.callback(1.0)
        elif isinstance(connector, connect.pc.FromListConnector):
            self._from_list(connector)
        elif isinstance(connector, connect.pc.CSAConnector):
            self._from_csa(connector)
        else:  # PyNN's generic path: one call per target, collected in _convergent_connect
            connector.connect(self)
            self._from_chunks()
        self.plasticity = self._plasticity_parameters()
        simulator.state.projections.append(self)
        simulator.state.changed(f"projection '{self.label}'")

    # -- building -------------------------------------------------------------------
    def _synapse_values(self, pre: np.ndarray, post: np.ndarray) -> dict[str, np.ndarray]:
        space = self._connector._parameters_from_synapse_type(self)
        values = {name: connect.values_at(
                      space[name], pre, post,
                      fast_stream=name if self._shares_connector_rng(name) else None)
                  for name in ("weight", "delay")}
        for name in self._dynamics_names:
            values[name] = _per_synapse(space[name], pre, post)
        return values

    def _shares_connector_rng(self, name: str) -> bool:
        """Whether the script draws parameter ``name`` from its random connector's RNG.

        PyNN's backends draw such values from a copy of that RNG taken after the
        connector's own draws, target by target; this backend draws the connectivity in
        its own way, so no order of draws could give those values here.  They come from
        a faster stream per parameter, seeded from the same copy (connect.own_stream):
        the same distribution, weights independent of delays, and the script's RNG, hence
        every later projection's connectivity, left as it is.  Values from an RNG of
        their own stay PyNN's."""
        rng = getattr(self._connector, "rng", None)
        value = self.synapse_type.parameter_space[name].base_value
        return rng is not None and isinstance(value, RandomDistribution) and value.rng is rng

    def _convergent_connect(self, presynaptic_indices, postsynaptic_index,
                            location_selector=None, **connection_parameters) -> None:
        if location_selector is not None:
            raise errors.ConnectionError(
                f"Projection '{self.label}': spikeport has point neurons only; "
                "location_selector must be None"
            )
        self._chunks.append((np.asarray(presynaptic_indices, dtype=np.int64),
                             int(postsynaptic_index), connection_parameters))

    def _from_chunks(self) -> None:
        pres = [p for p, _, _ in self._chunks]
        pre = np.concatenate(pres) if pres else np.zeros(0, dtype=np.int64)
        post = np.concatenate([np.full(p.size, q) for p, q, _ in self._chunks]) \
            if pres else np.zeros(0, dtype=np.int64)
        values = {}
        for name in ("weight", "delay", *self._dynamics_names):
            values[name] = np.concatenate(
                [np.broadcast_to(np.asarray(kw[name], dtype=float), p.shape)
                 for p, _, kw in self._chunks]) if pres else np.zeros(0)
        for name in self._dynamics_names:
            values[name] = _compact(values[name])
        self._chunks = []
        self._set_connections(pre, post, values)

    def _from_list(self, c: connect.pc.FromListConnector) -> None:
        if isinstance(c, connect.pc.FromFileConnector):
            if c.distributed:
                raise errors.ConnectionError(
                    f"Projection '{self.label}': FromFileConnector(distributed=True) needs MPI, "
                    "which spikeport does not use; pass distributed=False"
                )
            columns = list(c.file.get_metadata().get("columns", ("weight", "delay")))
            c.column_names = tuple(name for name in columns if name not in ("i", "j"))
            c.conn_list = np.asarray(c.file.read())
        table = np.asarray(c.conn_list, dtype=float)
        names = tuple(c.column_names)
        allowed = self.synapse_type.get_parameter_names()
        for name in names:
            if name not in allowed:
                raise errors.ConnectionError(
                    f"Projection '{self.label}': connection list column '{name}' is not a "
                    f"parameter of {type(self.synapse_type).__name__} ({', '.join(allowed)})"
                )
            if name not in ("weight", "delay", *self._dynamics_names):
                raise errors.ConnectionError(
                    f"Projection '{self.label}': connection list column '{name}' would give "
                    "each synapse its own value; spikeport takes weight, delay and the "
                    "parameters of short-term dynamics per synapse, one STDP rule per "
                    "projection, so set the others on the synapse type"
                )
        if table.size == 0:
            table = np.zeros((0, 2 + len(names)))
        for col, size, side in ((0, self.pre.size, "source"), (1, self.post.size, "target")):
            bad = np.flatnonzero((table[:, col] < 0) | (table[:, col] >= size)
                                 | (table[:, col] % 1 != 0))
            if bad.size:
                k = int(bad[0])
                raise errors.ConnectionError(
                    f"Projection '{self.label}': connection list row {k} has {side} index "
                    f"{table[k, col]:g}, outside 0..{size - 1}"
                )
        order = np.argsort(table[:, 1], kind="stable")
        table = table[order]
        pre = table[:, 0].astype(INDEX_DTYPE)
        post = table[:, 1].astype(INDEX_DTYPE)
        values = self._synapse_values(pre, post)
        for k, name in enumerate(names, start=2):
            values[name] = table[:, k] if name in ("weight", "delay") else table[:, k].copy()
        self._set_connections(pre, post, values)

    def _from_csa(self, c: connect.pc.CSAConnector) -> None:
        """A Connection Set Algebra set, cut to the populations (PyNN's CSAConnector hands
        cell IDs, not indices, to _convergent_connect for sets with values)."""
        import csa

        finite = csa.cross((0, self.pre.size - 1), (0, self.post.size - 1)) * c.cset
        with_values = csa.arity(c.cset) == 2
        table = np.array(list(finite), dtype=float).reshape(-1, 4 if with_values else 2)
        table = table[np.argsort(table[:, 1], kind="stable")]
        pre, post = table[:, 0].astype(INDEX_DTYPE), table[:, 1].astype(INDEX_DTYPE)
        values = self._synapse_values(pre, post)
        if with_values:
            values["weight"], values["delay"] = table[:, 2], table[:, 3]
        self._set_connections(pre, post, values)

    def _set_connections(self, pre: np.ndarray, post: np.ndarray,
                         values: dict[str, np.ndarray]) -> None:
        self._pre_index = _frozen(pre, INDEX_DTYPE)
        self._post_index = _frozen(post, INDEX_DTYPE)
        weight = _frozen(values["weight"], SYNAPSE_DTYPE)
        delay = _frozen(values["delay"], SYNAPSE_DTYPE)
        if self._connector.safe:
            self._check_weights(weight)
            self._check_delays(delay)
        self._weight = weight
        self._delay = delay
        self._dynamics = {name: np.asarray(values[name], dtype=np.float64)
                          for name in self._dynamics_names}

    def _check_weights(self, weight: np.ndarray) -> None:
        if weight.size == 0:
            return
        # two reductions instead of a mask per synapse (0.3 GB at 0.3 billion synapses):
        # NaN propagates through min and max, so both finite means every weight is
        lowest, highest = weight.min(), weight.max()
        if not (np.isfinite(lowest) and np.isfinite(highest)):
            k = int(np.flatnonzero(~np.isfinite(weight))[0])
            raise errors.ConnectionError(
                f"Projection '{self.label}' weight[{k}] = {weight[k]} is not a finite number")
        conductance = bool(getattr(self.post, "conductance_based", False))
        inhibitory = self.receptor_type in inhibitory_receptor_types
        if not conductance and not inhibitory \
                and self.receptor_type not in excitatory_receptor_types:
            return  # a receptor of a composed neuron without a conventional sign
        if conductance or not inhibitory:
            if lowest < 0:
                k = int(np.argmin(weight))
                kind = "conductance-based" if conductance else "excitatory"
                raise errors.ConnectionError(
                    f"Projection '{self.label}' weight[{k}] = {weight[k]:g} is negative; "
                    f"{kind} synapses need weights >= 0; for inhibition use "
                    "receptor_type='inhibitory'"
                    + (" with positive weights" if conductance else "")
                )
        elif highest > 0:
            k = int(np.argmax(weight))
            raise errors.ConnectionError(
                f"Projection '{self.label}' weight[{k}] = {weight[k]:g} is positive; "
                "current-based inhibitory synapses need weights <= 0 (PyNN's convention)"
            )

    def _check_delays(self, delay: np.ndarray) -> None:
        if delay.size == 0:
            return
        state = simulator.state
        low = state.min_delay_value
        # float32 storage: allow its rounding (7 digits) when comparing with the limit;
        # min and max are vectorised reductions, argmin/argmax only find a culprit
        if delay.min() < low * (1 - 1e-6):
            k = int(np.argmin(delay))
            raise errors.ConnectionError(
                f"Projection '{self.label}' delay[{k}] = {delay[k]:g} ms is below min_delay = "
                f"{low:g} ms; lengthen the delay or lower min_delay in setup()"
            )
        if state.max_delay != "auto" and delay.max() > float(state.max_delay) * (1 + 1e-6):
            k = int(np.argmax(delay))
            raise errors.ConnectionError(
                f"Projection '{self.label}' delay[{k}] = {delay[k]:g} ms is above "
                f"max_delay = {float(state.max_delay):g} ms; shorten the delay or raise "
                "max_delay in setup()"
            )

    def _plasticity_parameters(self) -> dict[str, object] | None:
        if not isinstance(self.synapse_type, STDPMechanism):
            return None
        mechanism = self.synapse_type
        out: dict[str, object] = {}
        for component in (mechanism.timing_dependence, mechanism.weight_dependence):
            space = component.native_parameters
            space.shape = (1,)
            for name, value in space.items():
                if not value.is_homogeneous:
                    raise errors.ConnectionError(
                        f"Projection '{self.label}': STDP parameter {name} must be one value "
                        "for the whole projection; the targets share one rule per projection"
                    )
                out[name] = float(value.evaluate(simplify=True))
        out["dendritic_delay_fraction"] = float(mechanism.dendritic_delay_fraction)
        out["timing_dependence"] = type(mechanism.timing_dependence).__name__
        out["weight_dependence"] = type(mechanism.weight_dependence).__name__
        return out

    @property
    def _vogels(self) -> bool:
        return isinstance(getattr(self.synapse_type, "timing_dependence", None), Vogels2011Rule)

    # -- access -----------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._pre_index.size)

    def __getitem__(self, i: int) -> Connection:
        if not -len(self) <= i < len(self):
            raise IndexError(f"Projection '{self.label}' has {len(self)} connections, not {i}")
        return Connection(self, i % len(self))

    @property
    def connections(self) -> object:
        """An iterator over the connections, as PyNN's backends provide."""
        return (Connection(self, i) for i in range(len(self)))

    def _current_weights(self) -> np.ndarray:
        """Weights as they are now: plastic ones from the target once it has run (STDP
        changes them there), the others as set."""
        state = simulator.state
        if self.plasticity is None or state.simulator is None or state.built is None \
                or id(self) not in state.built.parts:
            return as_given(self._weight)
        out = np.empty(len(self), dtype=np.float64)
        for label, selector in state.built.parts[id(self)]:
            values = np.asarray(state.simulator.weights(label), dtype=np.float64)
            if selector is None:
                out[:] = values
            else:
                out[selector] = values
        return out

    def _push_weights(self) -> None:
        state = simulator.state
        if state.simulator is None or state.built is None or id(self) not in state.built.parts:
            return
        for label, selector in state.built.parts[id(self)]:
            values = self._weight if selector is None else self._weight[selector]
            try:
                state.simulator.set_weights(label, np.asarray(values))
            except ValueError:
                # weights the loaded machine cannot hold (beyond a hardware target's weight
                # scale): while running that is the user's to fix, as the error says; between
                # reset() and the next run, that run compiles the network anew for them
                if state.running:
                    raise
                state.changed(f"weights of projection '{self.label}'")
                return

    def _column(self, name: str) -> np.ndarray:
        if name == "presynaptic_index":
            return self._pre_index
        if name == "postsynaptic_index":
            return self._post_index
        if name == "weight":
            return self._current_weights()
        if name == "delay":
            return as_given(self._delay)
        if name in self._dynamics:
            return np.broadcast_to(self._dynamics[name], (len(self),))
        if self.plasticity is not None and name in self.plasticity \
                and isinstance(self.plasticity[name], float):
            return np.full(len(self), self.plasticity[name])
        raise errors.NonExistentParameterError(
            name, type(self.synapse_type).__name__, self.synapse_type.get_parameter_names()
        )

    def _get_attributes_as_list(self, names: list[str]) -> list[tuple]:
        columns = [self._column(name).tolist() for name in names]
        return list(zip(*columns, strict=True))

    def _get_attributes_as_arrays(self, names: list[str], multiple_synapses: str = "sum"
                                  ) -> list[np.ndarray]:
        if multiple_synapses not in common.Projection.MULTI_SYNAPSE_OPERATIONS:
            raise ValueError(
                f"multiple_synapses must be one of "
                f"{list(common.Projection.MULTI_SYNAPSE_OPERATIONS)}, got '{multiple_synapses}'"
            )
        flat = self._pre_index.astype(np.int64) * self.post.size + self._post_index
        out = []
        for name in names:
            name = name[:-1] if name in ("weights", "delays") else name
            values = self._column(name).astype(float)
            result = np.full(self.pre.size * self.post.size, np.nan)
            if multiple_synapses == "sum":
                hit = np.zeros(result.size, dtype=bool)
                hit[flat] = True
                result[hit] = 0.0
                np.add.at(result, flat, values)
            elif multiple_synapses in ("min", "max"):
                ufunc = np.minimum if multiple_synapses == "min" else np.maximum
                result[flat[::-1]] = values[::-1]
                ufunc.at(result, flat, values)
            elif multiple_synapses == "first":
                result[flat[::-1]] = values[::-1]
            else:
                result[flat] = values
            out.append(result.reshape(self.pre.size, self.post.size))
        return out

    def _set_attributes(self, parameter_space) -> None:
        for name, value in parameter_space.items():
            if name in ("weight", "delay") or name in self._dynamics:
                self._set_column(name, self._values_for(value))
                continue
            if self.plasticity is None or name not in self.plasticity:
                raise errors.NonExistentParameterError(
                    name, type(self.synapse_type).__name__,
                    self.synapse_type.get_parameter_names())
            if not value.is_homogeneous:
                raise errors.ConnectionError(
                    f"Projection '{self.label}': STDP parameter {name} must be one value "
                    "for the whole projection; the targets share one rule per projection")
            self.plasticity[name] = float(value.evaluate(simplify=True))
            simulator.state.changed(f"STDP parameter {name} of projection '{self.label}'")

    def _values_for(self, value: object) -> np.ndarray:
        """One value per synapse from what set() was given (a constant, a distribution, a
        distance function, or a pre x post array in which NaN marks 'no connection')."""
        if not isinstance(value, LazyArray):
            value = LazyArray(value, shape=self.shape)
        value.shape = self.shape
        base = value.base_value
        if isinstance(base, np.ndarray) and base.shape == self.shape:
            return np.asarray(value._apply_operations(
                base[self._pre_index, self._post_index]), dtype=np.float64)
        return connect.values_at(value, self._pre_index, self._post_index, dtype=np.float64)

    def _set_one(self, name: str, i: int, value: float) -> None:
        """One connection's attribute (``connections[i].weight = ...``)."""
        values = np.array(self._column(name), dtype=np.float64)
        values[i] = value
        self._set_column(name, values)

    def _set_column(self, name: str, values: np.ndarray) -> None:
        if name in self._dynamics:
            self._dynamics[name] = _compact(np.asarray(values, dtype=np.float64))
            simulator.state.changed(f"{name} of projection '{self.label}'")
            return
        new = _frozen(values, SYNAPSE_DTYPE)
        if name == "weight":
            self._check_weights(new)
            before, self._weight = self._weight, new
            try:
                self._push_weights()  # a running target takes new weights at once
            except ValueError:
                self._weight = before  # refused: the projection keeps what the target has
                raise
        elif name == "delay":
            self._check_delays(new)
            self._delay = new
            simulator.state.changed(f"delays of projection '{self.label}'")
        else:
            raise errors.NonExistentParameterError(
                name, type(self.synapse_type).__name__, self.synapse_type.get_parameter_names())

    def _set_initial_value_array(self, variable: str, initial_value: object) -> None:
        if variable not in self._state_names:
            have = ", ".join(self._state_names) or "none"
            raise errors.ConnectionError(
                f"Projection '{self.label}': {type(self.synapse_type).__name__} has no "
                f"synaptic state '{variable}' to initialise (it has: {have}); STDP traces "
                "start at 0")
        value = initial_value
        while isinstance(value, LazyArray):  # PyNN wraps the script's value (shape aside)
            value = value.base_value
        self._dynamics_initial[variable] = _compact(self._values_for(value))
        simulator.state.changed(f"initial {variable} of projection '{self.label}'")


def _compact(values: np.ndarray) -> np.ndarray:
    """One value when all synapses share it (the common case), else one per synapse."""
    if values.size > 1 and np.all(values == values[0]):
        return values[:1].copy()
    return values


def _per_synapse(values: LazyArray, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    if values.is_homogeneous:
        return np.atleast_1d(np.asarray(values.evaluate(simplify=True), dtype=np.float64))
    return _compact(connect.values_at(values, pre, post, dtype=np.float64))


