"""Capture the network a PyNN script builds, without simulating it.

Compiling, sweeping or comparing targets needs the network a script describes, not a run
of it on the reference.  ``capture`` runs the script with spikeport as its simulator and
stops it at its first ``run()``/``run_until()``: the network built so far becomes an IR
``Network``, and the end time that run asked for becomes ``t_stop``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from toolchain.ir import Network


class CaptureError(RuntimeError):
    """The script did not build and run a network spikeport could capture."""


class _Captured(Exception):
    """Raised inside the script at its first run(): unwinds it once the network is taken."""

    def __init__(self, network: Network, t_stop: float) -> None:
        super().__init__("network captured")
        self.network = network
        self.t_stop = t_stop


def capture(script: str | Path, args: Sequence[str] = ()) -> tuple[Network, float]:
    """The network ``script`` builds before its first run, and the time that run ends (ms)."""
    from toolchain.pynn import simulator
    from toolchain.pynn.build import build_network
    from toolchain.pynn.runner import ScriptError, run_script

    def stop_at_first_run(state: simulator.State, tstop: float) -> None:
        # reports and artifacts name the network after the script that built it
        raise _Captured(build_network(state, network_label=Path(script).stem).network, float(tstop))

    original = simulator.State.run_until
    simulator.State.run_until = stop_at_first_run
    try:
        status = run_script(script, args)
    except _Captured as captured:
        return captured.network, captured.t_stop
    except ScriptError as e:
        raise CaptureError(str(e)) from None
    except Exception as e:
        text = " ".join(str(e).split())
        raise CaptureError(f"PyNN script '{script}' failed on spikeport: "
                           f"{type(e).__name__}: {text}") from e
    finally:
        simulator.State.run_until = original
    if status != 0:
        raise CaptureError(f"PyNN script '{script}' exited with status {status}")
    raise CaptureError(
        f"PyNN script '{script}' built no network: it never called run() with spikeport as "
        "its simulator (PyNN example scripts take the simulator name as an argument: "
        "pass 'spikeport')"
    )
