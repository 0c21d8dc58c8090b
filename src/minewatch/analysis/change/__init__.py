"""Per-pixel change detection: the sequential monitor that ``minewatch analyze`` runs.

Usage::

    from minewatch.analysis.change import MonitorParams, fit_history, scan
    model = fit_history(stack_hist, days_hist, MonitorParams())
    carry = scan(model, stack_new, days_new, None)          # first acquisitions
    carry = scan(model, stack_newer, days_newer, carry)     # later ones: same result as one scan

See docs/method.md (section 4) for the statistics and the levels.
"""

from minewatch.analysis.change.monitor import (
    LEVEL_NAMES, HistoryModel, MonitorCarry, MonitorParams, fit_history, scan,
)

__all__ = ["LEVEL_NAMES", "HistoryModel", "MonitorCarry", "MonitorParams", "fit_history", "scan"]
