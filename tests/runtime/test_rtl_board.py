"""The virtual board's Python protocol engine in front of the core's RTL (Amaranth
simulator, ``ServedBoard(core=RTL)``): the reference the gateware engine is compared with
byte for byte; spikes and learnt weights equal the golden model's."""

from __future__ import annotations

import numpy as np
import pytest

from tests.runtime.conftest import golden, random_image, random_inputs, same_spikes
from toolchain.boardsim.virtual import RTL, ServedBoard
from toolchain.runtime import protocol as p
from toolchain.runtime.session import BoardError, Session
from toolchain.targets.fpga.spec import TINY

pytestmark = [pytest.mark.hdl, pytest.mark.slow]


def test_rtl_board_matches_the_golden_model() -> None:
    image = random_image(TINY, seed=21)
    inputs = random_inputs(image.n_inputs, 40, seed=22)
    want, want_w = golden(TINY, image, inputs)
    with ServedBoard(TINY, core=RTL) as served, Session.open(served.path, timeout=1.0) as s:
        assert s.info is not None
        assert not s.info.can_read(p.Memory.NEURON) and s.info.can_read(p.Memory.SYNAPSE)
        s.load(image, TINY)  # verified through the memories the gateware can read
        result = s.run(40, inputs)
        weights = s.weights()
        assert any(s.state()["v"] != 0)
        s.reset(p.ResetScope.STATE)  # the core's RTL is cleared as the gateware clears it
        assert s.status().step == 0
        assert all((s.state()[name] == 0).all() for name in ("v", "i", "ref"))
        assert np.array_equal(s.weights(), weights)  # learnt weights are kept
        with pytest.raises(BoardError, match="board refused READ: BUSY"):
            s.request(p.FrameType.RUN, p.RunCommand(0).encode())  # runs free
            s.read(p.Memory.SYNAPSE, 0, 1)  # a READ during a run is BUSY too
    assert result.n_spikes > 5
    assert same_spikes(result.steps, want)
    assert np.array_equal(weights, want_w)
