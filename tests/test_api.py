import numpy as np

import toolchain as sp
from toolchain.ir import ArraySource, Network, Population, Projection, Recording


def net() -> Network:
    src = ArraySource.from_lists("in", [list(np.arange(5.0, 200.0, 5.0))])
    pop = Population("out", "IF_curr_exp", 1, parameters={"tau_syn_I": 5.0})
    proj = Projection("in->out", "in", "out", [0], [0], [2.5], [1.0])
    return Network(populations=(pop,), sources=(src,), projections=(proj,),
                   recordings=(Recording("out", "spikes", [0]),))


def test_simulate_and_deviation_through_the_public_api(tmp_path):
    path = sp.save(net(), tmp_path / "n.spnet")
    loaded = sp.load(path)
    ref = sp.simulate(loaded, t_stop=200.0)
    assert ref.spikes["out"].count > 0
    report = sp.deviation(loaded, "loihi", t_stop=200.0)
    dev = report.population("out")
    assert dev.spikes_ref == ref.spikes["out"].count
    assert abs(dev.rate_error) < 0.5  # quantised, but the same neuron
