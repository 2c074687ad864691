"""Projection: synapses held as flat arrays (int32 indices, float32 weight and delay).

Connections are drawn by the vectorised builders in :mod:`toolchain.pynn.connect`; the
arrays are what the IR stores, so building the network at ``run()`` copies nothing.
Weights read after a run come from the target (plastic weights change there); weights
set between runs are written to it.
"""

from __future__ import annotations

import numpy as np
from pyNN import common, errors
from pyNN.parameters import LazyArray
from pyNN.space import Space

from toolchain.ir.network import INDEX_DTYPE, SYNAPSE_DTYPE
from toolchain.pynn import connect, simulator
from toolchain.pynn.standardmodels import StaticSynapse, STDPMechanism

STDP_PARAMETERS = ("tau_plus", "tau_minus", "A_plus", "A_minus", "w_min", "w_max")


def _frozen(arr: np.ndarray, dtype: type) -> np.ndarray:
    """Read-only and owning its data, so the IR can share it instead of copying."""
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.base is not None:
        arr = arr.copy()
    arr.setflags(write=False)
    return arr


class Connection:
    """One synapse, as PyNN's ``Projection.__getitem__``/iteration hands it out."""

    def __init__(self, projection: Projection, i: int) -> None:
        self._projection = projection
        self._i = i

    @property
    def presynaptic_index(self) -> int:
        return int(self._projection._pre_index[self._i])

    @property
    def postsynaptic_index(self) -> int:
        return int(self._projection._post_index[self._i])

    @property
    def weight(self) -> float:
        return float(self._projection._current_weights()[self._i])

    @property
    def delay(self) -> float:
        return float(self._projection._delay[self._i])

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
        if not isinstance(self.synapse_type, (StaticSynapse, STDPMechanism)):
            raise errors.ConnectionError(
                f"Projection '{self.label}': synapse type {type(self.synapse_type).__name__} "
                "is not supported by spikeport; use StaticSynapse or STDPMechanism "
                "(from this backend)"
            )
        self._chunks: list[tuple[np.ndarray, int, dict]] = []
        builder = connect.BUILDERS.get(type(connector))
        if builder is not None:
            pre, post = builder(self, connector)
            self._set_connections(pre, post, self._synapse_values(pre, post))
            if connector.callback is not None:
                connector.callback(1.0)
        elif isinstance(connector, (connect.pc.FromListConnector)):
            self._from_list(connector)
        else:  # PyNN's generic path: one call per target, collected in _convergent_connect
            connector.connect(self)
            self._from_chunks()
        self.plasticity = self._plasticity_parameters()
        simulator.state.projections.append(self)
        simulator.state.changed(f"projection '{self.label}'")

    # -- building -------------------------------------------------------------------
    def _synapse_values(self, pre: np.ndarray, post: np.ndarray) -> dict[str, np.ndarray]:
        space = self._connector._parameters_from_synapse_type(self)
        return {name: connect.values_at(space[name], pre, post) for name in ("weight", "delay")}

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
        for name in ("weight", "delay"):
            values[name] = np.concatenate(
                [np.broadcast_to(np.asarray(kw[name], dtype=float), p.shape)
                 for p, _, kw in self._chunks]) if pres else np.zeros(0)
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
            if name not in ("weight", "delay"):
                raise errors.ConnectionError(
                    f"Projection '{self.label}': connection list column '{name}' would give "
                    "each synapse its own value; spikeport takes only weight and delay per "
                    "synapse, so set the others on the synapse type"
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
            values[name] = table[:, k]
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

    def _check_weights(self, weight: np.ndarray) -> None:
        if weight.size == 0:
            return
        bad_nan = np.flatnonzero(~np.isfinite(weight))
        if bad_nan.size:
            k = int(bad_nan[0])
            raise errors.ConnectionError(
                f"Projection '{self.label}' weight[{k}] = {weight[k]} is not a finite number")
        conductance = bool(getattr(self.post, "conductance_based", False))
        inhibitory = self.receptor_type == "inhibitory"
        if conductance or not inhibitory:
            k = int(np.argmin(weight))
            if weight[k] < 0:
                kind = "conductance-based" if conductance else "excitatory"
                raise errors.ConnectionError(
                    f"Projection '{self.label}' weight[{k}] = {weight[k]:g} is negative; "
                    f"{kind} synapses need weights >= 0; for inhibition use "
                    "receptor_type='inhibitory'"
                    + (" with positive weights" if conductance else "")
                )
        else:
            k = int(np.argmax(weight))
            if weight[k] > 0:
                raise errors.ConnectionError(
                    f"Projection '{self.label}' weight[{k}] = {weight[k]:g} is positive; "
                    "current-based inhibitory synapses need weights <= 0 (PyNN's convention)"
                )

    def _check_delays(self, delay: np.ndarray) -> None:
        if delay.size == 0:
            return
        state = simulator.state
        low = float(state.min_delay)
        k = int(np.argmin(delay))
        # float32 storage: allow its rounding (7 digits) when comparing with the limit
        if delay[k] < low * (1 - 1e-6):
            raise errors.ConnectionError(
                f"Projection '{self.label}' delay[{k}] = {delay[k]:g} ms is below min_delay = "
                f"{low:g} ms; lengthen the delay or lower min_delay in setup()"
            )
        if state.max_delay != "auto":
            k = int(np.argmax(delay))
            if delay[k] > float(state.max_delay) * (1 + 1e-6):
                raise errors.ConnectionError(
                    f"Projection '{self.label}' delay[{k}] = {delay[k]:g} ms is above "
                    f"max_delay = {float(state.max_delay):g} ms; shorten the delay or raise "
                    "max_delay in setup()"
                )

    def _plasticity_parameters(self) -> dict[str, float] | None:
        if not isinstance(self.synapse_type, STDPMechanism):
            return None
        space = self.synapse_type.native_parameters
        space.shape = (1,)
        out = {}
        for name in STDP_PARAMETERS:
            value = space[name]
            if not value.is_homogeneous:
                raise errors.ConnectionError(
                    f"Projection '{self.label}': STDP parameter {name} must be one value for "
                    "the whole projection; the targets share one rule per projection"
                )
            out[name] = float(value.evaluate(simplify=True))
        out["weight_dependence"] = type(self.synapse_type.weight_dependence).__name__
        return out

    # -- access -----------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._pre_index.size)

    def __getitem__(self, i: int) -> Connection:
        if not -len(self) <= i < len(self):
            raise IndexError(f"Projection '{self.label}' has {len(self)} connections, not {i}")
        return Connection(self, i % len(self))

    def _current_weights(self) -> np.ndarray:
        """Weights as they are now: from the target once it has run (STDP changes them)."""
        state = simulator.state
        if state.simulator is None or state.built is None or id(self) not in state.built.parts:
            return self._weight
        out = np.empty(len(self), dtype=SYNAPSE_DTYPE)
        for label, selector in state.built.parts[id(self)]:
            values = np.asarray(state.simulator.weights(label))
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
            state.simulator.set_weights(label, np.asarray(values))

    def _column(self, name: str) -> np.ndarray:
        if name == "presynaptic_index":
            return self._pre_index
        if name == "postsynaptic_index":
            return self._post_index
        if name == "weight":
            return self._current_weights()
        if name == "delay":
            return self._delay
        if self.plasticity is not None and name in self.plasticity:
            return np.full(len(self), self.plasticity[name])
        raise errors.NonExistentParameterError(
            name, type(self.synapse_type).__name__, ["weight", "delay"]
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
            if name not in ("weight", "delay"):
                if self.plasticity is None or name not in self.plasticity:
                    raise errors.NonExistentParameterError(
                        name, type(self.synapse_type).__name__, ["weight", "delay"])
                if not value.is_homogeneous:
                    raise errors.ConnectionError(
                        f"Projection '{self.label}': STDP parameter {name} must be one value "
                        "for the whole projection")
                self.plasticity[name] = float(value.evaluate(simplify=True))
                simulator.state.changed(f"STDP parameter {name} of projection '{self.label}'")
                continue
            if not isinstance(value, LazyArray):
                value = LazyArray(value, shape=self.shape)
            value.shape = self.shape
            base = value.base_value
            if isinstance(base, np.ndarray) and base.shape == self.shape:
                # array form (as get(format="array") returns): NaN marks "no connection"
                new = base[self._pre_index, self._post_index].astype(SYNAPSE_DTYPE)
            else:
                new = connect.values_at(value, self._pre_index, self._post_index)
            new = _frozen(new, SYNAPSE_DTYPE)
            if name == "weight":
                self._check_weights(new)
                self._weight = new
                self._push_weights()
            else:
                self._check_delays(new)
                self._delay = new
                simulator.state.changed(f"delays of projection '{self.label}'")

    def _set_initial_value_array(self, variable: str, initial_value: object) -> None:
        raise errors.ConnectionError(
            f"Projection '{self.label}': synaptic state '{variable}' cannot be initialised; "
            "the supported synapses have no state besides the weight"
        )


