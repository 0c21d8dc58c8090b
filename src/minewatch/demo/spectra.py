"""Surface reflectance spectra (endmembers) used to paint the demo scene.

Values are bottom-of-atmosphere reflectance (0..1) for the ten Sentinel-2
bands that L2A delivers at 10 m / 20 m, in the order of :data:`BANDS`.  They
are typical of published spectral libraries (USGS splib07, ECOSTRESS) and of
what Sentinel-2 L2A shows over these surfaces; see docs/demo-scene.md.
"""

from __future__ import annotations

import numpy as np

#: (Earth Search v1 asset key, Sentinel-2 band name, centre wavelength nm, resolution m, eo common name)
BANDS: tuple[tuple[str, str, int, int, str], ...] = (
    ("blue", "B02", 490, 10, "blue"),
    ("green", "B03", 560, 10, "green"),
    ("red", "B04", 665, 10, "red"),
    ("rededge1", "B05", 704, 20, "rededge"),
    ("rededge2", "B06", 740, 20, "rededge"),
    ("rededge3", "B07", 783, 20, "rededge"),
    ("nir", "B08", 842, 10, "nir"),
    ("nir08", "B8A", 865, 20, "nir08"),
    ("swir16", "B11", 1610, 20, "swir16"),
    ("swir22", "B12", 2190, 20, "swir22"),
)
BAND_INDEX = {b[1]: i for i, b in enumerate(BANDS)}
IDX10 = [i for i, b in enumerate(BANDS) if b[3] == 10]
IDX20 = [i for i, b in enumerate(BANDS) if b[3] == 20]

#:               B02    B03    B04    B05    B06    B07    B08    B8A    B11    B12
ENDMEMBERS: dict[str, tuple[float, ...]] = {
    # green leaves, closed canopy (crop at peak, riparian trees in summer)
    "green_veg": (0.030, 0.070, 0.035, 0.110, 0.300, 0.380, 0.420, 0.430, 0.200, 0.095),
    # dry grass, straw, stubble (non-photosynthetic vegetation)
    "dry_veg": (0.060, 0.090, 0.120, 0.150, 0.185, 0.205, 0.225, 0.235, 0.320, 0.240),
    # loamy steppe soil, dry
    "soil": (0.075, 0.110, 0.160, 0.185, 0.200, 0.208, 0.215, 0.222, 0.300, 0.255),
    # freshly broken granitic / quartz-vein rock: pit floor and benches
    "rock": (0.180, 0.210, 0.240, 0.260, 0.270, 0.280, 0.290, 0.295, 0.330, 0.280),
    # natural weathered outcrop (lichen, desert varnish: darker than fresh rock)
    "outcrop": (0.110, 0.140, 0.180, 0.210, 0.230, 0.245, 0.255, 0.265, 0.330, 0.290),
    # waste rock with iron staining (reddish, high SWIR)
    "dump": (0.115, 0.160, 0.240, 0.285, 0.300, 0.310, 0.315, 0.320, 0.400, 0.340),
    # fine tailings beach, dry (very bright, flat spectrum)
    "beach": (0.280, 0.320, 0.350, 0.370, 0.380, 0.390, 0.400, 0.400, 0.420, 0.360),
    # tailings water, very turbid (suspended fines)
    "turbid_water": (0.080, 0.110, 0.100, 0.080, 0.040, 0.035, 0.030, 0.025, 0.010, 0.008),
    # deep clear pit-lake water (dark)
    "dark_water": (0.040, 0.040, 0.025, 0.020, 0.012, 0.010, 0.008, 0.007, 0.004, 0.003),
    # river water, clear (low flow)
    "river_clear": (0.050, 0.060, 0.040, 0.035, 0.020, 0.018, 0.015, 0.012, 0.005, 0.004),
    # river water, turbid (snow-melt flood)
    "river_turbid": (0.070, 0.100, 0.095, 0.085, 0.050, 0.045, 0.040, 0.035, 0.012, 0.009),
    # roofs, concrete, compacted yards
    "built": (0.100, 0.120, 0.140, 0.160, 0.180, 0.190, 0.200, 0.210, 0.260, 0.230),
    # char and ash after a grass fire
    "char": (0.040, 0.048, 0.055, 0.058, 0.062, 0.064, 0.066, 0.070, 0.120, 0.110),
    # fresh snow (bright visible / NIR, dark SWIR)
    "snow": (0.850, 0.830, 0.800, 0.780, 0.750, 0.720, 0.700, 0.680, 0.080, 0.060),
}
ENDMEMBER_NAMES = tuple(ENDMEMBERS)
E = np.array([ENDMEMBERS[k] for k in ENDMEMBER_NAMES], dtype=np.float32)  # (n_end, 10)
EM = {k: i for i, k in enumerate(ENDMEMBER_NAMES)}

#: optically thick cloud top (flat visible/NIR, lower SWIR: ice/water absorption)
CLOUD = np.array((0.560, 0.540, 0.530, 0.530, 0.535, 0.540, 0.545, 0.545, 0.400, 0.280), dtype=np.float32)
#: additive path radiance of haze / thin cloud per unit thickness (strongest in blue)
HAZE = np.array((1.000, 0.780, 0.580, 0.500, 0.440, 0.400, 0.350, 0.330, 0.130, 0.070), dtype=np.float32)
#: multiplicative factor inside a full cloud shadow (diffuse sky light is blue, so
#: visible bands keep more; NIR / SWIR darken most)
SHADOW = np.array((0.55, 0.50, 0.45, 0.42, 0.38, 0.36, 0.34, 0.34, 0.30, 0.30), dtype=np.float32)
