"""The change engine's entry point: backend resolution, input checks, and the package's import graph."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import minewatch.analysis.change as change
from minewatch.analysis.change import PersistentParams, detect_persistent_change, resolve_backend
from minewatch.analysis.change.engine import torch_cuda_available
from minewatch.errors import BackendUnavailableError, InputError

PACKAGE = Path(change.__file__).parent
DAYS = 18000 + 16 * np.arange(40, dtype=np.int64)


def stack(h: int = 3, w: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(0.3, 0.01, (len(DAYS), 5, h, w)).astype(np.float32)


def test_public_names():
    assert set(change.__all__) == {"PersistentParams", "PersistentResult", "detect_persistent_change",
                                   "resolve_backend"}
    for name in change.__all__:
        assert getattr(change, name) is not None


def test_backend_resolution():
    assert resolve_backend("cpu") == "cpu"
    with pytest.raises(InputError, match="backend='tpu' is unknown"):
        resolve_backend("tpu")
    if torch_cuda_available():
        assert resolve_backend("auto") == "gpu"
    else:
        assert resolve_backend("auto") == "cpu"
        with pytest.raises(BackendUnavailableError, match="gpu"):
            resolve_backend("gpu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": np.zeros((40, 5, 4), np.float32)}, r"values must be \(T, B, H, W\)"),
        ({"days": DAYS[:-1]}, "days has shape"),
        ({"days": DAYS[::-1].copy()}, "not strictly increasing"),
        ({"days": DAYS.astype(float)}, "dtype float64"),
        ({"monitor_end": int(DAYS[10])}, "is before monitor_start"),
        ({"params": PersistentParams(consecutive=0)}, "consecutive"),
        ({"params": PersistentParams(persistence=1.5)}, r"persistence=1.5 must be in \[0, 1\]"),
        ({"params": PersistentParams(threshold=0.3)}, "threshold"),
        ({"backend": "tpu"}, "backend='tpu'"),
    ],
)
def test_bad_input_is_named_before_any_work(kwargs, message):
    args = {"values": stack(), "days": DAYS, "monitor_start": int(DAYS[20]), "monitor_end": int(DAYS[-1]),
            "params": None, "backend": "cpu"}
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        detect_persistent_change(**args)


def test_datetime64_days_give_the_same_result():
    v = stack(5, 5)
    v[30:, :, :2] += 0.2  # a lasting step on two rows
    a = detect_persistent_change(v, DAYS, int(DAYS[20]), int(DAYS[-1]), backend="cpu")
    b = detect_persistent_change(v, DAYS.astype("datetime64[D]"), int(DAYS[20]), int(DAYS[-1]), backend="cpu")
    assert (a.date[:2] > 0).all() and (a.date[2:] == 0).all()
    np.testing.assert_array_equal(a.date, b.date)


def internal_imports(module: Path) -> set[str]:
    """Modules of this package that ``module`` imports (by their last name), at any depth."""
    out = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name == "minewatch.analysis.change":
                out.add("__init__")
            elif name.startswith("minewatch.analysis.change."):
                out.add(name.rsplit(".", 1)[1])
    return out


def test_backends_import_leaves_only_and_the_dispatcher_imports_the_backends():
    graph = {p.stem: internal_imports(p) for p in PACKAGE.glob("*.py")}
    leaves = {"params", "result", "design"}
    for leaf in leaves:
        assert graph[leaf] == set(), f"{leaf} must import nothing of the package"
    for backend in ("persistent_numba", "persistent_torch"):
        assert graph[backend] <= leaves, f"{backend} imports {graph[backend] - leaves}"
    assert {"persistent_numba", "persistent_torch"} <= graph["engine"]

    # and the whole package is acyclic
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, f"import cycle: {' -> '.join(path + (node,))}"
        state[node] = 1
        for nxt in graph.get(node, ()):
            visit(nxt, path + (node,))
        state[node] = 2

    for node in graph:
        visit(node, ())
