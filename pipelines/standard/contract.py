"""Read the ODCS data contracts in ``contracts/`` into typed, frozen objects.

Everything downstream (expectation suites, accepted values, region aliases, SQL
re-checks, DP key sets) is generated from these objects, so no enum value is
ever written in Python. A contract that does not say what the hub needs fails
here, with the file and the field named.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
DATASETS = ("episodes", "assessments")
_LOGICAL_TYPES = ("string", "integer", "date", "boolean")


class ContractError(ValueError):
    """A contract file is missing something the hub relies on."""


@dataclass(frozen=True)
class EnumValue:
    """One accepted value of an enumerated column."""

    value: str
    label: str
    aliases: tuple[str, ...] = ()
    category: str | None = None


@dataclass(frozen=True)
class Column:
    """One column of the data standard, as the contract declares it."""

    name: str
    logical_type: str
    required: bool
    unique: bool = False
    description: str = ""
    business_name: str = ""
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    date_format: str | None = None
    enum: tuple[EnumValue, ...] = ()
    default: Any = None
    privacy_role: str | None = None
    true_spellings: tuple[str, ...] = ()
    false_spellings: tuple[str, ...] = ()

    @property
    def accepted_values(self) -> tuple[str, ...]:
        return tuple(e.value for e in self.enum)

    @property
    def aliases(self) -> dict[str, str]:
        """Accepted alternative spellings, mapped to the canonical value."""
        return {alias: e.value for e in self.enum for alias in e.aliases}

    @property
    def labels(self) -> dict[str, str]:
        return {e.value: e.label for e in self.enum}


@dataclass(frozen=True)
class TableRule:
    """A cross-column rule, written in the contract as a Great Expectations config."""

    id: str
    name: str
    description: str
    expectation_type: str
    kwargs: Mapping[str, Any]
    dimension: str = ""
    severity: str = "error"


@dataclass(frozen=True)
class Relationship:
    """A cross-file rule: these columns must exist together in another dataset."""

    id: str
    columns: tuple[str, ...]
    to_dataset: str
    to_columns: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class ValuePattern:
    pattern: str
    scope: str  # "cell": the whole trimmed value; "token": anywhere inside it
    checksum: str | None = None
    normalise: str | None = None


@dataclass(frozen=True)
class ForbiddenIdentifier:
    """A kind of direct identifier the hub never accepts, and how to recognise it."""

    kind: str
    label: str
    column_names: tuple[str, ...]
    column_patterns: tuple[str, ...]
    value_patterns: tuple[ValuePattern, ...]
    exempt_columns: tuple[str, ...]


@dataclass(frozen=True)
class GovernedDimension:
    """A dimension whose listed values are Māori data, released only with approval."""

    dimension: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ContextColumn:
    name: str
    logical_type: str
    description: str


@dataclass(frozen=True)
class Contract:
    """One dataset's contract: its columns, rules and privacy metadata."""

    dataset: str
    id: str
    version: str
    path: Path
    purpose: str
    grain: str
    columns: tuple[Column, ...]
    table_rules: tuple[TableRule, ...]
    relationships: tuple[Relationship, ...]
    privacy_identifier: str
    pseudonymised_columns: tuple[str, ...]
    group_by_dimensions: tuple[str, ...]
    value_bounds: Mapping[str, tuple[float, float]]
    governed_dimensions: tuple[GovernedDimension, ...]
    context_columns: tuple[ContextColumn, ...]
    forbidden_identifiers: tuple[ForbiddenIdentifier, ...]
    _by_name: Mapping[str, Column] = field(repr=False, compare=False, default_factory=dict)

    @property
    def tag(self) -> str:
        """Short name used in manifests and reports, e.g. ``episodes.v1``."""
        return f"{self.dataset}.v{self.version.split('.')[0]}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.tag} has no column {name!r}") from None

    def has_column(self, name: str) -> bool:
        return name in self._by_name

    def key_set(self, dimension: str) -> tuple[str, ...]:
        """The public key set of a group-by dimension: its enum values, in contract order."""
        if dimension not in self.group_by_dimensions:
            raise ContractError(
                f"{self.tag}: {dimension!r} is not a public group-by dimension; "
                f"those are {', '.join(self.group_by_dimensions)}"
            )
        return self.column(dimension).accepted_values


def _custom(props: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {p["property"]: p["value"] for p in props or []}


def _require(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise ContractError(f"{where}: missing {key!r}")
    return mapping[key]


def _column(raw: dict[str, Any], where: str) -> Column:
    name = _require(raw, "name", where)
    where = f"{where}, column {name!r}"
    logical = _require(raw, "logicalType", where)
    if logical not in _LOGICAL_TYPES:
        raise ContractError(f"{where}: logicalType {logical!r} is not one of {_LOGICAL_TYPES}")
    opts = raw.get("logicalTypeOptions") or {}
    custom = _custom(raw.get("customProperties"))
    enum = tuple(
        EnumValue(
            value=str(e["value"]),
            label=str(e.get("label", e["value"])),
            aliases=tuple(str(a) for a in _custom(e.get("customProperties")).get("aliases", [])),
            category=_custom(e.get("customProperties")).get("category"),
        )
        for e in raw.get("enum") or []
    )
    spellings = custom.get("acceptedSpellings") or {}
    if logical == "boolean" and not spellings:
        raise ContractError(f"{where}: a boolean column needs acceptedSpellings")
    date_format = opts.get("format") if logical == "date" else None
    if logical == "date" and date_format != "yyyy-MM-dd":
        raise ContractError(f"{where}: dates must use format yyyy-MM-dd, got {date_format!r}")
    return Column(
        name=name,
        logical_type=logical,
        required=bool(raw.get("required", False)),
        unique=bool(raw.get("unique", False)),
        description=" ".join(str(raw.get("description", "")).split()),
        business_name=str(raw.get("businessName", name)),
        max_length=opts.get("maxLength") if logical == "string" else None,
        minimum=opts.get("minimum") if logical == "integer" else None,
        maximum=opts.get("maximum") if logical == "integer" else None,
        pattern=opts.get("pattern") if logical == "string" else None,
        date_format=date_format,
        enum=enum,
        default=custom.get("default"),
        privacy_role=custom.get("privacyRole"),
        true_spellings=tuple(str(s).lower() for s in spellings.get("true", [])),
        false_spellings=tuple(str(s).lower() for s in spellings.get("false", [])),
    )


def _table_rule(raw: dict[str, Any], where: str) -> TableRule:
    rule_id = _require(raw, "id", where)
    where = f"{where}, quality rule {rule_id!r}"
    if raw.get("type") != "custom" or raw.get("engine") != "great-expectations":
        raise ContractError(f"{where}: only custom great-expectations rules are supported")
    impl = _require(raw, "implementation", where)
    return TableRule(
        id=rule_id,
        name=_require(raw, "name", where),
        description=" ".join(str(raw.get("description", "")).split()),
        expectation_type=_require(impl, "type", where),
        kwargs=dict(impl.get("kwargs") or {}),
        dimension=str(raw.get("dimension", "")),
        severity=str(raw.get("severity", "error")),
    )


def _relationship(raw: dict[str, Any], dataset: str, where: str) -> Relationship:
    rel_id = _require(raw, "id", where)
    sources = [str(s) for s in _require(raw, "from", where)]
    targets = [str(t) for t in _require(raw, "to", where)]
    to_datasets = {t.split(".")[0] for t in targets}
    if len(to_datasets) != 1 or any(s.split(".")[0] != dataset for s in sources):
        raise ContractError(
            f"{where}, relationship {rel_id!r}: must go from {dataset} to one dataset"
        )
    custom = _custom(raw.get("customProperties"))
    return Relationship(
        id=rel_id,
        columns=tuple(s.split(".")[1] for s in sources),
        to_dataset=to_datasets.pop(),
        to_columns=tuple(t.split(".")[1] for t in targets),
        description=" ".join(str(custom.get("description", "")).split()),
    )


def _forbidden(raw: dict[str, Any]) -> ForbiddenIdentifier:
    return ForbiddenIdentifier(
        kind=raw["kind"],
        label=raw["label"],
        column_names=tuple(raw.get("columnNames", [])),
        column_patterns=tuple(raw.get("columnPatterns", [])),
        value_patterns=tuple(
            ValuePattern(
                pattern=v["pattern"],
                scope=v.get("scope", "cell"),
                checksum=v.get("checksum"),
                normalise=v.get("normalise"),
            )
            for v in raw.get("valuePatterns", [])
        ),
        exempt_columns=tuple(raw.get("exemptColumns", [])),
    )


def parse_contract(doc: Mapping[str, Any], path: Path) -> Contract:
    """Build a :class:`Contract` from a parsed ODCS document, checking what the hub needs."""
    where = str(path.name)
    custom = _custom(doc.get("customProperties"))
    dataset = _require(custom, "dataset", where)
    tables = [t for t in _require(doc, "schema", where) if t.get("name") == dataset]
    if len(tables) != 1:
        raise ContractError(f"{where}: needs exactly one schema object named {dataset!r}")
    table = tables[0]
    columns = tuple(_column(c, where) for c in _require(table, "properties", where))
    by_name = {c.name: c for c in columns}
    bounds = {k: (float(v[0]), float(v[1])) for k, v in (custom.get("valueBounds") or {}).items()}
    contract = Contract(
        dataset=dataset,
        id=_require(doc, "id", where),
        version=str(_require(doc, "version", where)),
        path=path,
        purpose=" ".join(str((doc.get("description") or {}).get("purpose", "")).split()),
        grain=str(table.get("dataGranularityDescription", "")),
        columns=columns,
        table_rules=tuple(_table_rule(r, where) for r in table.get("quality") or []),
        relationships=tuple(
            _relationship(r, dataset, where) for r in table.get("relationships") or []
        ),
        privacy_identifier=_require(custom, "privacyIdentifier", where),
        pseudonymised_columns=tuple(_require(custom, "pseudonymisedColumns", where)),
        group_by_dimensions=tuple(_require(custom, "groupByDimensions", where)),
        value_bounds=bounds,
        governed_dimensions=tuple(
            GovernedDimension(g["dimension"], tuple(g["values"]))
            for g in custom.get("maoriDataDimensions") or []
        ),
        context_columns=tuple(
            ContextColumn(c["name"], c["logicalType"], c.get("description", ""))
            for c in custom.get("contextColumns") or []
        ),
        forbidden_identifiers=tuple(
            _forbidden(f) for f in _require(custom, "forbiddenIdentifiers", where)
        ),
        _by_name=by_name,
    )
    _check_consistency(contract, where)
    return contract


def _check_consistency(contract: Contract, where: str) -> None:
    names = set(contract.column_names)
    for listed in (
        [contract.privacy_identifier],
        contract.pseudonymised_columns,
        contract.group_by_dimensions,
        contract.value_bounds,
        [g.dimension for g in contract.governed_dimensions],
    ):
        unknown = [n for n in listed if n not in names]
        if unknown:
            raise ContractError(f"{where}: customProperties name unknown columns {unknown}")
    for dim in contract.group_by_dimensions:
        if not contract.column(dim).enum:
            raise ContractError(
                f"{where}: group-by dimension {dim!r} has no enum (no public key set)"
            )
    for gov in contract.governed_dimensions:
        missing = set(gov.values) - set(contract.column(gov.dimension).accepted_values)
        if missing:
            raise ContractError(f"{where}: Māori-data values {sorted(missing)} are not in the enum")


@functools.cache
def load_contract(dataset: str, contracts_dir: Path = CONTRACTS_DIR) -> Contract:
    """Load ``<dataset>.v1.yaml`` from the contracts folder."""
    if dataset not in DATASETS:
        raise ContractError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    path = contracts_dir / f"{dataset}.v1.yaml"
    with path.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    return parse_contract(doc, path)


def load_contracts(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, Contract]:
    return {d: load_contract(d, contracts_dir) for d in DATASETS}


@functools.cache
def enum_columns() -> dict[str, Column]:
    """Every enumerated column of the contracts, by name (the first dataset that has it)."""
    columns: dict[str, Column] = {}
    for dataset in DATASETS:
        for column in load_contract(dataset).columns:
            if column.enum:
                columns.setdefault(column.name, column)
    return columns


def value_label(dimension: str, value: str) -> str:
    """The contract's label of one value (``ethnicity``, ``maori`` -> ``Māori``), else the value."""
    column = enum_columns().get(dimension)
    return (column.labels.get(value) if column is not None else None) or value
