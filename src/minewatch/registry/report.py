"""Import reports: every problem found, each naming the file, feature and field."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Issue:
    """One finding. ``severity`` is ``error`` (the import is refused) or ``warning`` (reported)."""

    severity: str
    source: str
    message: str
    feature: int | None = None  # 1-based feature / data-row number in the source
    feature_id: str | None = None
    field: str | None = None
    code: str = ""

    def line(self) -> str:
        where = [self.source]
        if self.feature is not None:
            f = f"feature {self.feature}"
            if self.feature_id:
                f += f" ({self.feature_id})"
            where.append(f)
        elif self.feature_id:
            where.append(self.feature_id)
        if self.field:
            where.append(f"field '{self.field}'")
        return ", ".join(where) + ": " + self.message

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ImportReport:
    """Outcome of one import: counts, repairs and warnings (errors abort the import)."""

    source: str
    kind: str
    features: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    import_id: str | None = None
    issues: list[Issue] = field(default_factory=list)

    def add(self, severity: str, message: str, **kw) -> Issue:
        issue = Issue(severity, kw.pop("source", self.source), message, **kw)
        self.issues.append(issue)
        return issue

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def repaired(self) -> list[Issue]:
        return [i for i in self.issues if i.code == "repaired"]

    def summary(self) -> str:
        return (
            f"{self.source}: {self.features} features -> {self.inserted} new, {self.updated} "
            f"updated, {self.unchanged} unchanged; {len(self.repaired)} geometries repaired, "
            f"{len(self.warnings)} warnings"
        )

    def as_dict(self) -> dict:
        return {
            "source": self.source, "kind": self.kind, "features": self.features,
            "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
            "import_id": self.import_id,
            "issues": [i.as_dict() for i in self.issues],
        }

    def raise_if_errors(self) -> None:
        """Raise :class:`~minewatch.errors.ValidationError` naming the first error, if any."""
        errs = self.errors
        if not errs:
            return
        from minewatch.errors import ValidationError

        more = f"{len(errs) - 1} more error(s); " if len(errs) > 1 else ""
        exc = ValidationError(errs[0].line(), hint=f"{more}nothing was imported")
        exc.report = self  # type: ignore[attr-defined]
        raise exc
