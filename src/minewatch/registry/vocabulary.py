"""One vocabulary: the names registry fields go by in the files the registry reads.

A source column feeds a registry field when (in this order) a mapping file says so, it is
the field's own name (any case), the field's Shapefile short name (:data:`SHORT_NAMES`,
what our Shapefile exports write), or a name the rest of minewatch uses for it
(:data:`SYNONYMS`). The last rule is what lets a licences file written for
``minewatch analyze`` (the batch contract, docs/batch-contract.md) be imported as it is:

* ``commodity`` is the registry's ``commodities``;
* ``kind`` (exploration | extraction) is not part of the contract, whose licences are by
  definition authorisations to mine: a licences source without a ``kind`` column is
  recorded as ``extraction``, and the import report says so;
* ``status_since`` (the date a ``suspended`` or ``revoked`` status took effect; the
  licence authorised mining from ``valid_from`` until then) becomes the licence's
  history: an ``active`` version from ``valid_from`` and the status's version from
  ``status_since`` (:func:`contract_versions`). For other statuses it changes nothing
  and is kept in ``extra``.

So the registry answers "was this licence valid on day D" for an imported contract file
exactly as ``minewatch.analysis.compliance.read_licences`` does for the file itself.
"""

from __future__ import annotations

import datetime as dt

from minewatch.registry.mapping import ColumnMapping
from minewatch.registry.schema import VALID_STATUSES, TableSpec

#: Short (<= 10 character) names used in Shapefile exports, read back automatically.
SHORT_NAMES = {
    "operator_id": "oper_id", "commodities": "commod", "effective_from": "eff_from",
    "effective_to": "eff_to", "source_document": "source_doc", "change_note": "chg_note",
    "recorded_at": "recorded", "deposit_ids": "dep_ids", "licence_ids": "lic_ids",
    "receptor_ids": "rec_ids", "description": "descr", "receptor_id": "recep_id",
    "registration_no": "reg_no", "detection_limit": "det_limit", "licence_status_at_onset":
    "lic_status", "triage_state": "tri_state", "triage_reason": "tri_reason",
    "inspection_id": "insp_id", "finished_at": "finished", "code_version": "code_ver",
}
_LONG_NAMES = {v: k for k, v in SHORT_NAMES.items()}
#: Per table: a name used elsewhere in minewatch -> the registry field.
SYNONYMS = {"licence_versions": {"commodity": "commodities"}}
#: Fields the registry assigns itself; ignored when present in a source.
ASSIGNED = {"licence_versions": {"version", "effective_to", "import_id"}}
#: Marks a source column that is read but not stored as such.
IGNORE = "__ignore__"
#: The batch contract's licence column giving when a suspended/revoked status took effect.
STATUS_SINCE = "status_since"
#: ``kind`` of licences whose source does not say (the batch contract's meaning).
CONTRACT_KIND = "extraction"


def resolve_columns(spec: TableSpec, columns: list[str],
                    mapping: ColumnMapping) -> dict[str, str | None]:
    """Source column -> registry field it feeds (``None``: kept in ``extra``; :data:`IGNORE`:
    assigned by the registry). For licences, ``status_since`` maps to :data:`STATUS_SINCE`."""
    by_lower = {f.name.lower(): f.name for f in spec.fields}
    synonyms = SYNONYMS.get(spec.name, {})
    assigned = ASSIGNED.get(spec.name, set())
    lowered = {c.lower().strip() for c in columns}
    out: dict[str, str | None] = {}
    for c in columns:
        low = c.lower().strip()
        if c in mapping.columns:
            tgt = mapping.columns[c]
        elif low in by_lower:
            tgt = by_lower[low]
        elif low in _LONG_NAMES and _LONG_NAMES[low] in spec.field_names:
            tgt = _LONG_NAMES[low]
        elif low in synonyms and synonyms[low] not in lowered:
            tgt = synonyms[low]
        elif low == STATUS_SINCE and spec.name == "licence_versions":
            tgt = STATUS_SINCE
        else:
            tgt = None
        out[c] = IGNORE if tgt in assigned else tgt
    return out


def takes_effect_on_its_date(status: str | None) -> bool:
    """Whether a status ends the licence's authorisation from its own version's date."""
    return status not in VALID_STATUSES and status != "application"


def contract_versions(row: dict, since: dt.date) -> list[dict]:
    """The licence versions a contract row with ``status_since`` stands for (oldest first).

    A ``suspended``/``revoked`` licence authorised mining from ``valid_from`` until
    ``since``: an ``active`` version from ``valid_from`` (when ``since`` is later), then
    the row's status from ``since``. Other statuses are one version, as without
    ``status_since``.
    """
    if not takes_effect_on_its_date(row.get("status")):
        return [row]
    changed = {**row, "effective_from": since}
    vf = row.get("valid_from")
    if vf is None or since <= vf:
        return [changed]
    return [{**row, "status": "active", "effective_from": vf}, changed]
