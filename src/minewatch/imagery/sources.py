"""Band vocabulary and value scales shared by ``ingest`` and ``fetch``.

Every catalog minewatch writes names its assets with the Earth Search v1 common
names (``blue``, ``nir``, ``swir16`` ...). This module maps the many spellings
found in the wild (``B02``, ``B2``, ``SR_B5``, ``nir08`` ...) onto that
vocabulary, and holds the known digital-number (DN) scales so that
``reflectance = DN * scale + offset``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

#: Earth Search v1 asset keys, in spectral order, plus the mask assets.
COMMON_BANDS: tuple[str, ...] = (
    "coastal", "blue", "green", "red", "rededge1", "rededge2", "rededge3",
    "nir", "nir08", "nir09", "swir16", "swir22",
)
MASK_BANDS: tuple[str, ...] = ("scl", "qa_pixel", "datamask")

# Sentinel-2 band ids (and short/long spellings) -> common names.
_S2_ALIASES: dict[str, str] = {
    "b01": "coastal", "b1": "coastal",
    "b02": "blue", "b2": "blue",
    "b03": "green", "b3": "green",
    "b04": "red", "b4": "red",
    "b05": "rededge1", "b5": "rededge1",
    "b06": "rededge2", "b6": "rededge2",
    "b07": "rededge3", "b7": "rededge3",
    "b08": "nir", "b8": "nir",
    "b8a": "nir08", "b08a": "nir08",
    "b09": "nir09", "b9": "nir09",
    "b11": "swir16",
    "b12": "swir22",
}
_NAME_ALIASES: dict[str, str] = {
    "coastal": "coastal", "aerosol": "coastal", "coastal_aerosol": "coastal",
    "blue": "blue", "green": "green", "red": "red",
    "rededge": "rededge1", "rededge1": "rededge1", "re1": "rededge1",
    "rededge2": "rededge2", "re2": "rededge2",
    "rededge3": "rededge3", "re3": "rededge3",
    "nir": "nir", "nir08": "nir08", "nir_narrow": "nir08", "narrow_nir": "nir08",
    "nir09": "nir09", "wvp": None,  # water vapour product, not a band we use
    "swir16": "swir16", "swir1": "swir16", "swir_1": "swir16",
    "swir22": "swir22", "swir2": "swir22", "swir_2": "swir22",
    "scl": "scl", "qa_pixel": "qa_pixel", "qapixel": "qa_pixel",
    "datamask": "datamask", "data_mask": "datamask", "mask": "datamask",
}  # type: ignore[dict-item]
# Landsat 8/9 OLI Collection 2 surface reflectance bands.
_LANDSAT_OLI: dict[str, str] = {
    "sr_b1": "coastal", "sr_b2": "blue", "sr_b3": "green", "sr_b4": "red",
    "sr_b5": "nir08", "sr_b6": "swir16", "sr_b7": "swir22",
}
# Landsat 4-7 TM/ETM+ Collection 2 surface reflectance bands.
_LANDSAT_TM: dict[str, str] = {
    "sr_b1": "blue", "sr_b2": "green", "sr_b3": "red", "sr_b4": "nir08",
    "sr_b5": "swir16", "sr_b7": "swir22",
}

#: Words in a file name that mark a colour rendering (not data).
RENDERING_WORDS: tuple[str, ...] = (
    "viz", "rgbviz", "visual", "truecolor", "true_color", "falsecolor", "false_color",
    "quicklook", "preview", "thumbnail", "tci", "rendering", "rgb",
)


def normalise_band_name(token: str, *, landsat_tm: bool = False) -> str | None:
    """Map one band spelling onto the common vocabulary.

    Parameters
    ----------
    token
        A band name as found in a file name, an asset key or a user option
        (``"B02"``, ``"b2"``, ``"blue"``, ``"B8A"``, ``"SR_B5"``, ``"nir08"``).
    landsat_tm
        Read ``SR_Bn`` names as Landsat 4-7 TM/ETM+ instead of Landsat 8/9 OLI.

    Returns
    -------
    str or None
        The common name (``"blue"``, ``"nir"``, ``"swir16"``, ``"datamask"`` ...), or
        ``None`` when the token is not a band name.
    """
    key = token.strip().lower().replace("-", "_")
    if key.startswith("sr_b"):
        return (_LANDSAT_TM if landsat_tm else _LANDSAT_OLI).get(key)
    if key in _S2_ALIASES:
        return _S2_ALIASES[key]
    return _NAME_ALIASES.get(key)


# -- value scales ---------------------------------------------------------------------


@dataclass(frozen=True)
class ValueScale:
    """How digital numbers map to surface reflectance: ``refl = DN * scale + offset``."""

    name: str
    scale: float
    offset: float
    is_reflectance: bool
    description: str


SCALES: dict[str, ValueScale] = {
    "10000": ValueScale("10000", 1e-4, 0.0, True,
                        "Sentinel-2 L2A, reflectance x 10000 (processing baseline < 04.00)"),
    "s2-pb04": ValueScale("s2-pb04", 1e-4, -0.1, True,
                          "Sentinel-2 L2A processing baseline >= 04.00: (DN - 1000) / 10000"),
    "65535": ValueScale("65535", 1.0 / 65535.0, 0.0, True,
                        "Sentinel Hub / EO Browser 16-bit export, reflectance x 65535"),
    "landsat-c2": ValueScale("landsat-c2", 2.75e-5, -0.2, True,
                             "Landsat Collection 2 Level-2: DN * 0.0000275 - 0.2"),
    "255": ValueScale("255", 1.0 / 255.0, 0.0, False,
                      "8-bit quicklook / stretched image: DN / 255, NOT reflectance"),
    "1": ValueScale("1", 1.0, 0.0, True, "values are reflectance already (floating point)"),
}


def parse_scale(text: str) -> ValueScale:
    """Parse a ``--scale`` option value.

    Accepts a named scale (``10000``, ``65535``, ``255``, ``landsat-c2``, ``s2-pb04``,
    ``1``) or a positive number ``N`` meaning ``reflectance = DN / N``.
    """
    from minewatch.errors import InputError

    key = text.strip().lower()
    if key in SCALES:
        return SCALES[key]
    try:
        value = float(key)
    except ValueError:
        raise InputError(
            f"--scale {text!r} is not understood",
            hint="use one of " + ", ".join(SCALES) + ", or a number N for DN / N",
        ) from None
    if not value > 0:
        raise InputError(f"--scale must be positive, got {text!r}")
    return ValueScale(key, 1.0 / value, 0.0, True, f"reflectance = DN / {value:g} (given)")


# -- dates ------------------------------------------------------------------------------

_DATE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<!\d)(\d{4})[-_.](\d{2})[-_.](\d{2})(?!\d)"), "ymd"),
    (re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?:T\d{6})?(?!\d)"), "ymd"),
    (re.compile(r"(?<![\dA-Za-z])(\d{4})(?![\dA-Za-z])"), "y"),
)


def find_date(text: str) -> tuple[str, str, tuple[int, int]] | None:
    """Find the first plausible date in ``text``.

    Returns ``(iso_date, kind, span)`` where ``kind`` is ``"ymd"`` (a day) or ``"y"``
    (a year only: annual composites), or ``None``. Years must lie in 1970-2100 and
    days must be valid calendar days.
    """
    import datetime as _dt

    for pattern, kind in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            year = int(m.group(1))
            if not 1970 <= year <= 2100:
                continue
            if kind == "y":
                return f"{year:04d}", kind, m.span()
            try:
                day = _dt.date(year, int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
            return day.isoformat(), kind, m.span()
    return None


# -- Sentinel Hub SCL colour rendering ---------------------------------------------------

#: The Sentinel Hub / EO Browser SCL visualisation palette (8-bit RGB -> SCL class).
SCL_PALETTE: dict[tuple[int, int, int], int] = {
    (0, 0, 0): 0, (255, 0, 0): 1, (47, 47, 47): 2, (100, 50, 0): 3, (0, 160, 0): 4,
    (255, 230, 90): 5, (0, 0, 255): 6, (128, 128, 128): 7, (192, 192, 192): 8,
    (255, 255, 255): 9, (100, 200, 255): 10, (255, 150, 255): 11,
}


def decode_scl_rendering(rgb: np.ndarray) -> np.ndarray:
    """Invert an EO Browser SCL colour rendering (3 x H x W, 8- or 16-bit) to class codes.

    Returns uint8 SCL codes; 255 where a colour is not in :data:`SCL_PALETTE`.
    """
    from minewatch.errors import InputError

    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[0] != 3:
        raise InputError(f"an SCL rendering has 3 bands, got shape {a.shape}")
    if a.dtype == np.uint16 or a.max() > 255:
        a = (a.astype(np.uint32) // 257).astype(np.uint8)
    out = np.full(a.shape[1:], 255, np.uint8)
    for (r, g, b), code in SCL_PALETTE.items():
        out[(a[0] == r) & (a[1] == g) & (a[2] == b)] = code
    return out
