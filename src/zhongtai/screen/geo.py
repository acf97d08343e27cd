"""The demo city's district map: a GeoJSON the project draws for its fictional city from the district list
alone (nothing copied from a real map). Urban districts share a disc, the counties a ring around it, each
a sector whose borders wobble a little, the same every time for a city code; neighbours share their border
points exactly, so the map has no gaps or overlaps. Coordinates are nominal degrees around a made-up centre.
"""

from __future__ import annotations

import math
import random
from functools import cache
from typing import Any

CENTRE = (117.25, 31.85)
INNER, OUTER = 0.22, 0.62  # radii (degrees) of the urban disc and of the ring of counties
ASPECT = 1.0 / math.cos(math.radians(CENTRE[1]))  # a degree of longitude is shorter than one of latitude


def _is_urban(code: str, name: str) -> bool:
    return name.endswith("区")


def _ring(codes: list[str], rng: random.Random, offset: float) -> list[float]:
    """Sector boundaries (radians) for ``codes``: equal shares, nudged a little."""
    step = 2 * math.pi / len(codes)
    bounds = [offset + i * step + rng.uniform(-0.15, 0.15) * step for i in range(len(codes))]
    return [*bounds, bounds[0] + 2 * math.pi]  # the last sector closes on the first: no gap between


def _point(angle: float, radius: float) -> list[float]:
    return [
        round(CENTRE[0] + radius * math.cos(angle) * ASPECT, 5),
        round(CENTRE[1] + radius * math.sin(angle), 5),
    ]


class _Circle:
    """A wobbly circle: a smooth radius for every angle, so the sectors on both sides of it agree."""

    def __init__(self, base: float, rng: random.Random) -> None:
        self.base = base
        self.phases = (rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi))

    def at(self, angle: float) -> float:
        wobble = 0.05 * math.sin(3 * angle + self.phases[0]) + 0.03 * math.sin(5 * angle + self.phases[1])
        return self.base * (1 + wobble)


def _arc(start: float, end: float, marks: list[float]) -> list[float]:
    """The angles an arc from ``start`` to ``end`` passes through: its ends and every shared mark between."""
    inside = [m for m in marks if start < m < end] + [
        m + 2 * math.pi for m in marks if start < m + 2 * math.pi < end
    ]
    return [start, *sorted(inside), end]


def _sector(
    start: float, end: float, inner: _Circle, outer: _Circle, marks: list[float]
) -> list[list[float]]:
    angles = _arc(start, end, marks)
    outside = [_point(a, outer.at(a)) for a in angles]
    inside = [_point(a, inner.at(a)) for a in reversed(angles)] if inner.base else [list(CENTRE)]
    ring = outside + inside
    return [*ring, ring[0]]


@cache
def district_map(city: str, names: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The GeoJSON FeatureCollection of the city's districts (``code``, ``name`` on each feature)."""
    rng = random.Random(int(city) if city.isdigit() else 0)  # noqa: S311 - shapes, not secrets
    urban = [(c, n) for c, n in names if _is_urban(c, n)]
    rural = [(c, n) for c, n in names if not _is_urban(c, n)]
    if not urban:  # a city of counties only: the first one is its centre
        urban, rural = rural[:1], rural[1:]
    centre, ring, edge = _Circle(0.0, rng), _Circle(INNER, rng), _Circle(OUTER, rng)
    layers = [
        (g, inner, outer, _ring([c for c, _ in g], rng, offset) if g else [])
        for g, inner, outer, offset in ((urban, centre, ring, 0.3), (rural, ring, edge, 0.9))
    ]
    # every sector boundary and a fine grid, on every arc: the disc's edge and the ring's inner edge meet
    marks = sorted(
        {round(b % (2 * math.pi), 12) for _, _, _, bounds in layers for b in bounds}
        | {i * 2 * math.pi / 96 for i in range(96)}
    )
    features = []
    for group, inner, outer, bounds in layers:
        for (code, name), start, end in zip(group, bounds, bounds[1:], strict=False):
            features.append(
                {
                    "type": "Feature",
                    "properties": {"code": code, "name": name},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [_sector(start, end, inner, outer, marks)],
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}
