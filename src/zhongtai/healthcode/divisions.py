"""The city's districts (GB/T 2260 codes under the city's) and which one an address names: the unit every
health-code statistic, risk area and resumption application is counted or routed by."""

from __future__ import annotations

from functools import cache

from zhongtai.governance.elements import division_name

OTHER = "other"  # an address that names none of the city's districts


@cache
def districts(city: str) -> dict[str, str]:
    """The city's districts (GB/T 2260 codes under it) and their names."""
    found = {}
    for n in range(1, 100):
        code = f"{city[:4]}{n:02d}"
        name = division_name(code)
        if name:
            found[code] = name
    return found


def district_of(address: str, known: dict[str, str]) -> str:
    return next((code for code, name in known.items() if name in address), OTHER)
