"""PyNN's own VAbenchmarks.py CUBA at its original fan-in (80 inputs a cell, more than a
DYNAP-SE neuron's 64 CAM words), through the portability matrix: refused strictly naming
the CAM, run with fit='approximate' keeping each neuron's 64 strongest inputs.  (The copy
scaled to fit strictly runs in tests/test_portability.py.)"""

from tests.test_portability import needs_examples, scaled
from toolchain.portability import capture, portability


def va_cuba_80_inputs(tmp_path):
    # 200 cells at p = 0.4: the 80 inputs a cell of the 4000-cell original has
    return scaled(tmp_path, "VAbenchmarks.py", [
        (r"^n\s+= 4000.*$", "n = 200"), (r"^pconn\s+= 0.02.*$", "pconn = 0.4"),
        (r"^tstop\s+= 1000.*$", "tstop = 200")])


@needs_examples
def test_va_cuba_over_the_cam_is_refused_strictly_and_pruned_when_approximating(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    network, t_stop = capture(va_cuba_80_inputs(tmp_path), ["spikeport", "CUBA"])
    exact = {"mismatch": 0.0, "delta_t": 0.0}
    strict = portability(network, t_stop, ["dynapse"], {"dynapse": exact}).run("dynapse")
    assert strict.status == "refused"
    assert "needs" in strict.reason and "CAM words" in strict.reason
    assert "--fit approximate" in strict.reason
    matrix = portability(network, t_stop, ["dynapse"],
                         {"dynapse": {**exact, "fit": "approximate"}})
    run = matrix.run("dynapse")
    assert run.status == "ok", run.reason
    pruned = {a["label"]: a for a in run.report["approximations"]
              if a["name"] == "fan_in_pruned"}
    assert set(pruned) == {"Excitatory_Cells", "Inhibitory_Cells"}
    assert pruned["Excitatory_Cells"]["neurons"] > 100
    ref = matrix.run("reference").result
    for pop in ("Excitatory_Cells", "Inhibitory_Cells"):
        ref_n, dyn_n = ref.spikes[pop].count, run.result.spikes[pop].count
        assert ref_n > 30  # 40 inhibitory cells at about 5 Hz for 0.2 s
        # the weakest inputs are excitatory (|w_exc| = 0.016 nA < |w_inh| = 0.09 nA): the
        # pruned network loses excitation and fires less, but keeps firing
        assert 0.5 * ref_n < dyn_n < ref_n
