"""A host Session against the gateware's own protocol implementation (hdl/uart: deframer,
command decoder, framer, with the core's RTL) served on a pty: it opens, loads and verifies
a network by readback, then runs it streamed, spike for spike and weight for weight as the
golden model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.runtime.conftest import golden, random_image, random_inputs, same_spikes
from toolchain.runtime import protocol as p
from toolchain.runtime.session import Session
from toolchain.runtime.virtual import GATEWARE, ServedBoard
from toolchain.targets.fpga.spec import TINY

pytestmark = pytest.mark.hdl


def test_session_loads_and_verifies_through_the_gateware_decoder() -> None:
    image = random_image(TINY, seed=51)
    # the simulated gateware is slow: a long timeout keeps the host's retries few (those it
    # makes are answered from the decoder's reply cache, and counted as resends)
    with ServedBoard(TINY, core=GATEWARE) as served, \
            Session.open(served.path, timeout=2.0) as s:
        assert s.info is not None and s.info.build_id == p.spec_build_id(TINY)
        assert s.info.can_read(p.Memory.SYNAPSE) and not s.info.can_read(p.Memory.NEURON)
        s.load(image, TINY)  # RESET, CONFIG, every WRITE, then READ back SYNAPSE and STATE
        assert np.array_equal(s.weights(), image.syn_weight)
        status = s.status()
        # every command was answered once, new or from the cache, or (a retry that came
        # while the engine still answered it) dropped and counted as an overrun; STATUS's
        # own reply is not counted yet when it is made, the BOOT after reset is
        assert status.crc_errors == 0 and status.tx_frames > 10
        assert status.rx_frames == (status.tx_frames - 1) + status.resends + status.overruns + 1
        assert status.resends + status.overruns == s.stats.retries
        inputs = random_inputs(image.n_inputs, 40, seed=52)
        result = s.run(40, inputs, block_steps=8)
        want_spikes, want_weights = golden(TINY, image, inputs)
        assert sum(len(x) for x in want_spikes) > 10, "the network should fire"
        assert same_spikes(list(result.steps), want_spikes)
        assert np.array_equal(s.weights()[: image.n_synapses], want_weights)
