import pytest

from tests.compiler.nets import ei_network
from toolchain.compiler import Build, MappingError, run_passes
from toolchain.compiler.check import check
from toolchain.compiler.partition import partition
from toolchain.compiler.pipeline import violation
from toolchain.targets.loihi import LoihiTarget
from toolchain.targets.loihi.mapper import PASSES, quantise


def _build(**kw) -> Build:
    return Build(network=ei_network(n_exc=200, n_inh=50), spec=LoihiTarget().spec,
                 board="nahuku32", **kw)


def test_loihi_lists_its_passes_in_data_flow_order():
    names = [p.__name__ for p in LoihiTarget().passes()]
    assert names == ["check", "quantise", "partition", "place", "route", "estimate_step",
                     "compartment_section", "bias_section", "learning_section", "encode"]
    assert tuple(LoihiTarget().passes()) == PASSES


def test_each_pass_fills_in_its_own_part():
    b = run_passes(_build(), [check, quantise])
    assert b.numerics is not None and b.cores is None
    b = partition(b)
    assert b.cores is not None and b.rows is not None and b.placement is None


def test_a_pass_run_before_its_inputs_exist_says_which_is_missing():
    with pytest.raises(RuntimeError, match="pass 'partition' needs 'numerics'"):
        partition(_build())


def test_strict_build_raises_and_lax_build_records():
    big = violation("population", "exc", "neurons", 5, 4, "make it smaller",
                    "Population 'exc' is too big; make it smaller")
    with pytest.raises(MappingError, match="too big") as e:
        _build().violate(big)
    assert e.value.violation is big
    assert _build(strict=False).violate(big).violations == (big,)
    assert big.excess == 1 and big.subject == "Population 'exc'"
