"""docs/protocol.md, section 6, on a build with two-byte ids (the virtual board serving the
1024-neuron ecp5-85f build): a step with more spikes than one OUTPUT frame holds."""

from __future__ import annotations

import pytest

from tests.protocol_conformance import msg as m
from tests.protocol_conformance.conftest import VIRTUAL_WIDE, board_params
from tests.protocol_conformance.host import Host

pytestmark = pytest.mark.parametrize("served", board_params(VIRTUAL_WIDE), indirect=True)


def test_a_step_too_big_for_a_frame_continues_in_the_next(host: Host) -> None:
    """600 neurons of the 1024-neuron build fire in every step: more two-byte ids than one
    frame holds (507), so each step goes on in a CONTINUED frame (section 6)."""
    b = host._b()
    fires = 1 | 5 << (2 * b.v_bits)  # v_thresh 1, v_reset 0, bias 5: over threshold every step
    nb = b.word_bytes(m.NEURON)
    per_frame = b.max_words(m.NEURON)
    for start in range(0, 600, per_frame):
        count = min(per_frame, 600 - start)
        host.command(m.WRITE, m.pack(m.WRITE, memory=m.NEURON, address=start)
                     + fires.to_bytes(nb, "little") * count)
    host.command(m.RUN, m.pack(m.RUN, steps=3, flags=0))
    run = host.run
    host.await_run()  # the host checks the cut: 507 ids, CONTINUED, the rest, for each step
    assert run is not None
    # per step: 507 ids and CONTINUED, then the other 93 (the next step's 600 do not fit)
    assert [(o.first, len(o.steps), o.continued, len(o.steps[0])) for o in run.outputs] == [
        (t, 1, cont, 507 if cont else 93) for t in range(3) for cont in (True, False)]
    ids = [x for o in run.outputs for s in o.steps for x in s]
    assert len(ids) == 3 * 600 and sorted(set(ids)) == list(range(600))
