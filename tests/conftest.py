"""Suite-wide settings.

Hypothesis's per-example deadline measures the machine, not the code: on a shared 2-core
runner under load a 200 ms deadline fails arithmetic properties at random. The properties
here are about values; speed is measured by benchmarks/, never by a unit test."""

from hypothesis import settings

settings.register_profile("spikeport", deadline=None)
settings.load_profile("spikeport")
