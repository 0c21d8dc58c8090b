"""The area of interest: a WGS84 bounding box ``(W, S, E, N)`` and its parser."""

from __future__ import annotations

from typing import Sequence

from minewatch.errors import InputError

BBox = tuple[float, float, float, float]


def parse_bbox(text: str | Sequence[float]) -> BBox:
    """Parse and check a bounding box.

    Parameters
    ----------
    text
        ``"W,S,E,N"`` as a user writes it (``--bbox``), or four numbers.

    Returns
    -------
    BBox
        ``(W, S, E, N)`` in degrees (longitude, latitude; WGS84).

    Raises
    ------
    InputError
        Not four numbers, or not ``-180 <= W < E <= 180`` and ``-90 <= S < N <= 90``.
    """
    if isinstance(text, str):
        parts = [p for p in text.replace(" ", "").split(",") if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InputError(f"--bbox {text!r}: not four numbers W,S,E,N") from None
    else:
        values = [float(v) for v in text]
    if len(values) != 4:
        raise InputError(f"--bbox needs four numbers W,S,E,N, got {len(values)}")
    w, s, e, n = values
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InputError(f"--bbox {values}: need -180 <= W < E <= 180 and -90 <= S < N <= 90 "
                         "(longitude/latitude in degrees)")
    return (w, s, e, n)
