"""Work in the field: inspections with their photos, and water samples by sampling point."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa

from minewatch.errors import InputError
from minewatch.registry import rows as R
from minewatch.registry.connection import Database
from minewatch.registry.geometry import as_geometry
from minewatch.registry.schema import TABLES


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FieldWork:
    """Inspections (photos stored content-addressed under ``files_dir()``) and samples."""

    def __init__(self, db: Database, files_dir: Callable[[], Path]):
        self.db = db
        self.files_dir = files_dir

    def add_inspection(self, inspection_id: str, date: R.Date, *, team: str | None = None,
                       findings: str | None = None, site_id: str | None = None,
                       geometry=None, alert_ids: Sequence[str] = (),
                       photos: Sequence[str | Path] = ()) -> dict:
        """Record a field inspection; photos are copied to the files folder as
        ``photos/<sha256><suffix>`` and listed with their checksum and size."""
        d = R.to_date(date)
        g = as_geometry(geometry)
        staged = []
        for p in map(Path, photos):
            if not p.is_file():
                raise InputError(f"photo {p} not found")
            staged.append((p, _sha256(p), p.stat().st_size))
        stored = []
        if staged:
            root = self.files_dir()
            (root / "photos").mkdir(parents=True, exist_ok=True)
            for p, digest, size in staged:
                rel = f"photos/{digest}{p.suffix.lower()}"
                dest = root / rel
                if not dest.exists():
                    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
                    shutil.copyfile(p, tmp)
                    os.replace(tmp, dest)
                stored.append({"inspection_id": inspection_id, "sha256": digest,
                               "filename": p.name, "stored_path": rel, "size_bytes": size})
        t, tp, ta = TABLES["inspections"], TABLES["inspection_photos"], TABLES["alerts"]
        with self.db.write() as conn:
            if alert_ids:
                have = {r[0] for r in conn.execute(sa.select(ta.c.alert_id).where(
                    ta.c.alert_id.in_(list(alert_ids))))}
                missing = [a for a in alert_ids if a not in have]
                if missing:
                    raise InputError(f"inspection {inspection_id}: unknown alert(s) "
                                     f"{', '.join(missing)}")
            R.insert_many(self.db, conn, t, [{
                "inspection_id": inspection_id, "date": d, "team": team, "findings": findings,
                "site_id": site_id, "alert_ids": ",".join(alert_ids) or None, "geom": g}])
            if stored:
                conn.execute(tp.insert(), stored)
        return self.inspection(inspection_id)

    def inspection(self, inspection_id: str) -> dict:
        """An inspection with its ``photos`` and its ``alert_ids`` as a list."""
        t, tp = TABLES["inspections"], TABLES["inspection_photos"]
        with self.db.read() as conn:
            rows = R.select(self.db, conn, t, t.c.inspection_id == inspection_id)
            if not rows:
                raise InputError(f"no inspections with id {inspection_id!r} in {self.db.url}")
            rec = rows[0]
            rec["photos"] = R.select(self.db, conn, tp, tp.c.inspection_id == inspection_id,
                                     order=[tp.c.fid])
        rec["alert_ids"] = R.split_ids(rec.get("alert_ids"))
        return rec

    def verify_photos(self, inspection_id: str) -> list[str]:
        """Paths of an inspection's photos whose file is missing or whose checksum differs."""
        bad = []
        for ph in self.inspection(inspection_id)["photos"]:
            p = self.files_dir() / ph["stored_path"]
            if not p.exists() or _sha256(p) != ph["sha256"]:
                bad.append(str(p))
        return bad

    def samples_at(self, point_id: str) -> list[dict]:
        """Samples taken at a sampling point, by date and parameter."""
        t = TABLES["samples"]
        with self.db.read() as conn:
            return R.select(self.db, conn, t, t.c.point_id == point_id,
                            order=[t.c.sampled_at, t.c.parameter])
