"""minewatch: watch mining sites and what they do to land and water."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("minewatch")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
