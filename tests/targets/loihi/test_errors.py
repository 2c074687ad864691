"""Networks that do not fit Loihi fail at compile with what, the limit, the value and a fix."""

import re

import numpy as np
import pytest

from toolchain.compiler import MappingError
from toolchain.compiler.report import render_report
from toolchain.ir import Network, Population, Projection
from toolchain.targets.loihi import LoihiTarget


def _pops(*sizes: int, **params) -> tuple[Population, ...]:
    return tuple(Population(f"p{k}", "IF_curr_exp", n, parameters=params)
                 for k, n in enumerate(sizes))


def _all_to_all(label: str, pre: str, post: str, n_pre: int, n_post: int, repeat: int = 1,
                delay: float = 1.0) -> Projection:
    i, j = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    i, j = np.repeat(i.ravel(), repeat), np.repeat(j.ravel(), repeat)
    return Projection(label, pre, post, i, j, np.full(i.size, 0.1), np.full(i.size, delay))


def _compile(net: Network, board: str = "loihi1"):
    return LoihiTarget(board=board).compile(net)


def test_fan_in_beyond_the_input_axon_limit():
    net = Network(populations=_pops(5000, 2), projections=(_all_to_all("wide", "p0", "p1",
                                                                        5000, 2),))
    with pytest.raises(MappingError) as e:
        _compile(net)
    assert str(e.value) == (
        "Population 'p1': 2 neuron(s) need more distinct input sources (input axons) than a "
        "loihi core has even alone on a core: neuron 0 needs 5000, the limit is 4096 "
        "(incoming projections: 'wide'); reduce the fan-in of these neurons below the limit "
        "(sparser or fewer incoming projections; a plastic projection takes 2 axons per "
        "source)"
    )


def test_synapse_memory_too_large_for_one_neuron():
    # 4000 sources (within the axon limit), 20 synapses each onto one neuron: a synapse is
    # 8 weight + 4 delay (10 steps) + 6 index bits, a row 20 x 18 + 10 header = 370 bits,
    # 6 words; 4000 rows x 6 x 64 = 1,536,000 bits > 1,048,576
    net = Network(populations=_pops(4000, 1),
                  projections=(_all_to_all("dense", "p0", "p1", 4000, 1, repeat=20),))
    with pytest.raises(MappingError, match=re.escape(
            "Population 'p1': 1 neuron(s) need more bits of synapse memory than a loihi core "
            "has even alone on a core: neuron 0 needs 1536000, the limit is 1048576 "
            "(incoming projections: 'dense'); reduce their fan-in, the weight precision or "
            "the delay range of the incoming projections")):
        _compile(net)


def test_too_many_synapse_configs_for_one_neuron():
    # 17 projections into one neuron, each its own synapse format; a core has 16
    pops = _pops(*([1] * 17), 1)
    projs = tuple(_all_to_all(f"in{k}", f"p{k}", "p17", 1, 1) for k in range(17))
    with pytest.raises(MappingError, match=re.escape(
            "Population 'p17': 1 neuron(s) need more synapse configs (one per incoming "
            "projection) than a loihi core has even alone on a core: neuron 0 needs 17, the "
            "limit is 16")) as e:
        _compile(Network(populations=pops, projections=projs))
    assert "merge incoming projections that share a presynaptic population" in str(e.value)


def test_delay_too_long():
    net = Network(dt=0.1, populations=_pops(2, 2),
                  projections=(_all_to_all("slow", "p0", "p1", 2, 2, delay=10.0),))
    with pytest.raises(MappingError) as e:
        _compile(net)
    assert str(e.value) == (
        "Projection 'slow': delay 10 ms is 100 steps of dt = 0.1 ms; loihi stores at most 62 "
        "steps of delay; shorten the delay to at most 6.2 ms or use a larger dt, or let "
        "the compiler shorten it: fit='approximate' (--fit approximate, -O fit=approximate)"
    )


def test_more_cores_than_the_board_has():
    # 129 populations of one neuron: one core each, one more than a chip's 128
    net = Network(populations=_pops(*([1] * 129)))
    with pytest.raises(MappingError) as e:
        _compile(net, board="loihi1")
    assert str(e.value) == (
        "the network needs 129 cores (2 chips of 128 cores) but board 'loihi1' has 128 cores "
        "(1 chips); use a board with at least 2 chips: option board='kapoho_bay' "
        "(-O board=kapoho_bay), or a smaller network"
    )
    v = e.value.violation
    assert (v.element, v.label, v.limit, v.value, v.allowed) == ("network", net.label, "cores",
                                                                 129, 128)
    assert len(_compile(net, board="kapoho_bay").cores) == 129


# What a Loihi compartment cannot compute is refused by the numerics' conversion (the one
# place that knows the arithmetic); compile passes its message on.


def test_conductance_based_cells_are_refused():
    net = Network(populations=(Population("g", "IF_cond_exp", 3),))
    with pytest.raises(MappingError, match=re.escape(
            "Population 'g': cell type IF_cond_exp cannot be mapped exactly to Loihi's CUBA "
            "LIF: its synaptic input is a conductance")) as e:
        _compile(net)
    assert str(e.value).endswith("use IF_curr_exp")


def test_different_synaptic_time_constants_compile_to_two_compartments():
    net = Network(populations=_pops(3, tau_syn_E=5.0, tau_syn_I=10.0))
    art = _compile(net)
    assert art.fits and art.estimate.neuron_updates == 6


def test_refractory_period_beyond_63_steps():
    net = Network(dt=0.1, populations=_pops(3, tau_refrac=7.0))
    with pytest.raises(MappingError, match=re.escape(
            "Population 'p0' parameter tau_refrac[0] = 7 ms is 70 steps of dt = 0.1 ms; "
            "Loihi's refractory delay is at most 63 steps; shorten tau_refrac or use a larger "
            "dt")):
        _compile(net)


def test_non_strict_compile_lists_every_violation_instead():
    extra = tuple(Population(f"x{k}", "IF_curr_exp", 1) for k in range(130))
    net = Network(dt=0.1, populations=_pops(5000, 2) + extra,
                  projections=(_all_to_all("wide", "p0", "p1", 5000, 2, delay=10.0),))
    art = LoihiTarget(board="loihi1").compile(net, strict=False)
    assert not art.fits
    joined = "\n".join(v.message for v in art.violations)
    assert [v.limit for v in art.violations] == ["delay_steps", "input_axons", "cores"]
    assert "Projection 'wide': delay 10 ms" in joined
    assert "neuron 0 needs 5000, the limit is 4096" in joined
    assert "the network needs 137 cores (2 chips of 128 cores)" in joined
    assert "DOES NOT FIT: 3 limit(s) broken" in render_report(art)
    assert art.chips_used == 2  # placed on a virtual board extended to fit
