"""The one exception hierarchy of minewatch.

Every error a user can cause derives from :class:`MinewatchError`. The CLI, the
REST API and the dashboard turn these into a one-line message (no traceback);
anything else that escapes is a bug.

Each error carries a message saying *what* was wrong and *where*, and an
optional ``hint`` saying how to fix it.
"""

from __future__ import annotations


class MinewatchError(Exception):
    """Root of all minewatch errors."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class InputError(MinewatchError, ValueError):
    """A user-supplied file, argument or value is missing, malformed or inconsistent."""


class NotFoundError(InputError):
    """A record asked for by its id does not exist (HTTP 404)."""


class ConflictError(MinewatchError):
    """The request conflicts with the record's current state, for example a review
    transition that is not allowed from where the alert is now (HTTP 409)."""


class AuthenticationError(MinewatchError):
    """No valid credentials: unknown user, wrong password, expired session (HTTP 401)."""


class PermissionDeniedError(MinewatchError):
    """Valid credentials whose role may not do this (HTTP 403)."""


class DataError(MinewatchError):
    """Inputs are well-formed but cannot support the analysis (no overlap, empty period...)."""


class CatalogError(InputError):
    """A STAC catalog, collection or item is unusable."""


class RegistryError(MinewatchError):
    """The registry (cadastre database) refused an operation."""


class RegistryLockedError(RegistryError):
    """Another process holds the registry for writing longer than we may wait."""


class ValidationError(InputError):
    """Imported records failed validation; nothing was written."""


class NetworkError(MinewatchError):
    """A remote service could not be reached or kept failing after retries."""


class VerificationError(MinewatchError):
    """An evidence package does not verify: a hash, signature or re-run differs."""


class WorkerError(MinewatchError):
    """The Dask workers cannot run a job (another minewatch version, imagery they cannot read)."""


class BackendUnavailableError(MinewatchError):
    """A requested compute backend (for example the GPU) is not available here."""


# --------------------------------------------------------------------------- warnings
class MinewatchWarning(UserWarning):
    """Root of minewatch's warnings: something was repaired, assumed or left out.

    The core emits them with :func:`warnings.warn`; the application layer records every
    one raised during a run into the run's notes (summary.json, the report, the terminal),
    so nothing that can change a figure happens silently.
    """


class RepairWarning(MinewatchWarning):
    """An input was repaired to be usable (for example an invalid polygon made valid)."""


class VocabularyWarning(MinewatchWarning):
    """A value is outside the known vocabulary (for example an unknown receptor kind)."""
