"""Chunked change detection through dask: images of any size in bounded memory."""

from __future__ import annotations

import threading

import numpy as np

from minewatch.analysis.change.engine import detect_breaks, resolve_backend
from minewatch.analysis.change.params import ChangeParams
from minewatch.errors import InputError

# Numba's parallel kernels (and one GPU) should not be entered by several dask worker
# threads at once: each call already uses every core. Blocks are loaded concurrently
# and solved one after another.
_KERNEL_LOCK = threading.Lock()

_SCALARS = ("flag", "date", "confidence", "n_history", "status")
_DTYPES = {
    "flag": bool,
    "date": np.int32,
    "confidence": np.float32,
    "n_history": np.int16,
    "status": np.uint8,
    "magnitude": np.float32,
    "rmse": np.float32,
}


def _to_day(value) -> int:
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        return int(np.datetime64(value, "D").astype(np.int64))
    except Exception as exc:  # noqa: BLE001
        raise InputError(
            f"monitor_start={value!r} is neither a day number nor a date",
            hint="pass days since 1970-01-01 or an ISO date such as '2021-01-01'",
        ) from exc


def _block(values, days, monitor_start, params, backend):
    with _KERNEL_LOCK:
        res = detect_breaks(values, days, monitor_start, params, backend)
    B = values.shape[1]
    out = np.empty((len(_SCALARS) + 2 * B,) + values.shape[2:], np.float64)
    for i, name in enumerate(_SCALARS):
        out[i] = getattr(res, name)
    out[len(_SCALARS) : len(_SCALARS) + B] = res.magnitude
    out[len(_SCALARS) + B :] = res.rmse
    return out


def detect_breaks_dask(
    data,
    monitor_start,
    params: ChangeParams | None = None,
    backend: str = "auto",
    *,
    time_dim: str = "time",
    band_dim: str = "band",
):
    """Run :func:`detect_breaks` block by block over a (dask-backed) DataArray.

    Parameters
    ----------
    data : xarray.DataArray
        Dimensions ``(time, band, y, x)`` (any names for the two spatial dimensions), with
        a datetime64 or integer-day ``time`` coordinate. Chunk it in the spatial
        dimensions; time and band are merged into single chunks here. A numpy-backed
        array is chunked into 512 x 512 blocks.
    monitor_start : int or str or numpy.datetime64
        First day of monitoring (days since 1970-01-01, or a date).
    params, backend
        As in :func:`detect_breaks`.

    Returns
    -------
    xarray.Dataset
        Lazy variables ``flag``, ``date``, ``confidence``, ``n_history``, ``status``
        (``(y, x)``) and ``magnitude``, ``rmse`` (``(band, y, x)``) with the input's
        spatial coordinates. Computing it streams one block at a time per worker.
    """
    import dask.array as dsa
    import xarray as xr

    if not isinstance(data, xr.DataArray) or data.ndim != 4:
        raise InputError(
            "detect_breaks_dask needs an xarray.DataArray with 4 dimensions (time, band, y, x)",
            hint="build it with xr.concat or odc-stac and .to_array('band')",
        )
    if data.dims[0] != time_dim or data.dims[1] != band_dim:
        raise InputError(
            f"dimensions are {data.dims}; expected ({time_dim!r}, {band_dim!r}, y, x)",
            hint=f"data.transpose({time_dim!r}, {band_dim!r}, ...)",
        )
    params = params or ChangeParams()
    which = resolve_backend(backend)
    tcoord = data[time_dim].values
    if np.issubdtype(tcoord.dtype, np.datetime64):
        days = tcoord.astype("datetime64[D]").astype(np.int64)
    else:
        days = np.asarray(tcoord).astype(np.int64)
    mstart = _to_day(monitor_start)
    ydim, xdim = data.dims[2], data.dims[3]
    arr = data.data
    if not isinstance(arr, dsa.Array):
        arr = dsa.from_array(np.asarray(arr), chunks=(-1, -1, 512, 512))
    arr = arr.rechunk({0: -1, 1: -1})
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    T, B = arr.shape[0], arr.shape[1]
    K = len(_SCALARS) + 2 * B
    stacked = arr.map_blocks(
        _block,
        days,
        mstart,
        params,
        which,
        drop_axis=1,
        chunks=((K,),) + arr.chunks[2:],
        dtype=np.float64,
        meta=np.empty((0, 0, 0), np.float64),
    )
    coords = {k: v for k, v in data.coords.items() if set(v.dims) <= {ydim, xdim}}
    if band_dim in data.coords:
        coords[band_dim] = data[band_dim]
    dvars = {}
    for i, name in enumerate(_SCALARS):
        dvars[name] = ((ydim, xdim), stacked[i].astype(_DTYPES[name]))
    n0 = len(_SCALARS)
    dvars["magnitude"] = ((band_dim, ydim, xdim), stacked[n0 : n0 + B].astype(np.float32))
    dvars["rmse"] = ((band_dim, ydim, xdim), stacked[n0 + B :].astype(np.float32))
    ds = xr.Dataset(dvars, coords=coords)
    ds.attrs.update(
        method=params.method,
        monitor_start=mstart,
        backend=which,
        date_units="days since 1970-01-01",
        n_dates=T,
    )
    return ds
