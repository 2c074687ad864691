"""Run a fixed-point LIF network in lava-nc, the executable reference for Loihi numerics.

This file is a *script* for the separate Python 3.10 environment that holds lava-nc
(lava-nc 0.10 declares Python < 3.11, the main environment is newer).  It therefore imports
nothing from spikeport: it reads plain integers from an ``.npz`` file, builds the network
from lava's own processes (``LIF`` with ``PyLifModelBitAcc``; ``Dense`` with
``PyDenseModelBitAcc`` or ``DelayDense`` with ``PyDelayDenseModelBitAcc``; spike input
through ``io.source.RingBuffer``), runs it with ``Loihi2SimCfg(select_tag="fixed_pt")``
and writes every population's spike raster back.

Usage::

    .venv-lava/bin/python toolchain/targets/loihi/lava_reference.py NETWORK.npz SPIKES.npz

Input keys (all integers; ``k`` numbers populations, ``j`` projections)::

    n_steps, n_populations, n_projections
    pop{k}_du, pop{k}_dv, pop{k}_vth            scalars (lava keeps one per LIF process)
    pop{k}_bias_mant, pop{k}_bias_exp,
    pop{k}_u, pop{k}_v                          one entry per neuron
    pop{k}_bias_steps                           optional: (m,) steps at whose start the
    pop{k}_bias_mant_at, pop{k}_bias_exp_at     bias registers become row i of these
                                                (m, size): a host's bias schedule
    n_inputs                                    spike inputs (0 if absent)
    input{i}_spikes                             (size, n_steps) 0/1
    proj{j}_pre                                 population index k, or -1 - i for input i
    proj{j}_post                                population index
    proj{j}_weights                             (n_post, n_pre) weight mantissas
    proj{j}_delays                              (n_post, n_pre) extra steps, optional:
                                                DelayDense instead of Dense
    proj{j}_weight_exp, proj{j}_num_weight_bits scalars
    proj{j}_sign_mode                           1 mixed, 2 excitatory, 3 inhibitory, 0 = derive

Output keys: ``pop{k}_spikes`` with shape (n_steps, size) as uint8, and ``build_seconds``,
``run_seconds`` (wall time of compiling + starting the runtime, and of the steps alone).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.process import DelayDense, Dense
from lava.proc.io.source import RingBuffer as SpikeSource
from lava.proc.lif.process import LIF
from lava.utils.weightutils import SignMode


class SpikeRecorder(AbstractProcess):
    """Keeps one population's spikes in the model process and saves them after the last step.

    lava's own sink (``io.sink.RingBuffer``) hands its buffer back through ``Var.get``,
    which moves one element at a time: 48 s for a 1000 x 1000 raster, against 2.4 s for
    the simulation itself.  Writing the raster straight to a file from the model process
    avoids that without touching the processes under test.
    """

    def __init__(self, *, size: int, n_steps: int, path: str) -> None:
        super().__init__(size=size, n_steps=n_steps, path=path)
        self.a_in = InPort(shape=(size,))


@implements(proc=SpikeRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeRecorderModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)

    def __init__(self, proc_params: dict) -> None:
        super().__init__(proc_params)
        self.raster = np.zeros((proc_params["n_steps"], proc_params["size"]), dtype=np.uint8)

    def run_spk(self) -> None:
        self.raster[self.time_step - 1] = self.a_in.recv() != 0
        if self.time_step == self.raster.shape[0]:
            np.save(self.proc_params["path"], self.raster)


def _scalar(data: np.lib.npyio.NpzFile, key: str) -> int:
    return int(np.asarray(data[key]).reshape(()))


def build(
    data: np.lib.npyio.NpzFile, raster_path: str
) -> tuple[list[LIF], list[str], int]:
    """Create and connect lava processes; return the LIFs, the raster files and n_steps."""
    n_steps = _scalar(data, "n_steps")
    lifs: list[LIF] = []
    for k in range(_scalar(data, "n_populations")):
        bias_mant = np.asarray(data[f"pop{k}_bias_mant"], dtype=np.int32)
        lifs.append(
            LIF(
                shape=(bias_mant.size,),
                du=_scalar(data, f"pop{k}_du"),
                dv=_scalar(data, f"pop{k}_dv"),
                vth=_scalar(data, f"pop{k}_vth"),
                bias_mant=bias_mant,
                bias_exp=np.asarray(data[f"pop{k}_bias_exp"], dtype=np.int32),
                u=np.asarray(data[f"pop{k}_u"], dtype=np.int32),
                v=np.asarray(data[f"pop{k}_v"], dtype=np.int32),
                name=f"pop{k}",
            )
        )
    n_inputs = _scalar(data, "n_inputs") if "n_inputs" in data.files else 0
    sources = [SpikeSource(data=np.asarray(data[f"input{i}_spikes"], dtype=np.int32))
               for i in range(n_inputs)]
    for j in range(_scalar(data, "n_projections")):
        weights = np.asarray(data[f"proj{j}_weights"], dtype=np.int32)
        options = {
            "weight_exp": _scalar(data, f"proj{j}_weight_exp"),
            "num_weight_bits": _scalar(data, f"proj{j}_num_weight_bits"),
        }
        sign_mode = _scalar(data, f"proj{j}_sign_mode")
        if sign_mode:
            options["sign_mode"] = SignMode(sign_mode)
        if f"proj{j}_delays" in data.files:
            delays = np.asarray(data[f"proj{j}_delays"], dtype=int)  # lava insists on int
            dense = DelayDense(weights=weights, delays=delays, max_delay=int(delays.max()),
                               name=f"proj{j}", **options)
        else:
            dense = Dense(weights=weights, name=f"proj{j}", **options)
        pre = _scalar(data, f"proj{j}_pre")
        if pre < 0:
            if -1 - pre >= n_inputs:
                raise SystemExit(f"proj{j}: pre = {pre} names input {-1 - pre}, "
                                 f"but there are {n_inputs} inputs")
            sources[-1 - pre].s_out.connect(dense.s_in)
        else:
            lifs[pre].s_out.connect(dense.s_in)
        dense.a_out.connect(lifs[_scalar(data, f"proj{j}_post")].a_in)
    paths = []
    for k, lif in enumerate(lifs):
        path = f"{raster_path}.pop{k}.npy"
        recorder = SpikeRecorder(size=lif.s_out.shape[0], n_steps=n_steps, path=path)
        lif.s_out.connect(recorder.a_in)
        paths.append(path)
    return lifs, paths, n_steps


def _bias_schedule(data: np.lib.npyio.NpzFile, n_populations: int
                   ) -> dict[int, list[tuple[int, np.ndarray, np.ndarray]]]:
    """Step -> the (population, bias mantissas, bias exponents) that take effect then."""
    out: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for k in range(n_populations):
        if f"pop{k}_bias_steps" not in data.files:
            continue
        mants = np.asarray(data[f"pop{k}_bias_mant_at"], dtype=np.int32)
        exps = np.asarray(data[f"pop{k}_bias_exp_at"], dtype=np.int32)
        for i, step in enumerate(np.asarray(data[f"pop{k}_bias_steps"]).tolist()):
            out.setdefault(int(step), []).append((k, mants[i], exps[i]))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_path = argv[2]
    with np.load(argv[1]) as data:
        lifs, paths, n_steps = build(data, out_path)
    t0 = time.perf_counter()
    lifs[0].create_runtime(run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    t1 = time.perf_counter()
    try:
        with np.load(argv[1]) as data:
            schedule = _bias_schedule(data, len(lifs))
        done = 0
        for step in sorted(s for s in schedule if 0 < s < n_steps):
            lifs[0].run(condition=RunSteps(num_steps=step - done))
            done = step
            for k, mant, exp in schedule[step]:
                lifs[k].bias_mant.set(mant)
                lifs[k].bias_exp.set(exp)
        lifs[0].run(condition=RunSteps(num_steps=n_steps - done))
        t2 = time.perf_counter()
    finally:
        lifs[0].stop()
    rasters = {}
    for k, path in enumerate(paths):
        rasters[f"pop{k}_spikes"] = np.load(path)
        os.remove(path)
    np.savez(out_path, build_seconds=t1 - t0, run_seconds=t2 - t1, **rasters)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
