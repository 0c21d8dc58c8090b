"""Plain JSON values from what numpy, pandas and the analysis produce."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping


def jsonable(x: Any, *, digits: int | None = None) -> Any:
    """``x`` with numpy scalars made Python values, non-finite floats ``None``, dates ISO strings,
    shapely geometries GeoJSON, dict keys strings and tuples lists, recursively; floats rounded
    to ``digits`` decimals when given."""
    if isinstance(x, dict):
        return {str(k): jsonable(v, digits=digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v, digits=digits) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if not math.isfinite(x):
            return None
        return round(x, digits) if digits is not None else x
    if isinstance(x, np.generic):
        return jsonable(x.item(), digits=digits)
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    if isinstance(x, shapely.Geometry):
        return jsonable(mapping(x), digits=digits)
    return x
