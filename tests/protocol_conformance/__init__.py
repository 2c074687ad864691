"""Conformance of boards to docs/protocol.md, from a client written from that page alone.

Its framing, CRC and messages (``wire``, ``msg``) and its account of what a board must do
(``host``) do not use ``toolchain.runtime.protocol``; only the boards under test come from
the project.  ``fuzz`` drives seeded random traffic; ``python -m tests.protocol_conformance``
runs it on demand with larger counts.
"""
