"""On-demand benchmarks (``make bench``); each module prints a table with ratios against a
peer measured in the same run.  Not part of the test suite."""
