"""IntOrString values scaled against a total (apimachinery util/intstr GetScaledValueFromIntOrPercent).

maxUnavailable, maxSurge and PDB minAvailable are "3" or "25%"; controllers turn them into counts,
rounding percentages up or down as each upstream caller chooses.
"""

from __future__ import annotations

import math


def scaled_value(value: int | str, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    if not value.endswith("%") or not value[:-1].isdigit():
        raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")
    scaled = int(value[:-1]) * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)
