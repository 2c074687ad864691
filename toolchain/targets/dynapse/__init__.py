"""DYNAP-SE (SE1, with SE2 as an option): a continuous-time analog target.

``spec`` holds the board's limits and word layouts, ``mapper`` clusters neurons onto cores
and realises weights as CAM multiplicities (SE1) or base-current masks (SE2),
``numerics.dpi`` is the DPI neuron/synapse model with device mismatch, ``timing`` the
R1/R2/R3 routing latency, ``artifact`` the shared artifact and report section, ``sim``
the engine plug-ins, and ``target`` the target.
"""
