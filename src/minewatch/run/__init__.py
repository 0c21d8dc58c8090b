"""The application layer: each use case of minewatch once, with a typed request and result.

* :func:`run_monitoring` (:mod:`minewatch.run.monitoring`) — one monitoring run (``minewatch
  analyze``), from a :class:`MonitoringRequest` to a :class:`RunResult`;
* :func:`verify_run` (:mod:`minewatch.run.verify`) — re-check a run folder and re-run it.

The CLI, the REST API and distributed tasks call these functions; they import no adapter.
"""

from minewatch.run.monitoring import run_monitoring
from minewatch.run.request import (DetectionOptions, EvidenceOptions, ExecutionOptions, FetchOptions,
                                   MonitoringRequest, Period, RunInputs, WaterOptions)
from minewatch.run.result import RunResult
from minewatch.run.verify import verify_run

__all__ = ["DetectionOptions", "EvidenceOptions", "ExecutionOptions", "FetchOptions", "MonitoringRequest", "Period",
           "RunInputs", "RunResult", "WaterOptions", "run_monitoring", "verify_run"]
