"""Where the tiles (and sites) of a job run: this process, a local Dask cluster, or an existing one.

``--scheduler`` (or the environment variable ``MINEWATCH_SCHEDULER``) chooses:

* ``serial`` (the default): every task in this process, one after the other; no Dask at all;
* ``local``: a :class:`distributed.LocalCluster` sized to the machine, one single-threaded worker
  process per core, with ``NUMBA_NUM_THREADS=1`` (and the BLAS/OpenMP pools at 1) so the change
  engine's Numba kernels do not oversubscribe the cores;
* ``tcp://HOST:8786`` (any address a :class:`distributed.Client` takes): an existing scheduler, so
  clusters started by dask-jobqueue, dask-kubernetes or dask-gateway work without code changes.
  Give its workers ``NUMBA_NUM_THREADS`` = cores / worker threads.

On a cluster the workers are checked first: same minewatch version as the client, and the
imagery's files readable (a clear error otherwise). Tasks read imagery through the same window
reader as a serial run, so results are the same whatever runs them (tests/scale).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from minewatch.errors import InputError, WorkerError

ENV_SCHEDULER = "MINEWATCH_SCHEDULER"
#: Thread pools a worker process keeps at one thread (one worker process per core).
SINGLE_THREAD_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                     "MKL_NUM_THREADS": "1"}


def resolve_scheduler(value: str | None) -> str:
    """``--scheduler`` as given, else ``$MINEWATCH_SCHEDULER``, else ``serial``; checked."""
    value = (value or os.environ.get(ENV_SCHEDULER) or "serial").strip()
    if value in ("serial", "local") or "://" in value:
        return value
    raise InputError(f"--scheduler {value!r} is unknown",
                     hint="use serial, local, or a scheduler address such as tcp://HOST:8786")


class SerialExecutor:
    """Tasks in this process, in order."""

    scheduler = "serial"

    def map(self, fn: Callable, shared: tuple, per_task: Sequence[tuple],
            keys: Sequence[str]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(*shared, *per_task[index]))`` for every task (here: in order)."""
        for i, a in enumerate(per_task):
            yield i, fn(*shared, *a)

    def check_workers(self, paths: Iterable[str]) -> None:
        """Nothing to check: the tasks run here."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _worker_facts(paths: list[str]) -> dict:
    """What a worker says about itself: minewatch version, which of ``paths`` it cannot read."""
    import minewatch

    return {"version": minewatch.__version__, "unreadable": [p for p in paths if not os.access(p, os.R_OK)]}


class DaskExecutor:
    """Tasks on a Dask cluster: a :class:`distributed.LocalCluster` of this machine, or an existing one."""

    def __init__(self, scheduler: str, *, n_workers: int | None = None) -> None:
        from distributed import Client, LocalCluster

        self.scheduler = scheduler
        self._cluster = None
        if scheduler == "local":
            n = n_workers or os.cpu_count() or 1
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                         dashboard_address=None, env=dict(SINGLE_THREAD_ENV))
            self.client = Client(self._cluster)
        else:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})",
                                 hint="start one with `dask scheduler` and `dask worker ADDRESS`, or use "
                                 "--scheduler local") from None

    def check_workers(self, paths: Iterable[str]) -> None:
        """Raise :class:`WorkerError` unless every worker runs this minewatch and can read ``paths``
        (local files; URLs are left to the reader)."""
        import minewatch

        local = sorted({p for p in paths if "://" not in p})
        try:
            self.client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            raise WorkerError(f"--scheduler {self.scheduler}: no Dask worker joined within 60 s",
                              hint="start workers with `dask worker ADDRESS`") from None
        facts = self.client.run(_worker_facts, local)
        for addr, f in sorted(facts.items()):
            if f["version"] != minewatch.__version__:
                raise WorkerError(f"Dask worker {addr} runs minewatch {f['version']}, this client "
                                  f"{minewatch.__version__}", hint="install the same minewatch on every worker")
            bad = f["unreadable"]
            if bad:
                more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                raise WorkerError(f"Dask worker {addr} cannot read the imagery: {bad[0]}{more}",
                                  hint="give the workers the same paths (a shared filesystem) or serve the "
                                  "imagery over HTTP")

    def map(self, fn: Callable, shared: tuple, per_task: Sequence[tuple],
            keys: Sequence[str]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(*shared, *per_task[index]))`` as tasks finish (any order); ``shared``
        goes to the workers once; the first failure is raised (a killed worker's tasks are redone)."""
        from distributed import as_completed

        if not per_task:
            return
        sent = [self.client.scatter(v, broadcast=True, hash=False) for v in shared]
        futures = {self.client.submit(fn, *sent, *a, key=key, pure=False): i
                   for i, (a, key) in enumerate(zip(per_task, keys, strict=True))}
        try:
            for fut in as_completed(futures):
                i = futures.pop(fut)
                result = fut.result()
                fut.release()
                yield i, result
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


Executor = SerialExecutor | DaskExecutor


def open_executor(scheduler: str | None = None, *, n_workers: int | None = None) -> Executor:
    """The executor ``scheduler`` names (:func:`resolve_scheduler`); close it (or use ``with``)."""
    scheduler = resolve_scheduler(scheduler)
    if scheduler == "serial":
        return SerialExecutor()
    return DaskExecutor(scheduler, n_workers=n_workers)
