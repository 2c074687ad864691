"""A recurrent NIR graph (NIR paper's braille reader, trained in snnTorch) on all four
chips: does it fit, what does a step cost, how far is each chip from the float reference.

    python examples/nir_to_hardware.py [GRAPH.nir] --out build/nir_to_hardware

The input is a fixed pseudo-random spike pattern on the graph's 12 taxels (the braille
test set is not shipped); the FPGA core is built for the ECP5-85F, as the iCE40's preset
holds fewer synapses than the graph has, and Loihi runs at a coarser voltage scale
(vth_mant) than its default, so that the graph's strongest weights fit its weight format.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from toolchain import nir as spikeport_nir
from toolchain.nir.run import with_inputs
from toolchain.portability import portability

HERE = Path(__file__).resolve().parent
GRAPH = HERE.parent / "tests" / "nir" / "data" / "braille_noDelay_noBias_subtract.nir"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph", nargs="?", default=str(GRAPH))
    parser.add_argument("--dt", type=float, default=0.1, help="timestep (ms)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--out", default="build/nir_to_hardware")
    args = parser.parse_args(argv)

    imported = spikeport_nir.load(args.graph, dt=args.dt)
    (name, shape), = imported.inputs.items()
    rng = np.random.default_rng(0)
    counts = (rng.random((args.steps, int(np.prod(shape)))) < 0.15).astype(np.int64)
    network = with_inputs(imported, {name: counts})
    t_stop = (args.steps + imported.max_offset) * args.dt
    # the graph's recurrent inhibition (up to 4.2 nA onto lif1) is beyond the largest Loihi
    # weight at the default voltage scale (1.2 nA).  Clipping it (--fit approximate) puts
    # lif1 2000 % above the reference's rate; vth_mant 9417, the largest that fits every
    # weight, +46 % (a step's summed input still saturates u); 4000 gives the reference's
    # rates (60 steps)
    matrix = portability(network, t_stop, ["loihi", "spinnaker2", "dynapse", "fpga"],
                         {"fpga": {"build": "ecp5-85f"}, "loihi": {"vth_mant": 4000}})
    files = matrix.write(Path(args.out))
    print(matrix.to_markdown())
    for kind, path in files.items():
        print(f"{kind}: {path}")


if __name__ == "__main__":
    main()
