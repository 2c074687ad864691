from pathlib import Path

import pytest

from toolchain.pynn.capture import CaptureError, capture

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_capture_takes_the_network_and_run_length_without_simulating():
    net, t_stop = capture(EXAMPLES / "ei_network.py", ["spikeport", "--n", "20",
                                                       "--t-stop", "123"])
    assert t_stop == 123.0
    assert [p.label for p in net.populations] == ["exc", "inh"]
    assert net.n_neurons == 20 and net.n_synapses == 20 * (6 + 6 + 3)


def test_capture_errors(tmp_path):
    script = tmp_path / "norun.py"
    script.write_text("import pyNN.spikeport as sim\nsim.setup()\n")
    with pytest.raises(CaptureError, match="built no network: it never called run()"):
        capture(script)
    script.write_text("raise ValueError('bad parameter tau')\n")
    with pytest.raises(CaptureError, match="failed on spikeport: ValueError: bad parameter tau"):
        capture(script)
