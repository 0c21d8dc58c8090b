"""Evidence of a run that another party can re-check: manifest, per-alert evidence, signing, verification.

* :func:`write_evidence` — called at the end of :func:`minewatch.pipeline.run_analysis`;
  writes ``DIR/evidence/`` (see :mod:`minewatch.evidence.manifest` for the layout).
* :func:`verify_run` — re-checks a run folder: hashes, signature, and a re-run of the analysis.
"""

from minewatch.evidence.verify import VerifyReport, verify_run
from minewatch.evidence.writer import write_evidence

__all__ = ["VerifyReport", "verify_run", "write_evidence"]
