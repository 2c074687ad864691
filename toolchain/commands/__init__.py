"""Command-line front ends that sit above several packages: ``compile`` and ``report``
(a PyNN script through the PyNN backend, onto a target, into an artifact) and ``hdl``
(the FPGA core's gateware, from its spec).  ``toolchain.cli`` gathers them with each
area's own commands."""
