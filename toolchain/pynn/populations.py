"""Population, PopulationView and Assembly: parameters and initial values kept as arrays.

Native parameters are evaluated once, when set, so random distributions are drawn once
and the IR built at ``run()`` sees the same values that ``get()`` returns.  Values are
checked when they are set, against the IR's rules for the cell type, and refused with
PyNN's InvalidParameterValueError (as other backends refuse them).
"""

from __future__ import annotations

import numpy as np
from pyNN import common, errors
from pyNN.parameters import LazyArray, ParameterSpace, simplify
from pyNN.standardmodels import StandardCellType

from toolchain.ir import IRError
from toolchain.pynn import simulator
from toolchain.pynn.recording import Recorder
from toolchain.pynn.standardmodels import CELL_TYPES


def _validate(population: Population) -> None:
    """Build the population's IR node to check its values now, not at the first run."""
    from toolchain.pynn.build import _node

    try:
        _node(population, population.label or "population", seed=0)
    except (IRError, ValueError) as e:
        # PyNN's exception, with the IR's traceback (where the value was found wrong)
        raise errors.InvalidParameterValueError(str(e)).with_traceback(
            e.__traceback__) from None


class Assembly(common.Assembly):
    _simulator = simulator


class _ParametersMixin:
    def _get_parameters(self, *names: str) -> ParameterSpace:
        if isinstance(self.celltype, StandardCellType):
            if any(name in self.celltype.computed_parameters() for name in names):
                native_names = self.celltype.get_native_names()
            else:
                native_names = self.celltype.get_native_names(*names)
            return self.celltype.reverse_translate(self._get_native_parameters(*native_names))
        return self._get_native_parameters(*names)


class PopulationView(_ParametersMixin, common.PopulationView):
    _assembly_class = Assembly
    _simulator = simulator

    def _get_native_parameters(self, *names: str) -> ParameterSpace:
        values = {name: simplify(self.parent._parameters[name][self.mask]) for name in names}
        return ParameterSpace(values, shape=(self.size,))

    def _set_parameters(self, parameter_space: ParameterSpace) -> None:
        parameter_space.shape = (self.size,)
        parameter_space.evaluate(simplify=False)
        before = {name: self.parent._parameters[name].copy() for name in parameter_space.keys()}
        for name, value in parameter_space.items():
            self.parent._parameters[name][self.mask] = value
        try:
            _validate(self.parent)
        except errors.InvalidParameterValueError:
            self.parent._parameters.update(before)
            raise
        simulator.state.changed(f"parameter(s) of population '{self.parent.label}'")

    def _set_initial_value_array(self, variable: str, initial_values: object) -> None:
        self.parent._write_initial(variable, self.mask, initial_values)

    def _get_view(self, selector: object, label: str | None = None) -> PopulationView:
        return PopulationView(self, selector, label)


class Population(_ParametersMixin, common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def _create_cells(self) -> None:
        if not isinstance(self.celltype, CELL_TYPES):
            name = type(self.celltype).__name__
            supported = [c.__name__ for c in CELL_TYPES]
            if name in supported:
                raise errors.InvalidModelError(
                    f"Population '{self.label}': cell type {name} comes from "
                    f"{type(self.celltype).__module__}, not from spikeport; use "
                    f"{name} from this backend (sim.{name})")
            raise errors.InvalidModelError(
                f"Population '{self.label}': cell type {name} is not supported by spikeport; "
                f"use one of: {', '.join(supported)} (from this backend)"
            )
        first = simulator.state.id_counter
        self.all_cells = np.array([simulator.ID(i) for i in range(first, first + self.size)],
                                  dtype=simulator.ID)
        self._mask_local = np.ones(self.size, dtype=bool)
        parameter_space = self.celltype.native_parameters
        parameter_space.shape = (self.size,)
        parameter_space.evaluate(simplify=False)
        self._parameters = parameter_space.as_dict()
        self._initial: dict[str, np.ndarray] = {}
        _validate(self)
        for cell in self.all_cells:
            cell.parent = self
        simulator.state.id_counter += self.size
        simulator.state.populations.append(self)
        simulator.state.changed(f"population '{self.label}'")

    def _write_initial(self, variable: str, where: object, values: object) -> None:
        if variable not in self._initial:
            self._initial[variable] = np.zeros(self.size)
        target = self._initial[variable]
        size = target[where].size
        if hasattr(values, "evaluate"):
            values.shape = (size,)
            values = values.evaluate(simplify=False)
        target[where] = values
        self._sync_initial(variable)
        simulator.state.changed(f"initial values of population '{self.label}'")

    def _sync_initial(self, variable: str) -> None:
        # PyNN keeps initial values as lazy arrays; one holding a RandomDistribution would
        # draw anew on every read.  Keep the values drawn once, which are the ones simulated
        # (one number when all are equal, so that evaluate(simplify=True) gives it).
        values = self._initial[variable]
        base = float(values[0]) if values.size and np.all(values == values[0]) else values.copy()
        self.initial_values[variable] = LazyArray(base, shape=(self.size,), dtype=float)

    def initialize(self, **initial_values: object) -> None:
        super().initialize(**initial_values)
        for variable in initial_values:
            self._sync_initial(variable)

    def _set_initial_value_array(self, variable: str, initial_values: object) -> None:
        self._write_initial(variable, slice(None), initial_values)

    def _get_view(self, selector: object, label: str | None = None) -> PopulationView:
        return PopulationView(self, selector, label)

    def _get_native_parameters(self, *names: str) -> ParameterSpace:
        values = {name: simplify(self._parameters[name]) for name in names}
        return ParameterSpace(values, shape=(self.size,))

    def _set_parameters(self, parameter_space: ParameterSpace) -> None:
        parameter_space.shape = (self.size,)
        parameter_space.evaluate(simplify=False)
        before = dict(self._parameters)
        for name, value in parameter_space.items():
            self._parameters[name] = value
        try:
            _validate(self)
        except errors.InvalidParameterValueError:
            self._parameters = before
            raise
        simulator.state.changed(f"parameter(s) of population '{self.label}'")
