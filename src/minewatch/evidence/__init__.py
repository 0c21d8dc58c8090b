"""Evidence of a run that another party can re-check: manifest, per-alert evidence, signing, checks.

* :mod:`minewatch.evidence.writer` — writes ``DIR/evidence/`` at the end of a run (called by the
  application layer, :mod:`minewatch.run.outputs`); see :mod:`minewatch.evidence.manifest` for the layout.
* :mod:`minewatch.evidence.verify` — the checks of a run folder (hashes, signature, comparison of a
  re-run); the re-run itself is the application layer's :func:`minewatch.run.verify.verify_run`.
"""
