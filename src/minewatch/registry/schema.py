"""The registry data model: one table specification shared by both backends.

Tables are described once, as plain data (:class:`TableSpec`), and turned into
SQLAlchemy Core tables by :func:`build_metadata`. Geometry columns store
EPSG:4326 (lon/lat) everywhere: one stored CRS per table, whatever CRS came in.

Schema versions are frozen spec tuples (``SPEC_V1`` ...); each Alembic
migration builds the tables of *its* version, so editing the current model
means adding ``SPEC_V2`` and a migration, never editing ``SPEC_V1``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import shapely
import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator, UserDefinedType

from minewatch.registry import gpkg

SRID = 4326

LICENCE_KINDS = ("exploration", "extraction")
LICENCE_STATUSES = ("application", "active", "suspended", "expired", "revoked", "relinquished")
#: Statuses under which a licence authorises work between valid_from and valid_to.
#: "expired" counts: expiry is the end of the term, already given by valid_to. Suspension,
#: revocation and relinquishment take effect on their version's effective_from date.
VALID_STATUSES = ("active", "expired")
RECEPTOR_KINDS = (
    "village", "water_intake", "well", "spring", "river_reach", "protected_area",
)
TRIAGE_STATES = ("new", "confirmed", "dismissed", "escalated")
RUN_OUTCOMES = ("running", "ok", "failed", "partial")
NOTIFY_CHANNELS = ("webhook", "email")
#: pending: to be sent; delivered: the receiver accepted it; dead: given up (dead letter).
DELIVERY_STATES = ("pending", "delivered", "dead")
#: Who may do what (docs/api.md): admin (users, registry edits), analyst (runs, reviews),
#: viewer (read all). The anonymous public is no role: it sees published alerts only.
ROLES = ("admin", "analyst", "viewer")
#: The review workflow of an alert: new -> pre-validated -> validated | rejected -> audited.
REVIEW_STATES = ("new", "pre-validated", "validated", "rejected", "audited")


@dataclass(frozen=True)
class Field:
    """One attribute column. ``type`` is text | int | float | date | datetime | json | bool."""

    name: str
    type: str = "text"
    required: bool = False
    choices: tuple[str, ...] | None = None
    doc: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A registry table: business key, attributes and (optional) geometry column ``geom``."""

    name: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    geometry: str | None = None  # GeoPackage geometry type name: MULTIPOLYGON, POINT, GEOMETRY
    geometry_required: bool = False
    description: str = ""
    importable: bool = True
    extra_indexes: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def F(name: str, type: str = "text", required: bool = False, choices=None, doc: str = "") -> Field:
    return Field(name, type, required, tuple(choices) if choices else None, doc)


EXTRA = F("extra", "json", doc="unmapped source attributes, kept as JSON")

SPEC_V1: tuple[TableSpec, ...] = (
    TableSpec(
        "deposits", ("deposit_id",),
        (F("deposit_id", required=True), F("name"), F("commodities"), EXTRA),
        geometry="GEOMETRY", description="Mineral deposits (name, commodities, outline or point)",
    ),
    TableSpec(
        "operators", ("operator_id",),
        (F("operator_id", required=True), F("name"), F("country"), F("registration_no"), EXTRA),
        description="Companies, cooperatives and persons holding licences",
    ),
    TableSpec(
        "licence_versions", ("licence_id", "effective_from"),
        (
            F("licence_id", required=True),
            F("version", "int", doc="1, 2, ... in effective_from order (assigned)"),
            F("kind", required=True, choices=LICENCE_KINDS),
            F("holder", doc="holder name as written in the source"),
            F("operator_id"),
            F("commodities"),
            F("deposit_id"),
            F("status", required=True, choices=LICENCE_STATUSES),
            F("valid_from", "date", required=True),
            F("valid_to", "date"),
            F("effective_from", "date", required=True,
              doc="date this version (status, boundary, holder...) took effect"),
            F("effective_to", "date", doc="effective_from of the next version (assigned)"),
            F("source_document", doc="reference of the document that records this version"),
            F("change_note"),
            F("recorded_at", "datetime"),
            F("import_id"),
            EXTRA,
        ),
        geometry="MULTIPOLYGON", geometry_required=True,
        description="Mining licences and concessions, one row per dated version "
        "(never overwritten)",
        extra_indexes=(("effective_from",), ("deposit_id",)),
    ),
    TableSpec(
        "sites", ("site_id",),
        (F("site_id", required=True), F("name"), F("description"),
         F("deposit_ids", doc="comma-separated deposit ids"),
         F("licence_ids", doc="comma-separated licence ids"),
         F("receptor_ids", doc="comma-separated receptor ids"), EXTRA),
        geometry="MULTIPOLYGON", geometry_required=True,
        description="Monitored areas, linked to deposits, licences and receptors",
    ),
    TableSpec(
        "parcels", ("parcel_id",),
        (F("parcel_id", required=True), F("holder"), F("land_use"), F("source_document"), EXTRA),
        geometry="MULTIPOLYGON", geometry_required=True,
        description="Cadastral land parcels (property records)",
    ),
    TableSpec(
        "receptors", ("receptor_id",),
        (F("receptor_id", required=True), F("kind", required=True, choices=RECEPTOR_KINDS),
         F("name"), F("population", "int"), F("notes"), EXTRA),
        geometry="GEOMETRY", geometry_required=True,
        description="Villages, water intakes, wells, springs, river reaches, protected areas",
    ),
    TableSpec(
        "monitoring_runs", ("run_id",),
        (F("run_id", required=True), F("site_id"), F("started_at", "datetime"),
         F("finished_at", "datetime"), F("outcome", choices=RUN_OUTCOMES),
         F("code_version"), F("inputs", "json"), F("parameters", "json"), F("message"), EXTRA),
        description="Every monitoring (analysis) run: inputs, parameters, code version, outcome",
        importable=False,
    ),
    TableSpec(
        "alerts", ("alert_id",),
        (F("alert_id", required=True), F("run_id"), F("site_id"), F("onset_date", "date"),
         F("area_ha", "float"), F("licence_id"), F("licence_status_at_onset"),
         F("triage_state", choices=TRIAGE_STATES), F("triage_by"), F("triage_at", "datetime"),
         F("triage_reason"), EXTRA),
        geometry="MULTIPOLYGON",
        description="Disturbance alerts with their current triage state",
        importable=False, extra_indexes=(("triage_state",), ("run_id",)),
    ),
    TableSpec(
        "alert_triage", ("alert_id", "changed_at"),
        (F("alert_id", required=True), F("state", required=True, choices=TRIAGE_STATES),
         F("changed_by"), F("changed_at", "datetime", required=True), F("reason")),
        description="Every triage change of every alert: who, when, why",
        importable=False,
    ),
    TableSpec(
        "inspections", ("inspection_id",),
        (F("inspection_id", required=True), F("site_id"), F("date", "date", required=True),
         F("team"), F("findings"), F("alert_ids", doc="comma-separated linked alert ids"), EXTRA),
        geometry="GEOMETRY",
        description="Field inspections",
        importable=False,
    ),
    TableSpec(
        "inspection_photos", ("inspection_id", "sha256"),
        (F("inspection_id", required=True), F("sha256", required=True), F("filename"),
         F("stored_path"), F("size_bytes", "int"), F("caption")),
        description="Inspection photos, stored as files named by their SHA-256",
        importable=False,
    ),
    TableSpec(
        "sampling_points", ("point_id",),
        (F("point_id", required=True), F("name"), F("kind"), F("water_body"),
         F("receptor_id"), EXTRA),
        geometry="POINT", geometry_required=True,
        description="Water sampling points",
    ),
    TableSpec(
        "samples", ("sample_id", "parameter"),
        (F("sample_id", required=True), F("point_id", required=True),
         F("sampled_at", "date", required=True), F("medium"), F("parameter", required=True),
         F("value", "float"), F("unit"), F("censored", doc="'<' below / '>' above the limit"),
         F("detection_limit", "float"), F("lab"), F("method"), F("notes"), EXTRA),
        description="Water and sediment samples, one row per measured parameter",
        extra_indexes=(("point_id",),),
    ),
    TableSpec(
        "import_log", ("import_id",),
        (F("import_id", required=True), F("kind"), F("source"), F("started_at", "datetime"),
         F("inserted", "int"), F("updated", "int"), F("unchanged", "int"),
         F("report", "json")),
        description="One row per successful import",
        importable=False,
    ),
)

#: Tables added by revision 0002 (notifications, docs/notifications.md); frozen like SPEC_V1.
NOTIFY_V1: tuple[TableSpec, ...] = (
    TableSpec(
        "subscriptions", ("subscription_id",),
        (F("subscription_id", required=True),
         F("channel", required=True, choices=NOTIFY_CHANNELS),
         F("target", required=True, doc="webhook URL or e-mail address"),
         F("site_id", doc="the site watched (or an AOI in geom)"),
         F("min_level", "int", required=True, doc="1 possible, 2 probable, 3 confirmed"),
         F("min_area_ha", "float", required=True),
         F("secret", doc="HMAC-SHA256 key of webhook signatures (kept in clear)"),
         F("active", "bool", required=True),
         F("created_at", "datetime"), F("note"), EXTRA),
        geometry="MULTIPOLYGON",
        description="Who is told about which alerts: a webhook or an e-mail address per site "
        "or AOI, with a minimum level and area",
        importable=False,
    ),
    TableSpec(
        "notification_deliveries", ("subscription_id", "event_id"),
        (F("subscription_id", required=True), F("event_id", required=True),
         F("alert_id", required=True), F("site_id"), F("level", "int", required=True),
         F("retracted", "bool", required=True),
         F("channel", required=True, choices=NOTIFY_CHANNELS),
         F("state", required=True, choices=DELIVERY_STATES),
         F("attempts", "int", required=True), F("last_error"),
         F("created_at", "datetime", required=True), F("updated_at", "datetime"),
         F("delivered_at", "datetime"), F("message_id", doc="the e-mail digest's Message-ID"),
         F("event", "json", required=True, doc="the alert event, as sent")),
        description="The delivery ledger: one row per subscription, alert, level and "
        "retraction; dead letters keep the reason of the last try",
        importable=False,
        extra_indexes=(("state",), ("alert_id",)),
    ),
)

SPEC_V2: tuple[TableSpec, ...] = SPEC_V1 + NOTIFY_V1

#: Tables added by revision 0004 (access and review, docs/api.md); frozen like SPEC_V1.
ACCESS_V1: tuple[TableSpec, ...] = (
    TableSpec(
        "users", ("user_id",),
        (F("user_id", required=True), F("role", required=True, choices=ROLES),
         F("password_hash", required=True, doc="argon2id hash (argon2-cffi)"),
         F("active", "bool", required=True), F("created_at", "datetime"), F("created_by")),
        description="People who log in to the API and dashboard, with their role",
        importable=False,
    ),
    TableSpec(
        "api_tokens", ("token_sha256",),
        (F("token_sha256", required=True, doc="SHA-256 of the token (the token is never kept)"),
         F("token_id", required=True, doc="first characters of the token, to name it"),
         F("user_id", required=True), F("label"), F("created_at", "datetime"),
         F("revoked", "bool", required=True)),
        description="API tokens (Authorization: Bearer), stored as hashes",
        importable=False, extra_indexes=(("token_id",),),
    ),
    TableSpec(
        "user_sessions", ("session_sha256",),
        (F("session_sha256", required=True), F("user_id", required=True),
         F("csrf_token", required=True), F("created_at", "datetime"),
         F("expires_at", "datetime", required=True)),
        description="Browser sessions (cookie), each with its CSRF token",
        importable=False,
    ),
    TableSpec(
        "audit_log", ("audit_id",),
        (F("audit_id", required=True), F("at", "datetime", required=True), F("user_id"),
         F("action", required=True), F("target"), F("detail", "json")),
        description="Every write through the API or the CLI's access commands: who, when, what",
        importable=False, extra_indexes=(("at",),),
    ),
    TableSpec(
        "alert_reviews", ("alert_id",),
        (F("alert_id", required=True), F("state", required=True, choices=REVIEW_STATES),
         F("published", "bool", required=True), F("seq", "int", required=True),
         F("changed_by"), F("changed_at", "datetime"), F("comment")),
        description="Each alert's current review state and whether the public sees it",
        importable=False, extra_indexes=(("state",),),
    ),
    TableSpec(
        "alert_review_log", ("alert_id", "seq"),
        (F("alert_id", required=True), F("seq", "int", required=True), F("from_state"),
         F("state", required=True, choices=REVIEW_STATES), F("published", "bool", required=True),
         F("changed_by", required=True), F("changed_at", "datetime", required=True),
         F("comment")),
        description="Every review transition of every alert: who, when, from, to, comment",
        importable=False,
    ),
)

SPEC_V3: tuple[TableSpec, ...] = SPEC_V2 + ACCESS_V1

CURRENT_SPEC = SPEC_V3
SPECS: dict[str, TableSpec] = {t.name: t for t in CURRENT_SPEC}
#: Import/export kinds: the user-facing name of each table.
KIND_ALIASES = {"licences": "licence_versions", "licenses": "licence_versions",
                "licence": "licence_versions"}


def spec_for(kind: str) -> TableSpec:
    """Table spec for a user-facing kind ('licences', 'receptors', ...)."""
    name = KIND_ALIASES.get(kind, kind)
    if name not in SPECS:
        from minewatch.errors import InputError

        raise InputError(
            f"unknown registry kind {kind!r}",
            hint="one of: licences, " + ", ".join(n for n in SPECS if n != "licence_versions"),
        )
    return SPECS[name]


# --------------------------------------------------------------------------- column types


class _PGGeometry(UserDefinedType):
    cache_ok = True

    def __init__(self, geometry_type: str):
        self.geometry_type = geometry_type

    def get_col_spec(self, **kw) -> str:
        gt = {"MULTIPOLYGON": "MultiPolygon", "POINT": "Point"}.get(self.geometry_type, "Geometry")
        return f"geometry({gt},{SRID})"


class _GpkgGeometry(UserDefinedType):
    cache_ok = True

    def __init__(self, geometry_type: str):
        self.geometry_type = geometry_type

    def get_col_spec(self, **kw) -> str:
        return self.geometry_type


class Geometry(TypeDecorator):
    """Shapely geometry in EPSG:4326: GeoPackage blob on sqlite, PostGIS geometry on PostgreSQL."""

    impl = sa.LargeBinary
    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY"):
        super().__init__()
        self.geometry_type = geometry_type

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PGGeometry(self.geometry_type))
        return dialect.type_descriptor(_GpkgGeometry(self.geometry_type))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, (bytes, str)):
            return value  # already encoded by a bulk path
        if dialect.name == "postgresql":
            return shapely.to_wkb(shapely.set_srid(value, SRID), hex=True, include_srid=True,
                                  output_dimension=2)
        return gpkg.encode(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "postgresql":
            return shapely.from_wkb(value)
        return gpkg.decode(value)


class _SqliteDateTime(UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "DATETIME"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetime; GeoPackage DATETIME text ``YYYY-MM-DDTHH:MM:SS.SSSZ``
    (millisecond precision, as the GeoPackage standard requires)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDateTime())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def _column_type(f: Field):
    return {
        "text": sa.Text(),
        "int": sa.Integer(),
        "float": sa.Double(),  # GeoPackage DOUBLE (its FLOAT is 4 bytes)
        "date": sa.Date(),
        "datetime": UTCDateTime(),
        "json": sa.Text(),
        "bool": sa.Boolean(),
    }[f.type]


def build_metadata(spec: tuple[TableSpec, ...] = CURRENT_SPEC) -> sa.MetaData:
    """SQLAlchemy tables of one schema version (``fid`` integer key, business key unique)."""
    md = sa.MetaData()
    for t in spec:
        cols: list = [sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True)]
        for f in t.fields:
            cols.append(sa.Column(f.name, _column_type(f), nullable=not (f.required)))
        if t.geometry:
            cols.append(sa.Column("geom", Geometry(t.geometry), nullable=not t.geometry_required))
        args: list = [sa.UniqueConstraint(*t.key, name=f"uq_{t.name}_key")]
        for cols_ in t.extra_indexes:
            args.append(sa.Index(f"ix_{t.name}_{'_'.join(cols_)}", *cols_))
        sa.Table(t.name, md, *cols, *args, sqlite_autoincrement=True)
    return md


METADATA = build_metadata()
TABLES: dict[str, sa.Table] = dict(METADATA.tables)
