"""Intel Loihi: limits and formats (spec), mapping passes (mapper), bit-accurate
arithmetic (fixed, convert, numerics, learning), cost model (timing), the report's
learning section (artifact) and the target."""

from toolchain.targets.loihi.spec import BOARDS, LoihiSpec
from toolchain.targets.loihi.target import LoihiDetail, LoihiTarget

__all__ = ["BOARDS", "LoihiDetail", "LoihiSpec", "LoihiTarget"]
