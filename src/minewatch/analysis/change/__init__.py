"""Per-pixel change detection: the persistent-change test that ``minewatch analyze`` runs.

Usage::

    from minewatch.analysis.change import PersistentParams, detect_persistent_change
    res = detect_persistent_change(values, days, monitor_start, monitor_end, PersistentParams())

See docs/method.md (section 4) for the rules and docs/change-detection.md for the backends
and the benchmark.
"""

from minewatch.analysis.change.engine import detect_persistent_change, resolve_backend
from minewatch.analysis.change.params import PersistentParams
from minewatch.analysis.change.result import PersistentResult

__all__ = ["PersistentParams", "PersistentResult", "detect_persistent_change", "resolve_backend"]
