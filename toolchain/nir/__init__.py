"""NIR in and out: any NIR graph as an ``ir.Network``, and IR networks as NIR graphs.

``read(path, dt=...)`` imports a graph written by snnTorch, Norse, Lava-DL, Rockpool, ...
(the discretisation at ``dt`` is docs/nir.md's, the same for every target);
``write(network, path)`` hands a network to any NIR consumer.  The ``nir`` package reads
and writes the HDF5 files.
"""

from toolchain.nir.exporter import to_graph, write
from toolchain.nir.graph import NIRError
from toolchain.nir.importer import Imported, NodeMap, from_graph, load, read

__all__ = ["Imported", "NIRError", "NodeMap", "from_graph", "load", "read", "to_graph", "write"]
