"""A two-current build with fractional current bits through the protocol: the handshake
describes it (receptors, i_frac), the image loads in its word layouts, and the board's
spikes, weights and both currents are the golden model's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hdl.spikecore.tb.networks import random_image, random_inputs
from hdl.spikecore.verify import ODD
from toolchain.runtime.pty_boards import pty_board
from toolchain.runtime.session import Session
from toolchain.targets.fpga.model import CoreModel


@pytest.mark.parametrize("kind", ["virtual", pytest.param("rtl-sim", marks=pytest.mark.slow)])
def test_a_two_current_build_runs_on_a_board_as_on_the_golden_model(kind):
    spec = ODD  # receptors 2, i_frac 3
    rng = np.random.default_rng(3)
    image = random_image(spec, rng, stdp=True)
    inputs = random_inputs(spec, image, rng, 20)
    model = CoreModel(spec)
    model.load(image)
    want = [s.tolist() for s in model.run(inputs)]
    assert sum(map(len, want)) > 3 and model.i_inh.any()
    with pty_board(kind, spec) as board:
        session = Session.open(board.path)
        try:
            info = session.handshake()
            assert (info.receptors, info.i_frac) == (2, 3)
            assert info.spec() == dataclasses.replace(spec, name=info.spec().name)
            session.load(image, spec)
            got = session.run(20, [np.asarray(x, np.int64) for x in inputs]).steps
            state = session.state()
            assert [g.tolist() for g in got] == want
            assert np.array_equal(state["i_inh"], model.i_inh[:image.n_neurons])
            assert np.array_equal(state["i"], model.i[:image.n_neurons])
            assert np.array_equal(session.weights(), model.weights()[:image.n_synapses])
        finally:
            session.close()
