"""The policy manifest: the machine-readable side of the privacy policy (TOML).

The Markdown policy tells people what is processed; the manifest tells the SDK. It declares
the controller, every purpose with its lawful basis, every data item with its purposes,
retention, recipients and the OS permission it needs, every third-party recipient, the
app's features and which changes count as *major* (re-consent needed, OBL-UPD-2).

Everything is validated when loaded: wrong types, unknown keys, duplicate ids and dangling
references all raise :class:`~sdk.errors.ManifestError`, which names the file, the dotted
field path (``data_items[3].lawful_basis``, indices from 0) and what is expected. A
manifest contains no personal data, so the offending manifest value is quoted in the error.

Example (abridged)::

    version = "2026.11"
    effective_date = 2026-12-01
    language = "zh-CN"
    major_changes = ["purpose_added", "recipient_added"]

    [controller]
    name = "示例电子签科技有限公司"
    contact_email = "privacy@demo-esign.example"
    address = "..."

    [[features]]
    id = "realname_signing"
    name = "实名签署"

    [[purposes]]
    id = "realname_verification"
    name = "实名认证"
    description = "..."
    lawful_basis = "consent"
    separate_consent = true
    required_for = ["realname_signing"]

    [[data_items]]
    id = "id_number"
    name = "身份证号码"
    category = "identity"
    sensitive = true
    purposes = ["realname_verification"]
    lawful_basis = "consent"
    retention = "P5Y"
    recipients = ["realname_agency"]
    required_for = ["realname_signing"]

    [[recipients]]
    id = "realname_agency"
    ...
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, TypeVar

from ..errors import ManifestError, PolicyError

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - Python 3.10
    import tomli as _toml

__all__ = [
    "LAWFUL_BASES",
    "PERMISSIONS",
    "MAJOR_CHANGE_KINDS",
    "UNTIL_ACCOUNT_CANCELLED",
    "Retention",
    "parse_retention",
    "Controller",
    "Purpose",
    "DataItem",
    "Recipient",
    "Feature",
    "Manifest",
    "parse_manifest",
    "load_manifest",
    "manifest_from_json",
]

#: Lawful bases for processing, one per item of PIPL art. 13 para. 1. Only ``consent``
#: needs the user's agreement; the others are the "no consent needed" cases the policy
#: lists (OBL-BASIS-1).
LAWFUL_BASES: dict[str, str] = {
    "consent": "PIPL art. 13(1): the individual's consent",
    "contract": (
        "PIPL art. 13(2): necessary to conclude or perform a contract to which the "
        "individual is a party (or for HR management under lawful rules)"
    ),
    "legal_obligation": (
        "PIPL art. 13(3): necessary to fulfil a statutory duty or obligation "
        "(e.g. Cybersecurity Law logs, Electronic Signature Law records)"
    ),
    "public_health_emergency": (
        "PIPL art. 13(4): necessary to respond to a public health emergency, or to protect "
        "a natural person's life, health or property in an emergency"
    ),
    "news_reporting": (
        "PIPL art. 13(5): news reporting or public-opinion supervision in the public "
        "interest, within a reasonable scope"
    ),
    "self_disclosed": (
        "PIPL art. 13(6): information the individual made public themselves, or that was "
        "otherwise lawfully made public, within a reasonable scope"
    ),
    "other_law": "PIPL art. 13(7): another circumstance provided for by law or regulation",
}

#: OS permissions a data item may need; ``"none"`` (or leaving the key out) means no
#: permission, read as ``None``.
PERMISSIONS: dict[str, str] = {
    "camera": "camera (Android CAMERA, iOS NSCameraUsageDescription)",
    "photos": "photo library (Android READ_MEDIA_IMAGES, iOS NSPhotoLibraryUsageDescription)",
    "phone_state": "phone state / device identifier (Android READ_PHONE_STATE)",
}

#: Kinds of policy change a manifest may declare as major (re-consent, OBL-UPD-2).
MAJOR_CHANGE_KINDS: dict[str, str] = {
    "purpose_added": "a new purpose of processing",
    "data_item_added": "a new type of personal information collected",
    "recipient_added": "a new third party receives personal information",
    "recipient_changed": "a recipient changes, or shares different items",
    "use_changed": "an item is used for other purposes, or on another lawful basis",
    "retention_changed": "data is kept longer or differently",
    "controller_changed": "the controller (ownership) changes",
    "contact_changed": "the contact / complaint channel for personal information changes",
}

#: Retention value meaning "kept until the user cancels the account".
UNTIL_ACCOUNT_CANCELLED = "until_account_cancelled"

# \Z, not $: with re.match, "$" also matches before a trailing newline ("account\n").
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*\Z")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*\Z")
_DURATION_RE = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?\Z"
)
_RETENTION_EXPECTED = (
    "an ISO 8601 duration such as 'P5Y', 'P6M', 'P30D' or 'PT12H', "
    f"or '{UNTIL_ACCOUNT_CANCELLED}'"
)

_Start = TypeVar("_Start", _dt.date, _dt.datetime)


# --------------------------------------------------------------------------------------
# Retention
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    """How long a data item is kept (OBL-SEC-3), parsed from the manifest's ``retention``.

    Either a duration (weeks are folded into ``days``, the time part into ``seconds``) or
    "until the account is cancelled". Build with :func:`parse_retention`.
    """

    text: str
    years: int = 0
    months: int = 0
    days: int = 0
    seconds: int = 0
    until_account_cancelled: bool = False

    def expires(self, start: _Start) -> _Start | None:
        """When data kept from *start* must be gone; ``None`` while the account exists.

        Months and years are calendar steps, clamped to the month's last day
        (2024-02-29 + P1Y = 2025-02-28). For a :class:`datetime.date` start the time part
        counts in whole days only.
        """
        if self.until_account_cancelled:
            return None
        total_months = start.month - 1 + self.months + 12 * self.years
        year = start.year + total_months // 12
        month = total_months % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        moved = start.replace(year=year, month=month, day=day)
        return moved + _dt.timedelta(days=self.days, seconds=self.seconds)

    def __str__(self) -> str:
        return self.text


def parse_retention(text: str) -> Retention:
    """Parse ``"P5Y"``, ``"P30D"``, ``"P1Y6M"``, ``"PT12H"`` … or ``"until_account_cancelled"``.

    Raises:
        ValueError: *text* is neither.
    """
    if text == UNTIL_ACCOUNT_CANCELLED:
        return Retention(text=text, until_account_cancelled=True)
    match = _DURATION_RE.match(text) if isinstance(text, str) else None
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"retention must be {_RETENTION_EXPECTED}, got {text!r}")
    parts = {name: int(value) if value else 0 for name, value in match.groupdict().items()}
    return Retention(
        text=text,
        years=parts["years"],
        months=parts["months"],
        days=parts["days"] + 7 * parts["weeks"],
        seconds=parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"],
    )


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Controller:
    """Who is responsible for the personal information (PIPL art. 17(1)); OBL-CON-1."""

    name: str
    contact_email: str
    address: str
    phone: str | None = None


@dataclass(frozen=True)
class Feature:
    """A user-facing feature of the app that purposes and data items can be required for."""

    id: str
    name: str


@dataclass(frozen=True)
class Purpose:
    """A purpose of processing (PIPL art. 17(1)(2)).

    Attributes:
        lawful_basis: a key of :data:`LAWFUL_BASES`.
        separate_consent: the purpose needs its own, separate consent (PIPL art. 23, 29).
        required_for: ids of the features that cannot work without this purpose.
    """

    id: str
    name: str
    description: str
    lawful_basis: str
    separate_consent: bool = False
    required_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataItem:
    """One type of personal information the app processes.

    Attributes:
        category: free-form category id (``identity``, ``biometric``, ``device``, ...).
        sensitive: sensitive personal information (PIPL art. 28); its purposes all need
            separate consent.
        required_for: ids of the features that cannot work without this item.
        purposes: ids of the purposes the item is processed for.
        lawful_basis: a key of :data:`LAWFUL_BASES`.
        retention: as written in the manifest; :attr:`retention_period` parses it.
        recipients: ids of the third parties the item is given to.
        permission: a key of :data:`PERMISSIONS`, or ``None`` when no OS permission is needed.
    """

    id: str
    name: str
    category: str
    sensitive: bool
    required_for: tuple[str, ...]
    purposes: tuple[str, ...]
    lawful_basis: str
    retention: str
    recipients: tuple[str, ...] = ()
    permission: str | None = None

    @property
    def retention_period(self) -> Retention:
        """:attr:`retention` parsed (validated when the manifest was loaded)."""
        return parse_retention(self.retention)


@dataclass(frozen=True)
class Recipient:
    """A third party that receives personal information (PIPL art. 23; OBL-SH-1).

    Attributes:
        purpose: id of the purpose the items are given for.
        items: ids of the data items given.
        transfer_method: how they travel (e.g. "HTTPS API, encrypted end to end").
    """

    id: str
    name: str
    contact: str
    purpose: str
    items: tuple[str, ...]
    transfer_method: str


@dataclass(frozen=True)
class Manifest:
    """The validated policy manifest. Build it with :func:`load_manifest` or
    :func:`parse_manifest`; every id reference inside is known to resolve."""

    version: str
    effective_date: _dt.date
    language: str
    controller: Controller
    purposes: tuple[Purpose, ...]
    data_items: tuple[DataItem, ...]
    recipients: tuple[Recipient, ...] = ()
    major_changes: tuple[str, ...] = ()
    features: tuple[Feature, ...] = ()

    # -- look-ups ------------------------------------------------------------------------

    def purpose(self, purpose_id: str) -> Purpose:
        """The purpose with this id.

        Raises:
            PolicyError: the manifest declares no such purpose (OBL-PURP-1: processing for
                an undeclared purpose is refused).
        """
        return self._lookup("purpose", self.purposes, purpose_id,
                            ". A new purpose needs a new policy version and fresh consent")

    def item(self, item_id: str) -> DataItem:
        """The data item with this id.

        Raises:
            PolicyError: the manifest declares no such item (OBL-SEC-3).
        """
        return self._lookup("data item", self.data_items, item_id)

    def recipient(self, recipient_id: str) -> Recipient:
        """The recipient with this id; :class:`PolicyError` if not declared."""
        return self._lookup("recipient", self.recipients, recipient_id)

    def feature(self, feature_id: str) -> Feature:
        """The feature with this id; :class:`PolicyError` if not declared."""
        return self._lookup("feature", self.features, feature_id)

    def _lookup(self, kind: str, entries: tuple[Any, ...], wanted: str, hint: str = "") -> Any:
        for entry in entries:
            if entry.id == wanted:
                return entry
        raise PolicyError(
            f"{kind} '{wanted}' is not declared in policy {self.version}; declared: "
            f"{_names(e.id for e in entries)}{hint}"
        )

    def purposes_for(self, feature_id: str) -> tuple[Purpose, ...]:
        """The purposes a feature needs (their ``required_for`` names it)."""
        self.feature(feature_id)
        return tuple(p for p in self.purposes if feature_id in p.required_for)

    def items_for(self, feature_id: str) -> tuple[DataItem, ...]:
        """The data items a feature needs (their ``required_for`` names it)."""
        self.feature(feature_id)
        return tuple(i for i in self.data_items if feature_id in i.required_for)

    def recipients_of(self, item_id: str) -> tuple[Recipient, ...]:
        """The recipients that receive this data item."""
        self.item(item_id)
        return tuple(r for r in self.recipients if item_id in r.items)

    def sensitive_items(self) -> tuple[DataItem, ...]:
        """The items marked sensitive (PIPL art. 28)."""
        return tuple(i for i in self.data_items if i.sensitive)

    # -- serialisation -------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON-ready data, with the TOML's keys (dates as ISO strings).

        :func:`manifest_from_json` reads it back.
        """
        controller: dict[str, Any] = {
            "name": self.controller.name,
            "contact_email": self.controller.contact_email,
            "address": self.controller.address,
            "phone": self.controller.phone,
        }
        return {
            "version": self.version,
            "effective_date": self.effective_date.isoformat(),
            "language": self.language,
            "controller": controller,
            "major_changes": list(self.major_changes),
            "features": [{"id": f.id, "name": f.name} for f in self.features],
            "purposes": [
                {
                    "id": p.id,
                    "name": p.name,
                    "description": p.description,
                    "lawful_basis": p.lawful_basis,
                    "separate_consent": p.separate_consent,
                    "required_for": list(p.required_for),
                }
                for p in self.purposes
            ],
            "data_items": [
                {
                    "id": i.id,
                    "name": i.name,
                    "category": i.category,
                    "sensitive": i.sensitive,
                    "required_for": list(i.required_for),
                    "purposes": list(i.purposes),
                    "lawful_basis": i.lawful_basis,
                    "retention": i.retention,
                    "recipients": list(i.recipients),
                    "permission": i.permission,
                }
                for i in self.data_items
            ],
            "recipients": [
                {
                    "id": r.id,
                    "name": r.name,
                    "contact": r.contact,
                    "purpose": r.purpose,
                    "items": list(r.items),
                    "transfer_method": r.transfer_method,
                }
                for r in self.recipients
            ],
        }


def _names(ids: Any) -> str:
    listed = ", ".join(ids)
    return listed or "(none)"


# --------------------------------------------------------------------------------------
# Reading and validation
# --------------------------------------------------------------------------------------

_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (str, "string"),
    (list, "array"),
    (dict, "table"),
    (_dt.datetime, "date-time"),
    (_dt.date, "date"),
    (_dt.time, "time"),
)


def _got(value: Any) -> str:
    """'got ...' text for an error: the value for scalars, the type for containers."""
    if value is None:
        return "got nothing (null)"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"got {shown!r}"
    if isinstance(value, (list, tuple)):
        return "got an array"
    if isinstance(value, dict):
        return "got a table"
    for kind, name in _TYPE_NAMES:
        if isinstance(value, kind):
            return f"got {name} {value!s}"
    return f"got {type(value).__name__}"


class _Reader:
    """Validating accessors that raise :class:`ManifestError` with the field path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, field: str, expected: str, problem: str = "") -> ManifestError:
        return ManifestError(self.file, field, expected, problem)

    def table(
        self, value: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path or "(document)", "a table", _got(value))
        known = required + optional
        for key in value:
            if key not in known:
                where = f"{path}.{key}" if path else str(key)
                raise self.fail(where, f"one of the known keys: {', '.join(known)}", "unknown key")
        for key in required:
            if key not in value or value[key] is None:
                where = f"{path}.{key}" if path else key
                generic = _INDEX_RE.sub("", where)
                raise self.fail(where, _REQUIRED_EXPECT.get(generic, "present"), "missing")
        return value

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "a non-empty string", _got(value))
        return value

    def ident(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not _ID_RE.match(value):
            raise self.fail(
                path, "an id of lowercase letters, digits and '_', starting with a letter",
                _got(value),
            )
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, "true or false", _got(value))
        return value

    def choice(self, value: Any, path: str, allowed: Mapping[str, str] | tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise self.fail(path, f"one of {', '.join(allowed)}", _got(value))
        return value

    def ids(self, value: Any, path: str, non_empty: bool = False) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(path, "an array of ids", _got(value))
        if non_empty and not value:
            raise self.fail(path, "a non-empty array of ids", "got an empty array")
        result = tuple(self.ident(v, f"{path}[{n}]") for n, v in enumerate(value))
        for n, v in enumerate(result):
            if v in result[:n]:
                raise self.fail(f"{path}[{n}]", "listed once", f"got {v!r} twice")
        return result

    def array_of_tables(self, value: Any, path: str, non_empty: bool) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"an array of tables ([[{path}]])", _got(value))
        if non_empty and not value:
            raise self.fail(path, f"at least one [[{path}]] entry", "got none")
        return value


#: What a required key must hold, by "section.key" (array indices dropped).
_REQUIRED_EXPECT: dict[str, str] = {
    "version": "a non-empty string (the policy version, e.g. '2026.11')",
    "effective_date": "a date (YYYY-MM-DD)",
    "language": "a language tag such as 'zh-CN'",
    "controller": "a table ([controller])",
    "purposes": "an array of tables ([[purposes]])",
    "data_items": "an array of tables ([[data_items]])",
    "major_changes": f"an array of change kinds ({', '.join(MAJOR_CHANGE_KINDS)})",
    "controller.name": "a non-empty string (the controller's legal name)",
    "controller.contact_email": "an email address",
    "controller.address": "a non-empty string (postal address)",
    "features.id": "an id",
    "features.name": "a non-empty string",
    "purposes.id": "an id",
    "purposes.name": "a non-empty string",
    "purposes.description": "a non-empty string",
    "purposes.lawful_basis": f"one of {', '.join(LAWFUL_BASES)}",
    "data_items.id": "an id",
    "data_items.name": "a non-empty string",
    "data_items.category": "an id (e.g. 'identity', 'device')",
    "data_items.sensitive": "true or false (PIPL art. 28 sensitive personal information)",
    "data_items.purposes": "a non-empty array of purpose ids",
    "data_items.lawful_basis": f"one of {', '.join(LAWFUL_BASES)}",
    "data_items.retention": _RETENTION_EXPECTED,
    "recipients.id": "an id",
    "recipients.name": "a non-empty string",
    "recipients.contact": "a non-empty string",
    "recipients.purpose": "a purpose id",
    "recipients.items": "a non-empty array of data item ids",
    "recipients.transfer_method": "a non-empty string",
}
_INDEX_RE = re.compile(r"\[\d+\]")

_TOP_REQUIRED = (
    "version", "effective_date", "language", "controller", "purposes", "data_items",
    "major_changes",
)
_TOP_OPTIONAL = ("recipients", "features")
_CONTROLLER_KEYS = (("name", "contact_email", "address"), ("phone",))
_FEATURE_KEYS = (("id", "name"), ())
_PURPOSE_KEYS = (
    ("id", "name", "description", "lawful_basis"),
    ("separate_consent", "required_for"),
)
_ITEM_KEYS = (
    ("id", "name", "category", "sensitive", "purposes", "lawful_basis", "retention"),
    ("required_for", "recipients", "permission"),
)
_RECIPIENT_KEYS = (("id", "name", "contact", "purpose", "items", "transfer_method"), ())


def _read_date(r: _Reader, value: Any, path: str) -> _dt.date:
    if isinstance(value, _dt.datetime):
        raise r.fail(path, "a date without a time (YYYY-MM-DD)", _got(value))
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise r.fail(path, "a date (YYYY-MM-DD)", _got(value))


def _build(data: Any, file: str) -> Manifest:
    r = _Reader(file)
    top = r.table(data, "", _TOP_REQUIRED, _TOP_OPTIONAL)

    version = r.string(top["version"], "version")
    if any(ch.isspace() for ch in version):
        raise r.fail("version", "a version without spaces, e.g. '2026.11'", _got(version))
    effective_date = _read_date(r, top["effective_date"], "effective_date")
    language = top["language"]
    if not isinstance(language, str) or not _LANGUAGE_RE.match(language):
        raise r.fail("language", "a language tag such as 'zh-CN'", _got(language))

    c = r.table(top["controller"], "controller", *_CONTROLLER_KEYS)
    email = r.string(c["contact_email"], "controller.contact_email")
    if not _EMAIL_RE.match(email):
        raise r.fail("controller.contact_email", "an email address", _got(email))
    phone = c.get("phone")
    controller = Controller(
        name=r.string(c["name"], "controller.name"),
        contact_email=email,
        address=r.string(c["address"], "controller.address"),
        phone=None if phone is None else r.string(phone, "controller.phone"),
    )

    major_raw = top["major_changes"]
    if not isinstance(major_raw, list):
        raise r.fail("major_changes", _REQUIRED_EXPECT["major_changes"], _got(major_raw))
    major_changes = tuple(
        r.choice(v, f"major_changes[{n}]", MAJOR_CHANGE_KINDS) for n, v in enumerate(major_raw)
    )

    features = []
    for n, raw in enumerate(r.array_of_tables(top.get("features", []), "features", False)):
        path = f"features[{n}]"
        t = r.table(raw, path, *_FEATURE_KEYS)
        features.append(
            Feature(id=r.ident(t["id"], f"{path}.id"), name=r.string(t["name"], f"{path}.name"))
        )

    purposes = []
    for n, raw in enumerate(r.array_of_tables(top["purposes"], "purposes", True)):
        path = f"purposes[{n}]"
        t = r.table(raw, path, *_PURPOSE_KEYS)
        purposes.append(
            Purpose(
                id=r.ident(t["id"], f"{path}.id"),
                name=r.string(t["name"], f"{path}.name"),
                description=r.string(t["description"], f"{path}.description"),
                lawful_basis=r.choice(t["lawful_basis"], f"{path}.lawful_basis", LAWFUL_BASES),
                separate_consent=r.boolean(
                    t.get("separate_consent", False), f"{path}.separate_consent"
                ),
                required_for=r.ids(t.get("required_for", []), f"{path}.required_for"),
            )
        )

    items = []
    for n, raw in enumerate(r.array_of_tables(top["data_items"], "data_items", True)):
        path = f"data_items[{n}]"
        t = r.table(raw, path, *_ITEM_KEYS)
        retention = t["retention"]
        try:
            parse_retention(retention)
        except ValueError:
            raise r.fail(f"{path}.retention", _RETENTION_EXPECTED, _got(retention)) from None
        permission = t.get("permission", "none")
        if permission != "none":
            r.choice(permission, f"{path}.permission", (*PERMISSIONS, "none"))
        items.append(
            DataItem(
                id=r.ident(t["id"], f"{path}.id"),
                name=r.string(t["name"], f"{path}.name"),
                category=r.ident(t["category"], f"{path}.category"),
                sensitive=r.boolean(t["sensitive"], f"{path}.sensitive"),
                required_for=r.ids(t.get("required_for", []), f"{path}.required_for"),
                purposes=r.ids(t["purposes"], f"{path}.purposes", non_empty=True),
                lawful_basis=r.choice(t["lawful_basis"], f"{path}.lawful_basis", LAWFUL_BASES),
                retention=retention,
                recipients=r.ids(t.get("recipients", []), f"{path}.recipients"),
                permission=None if permission == "none" else permission,
            )
        )

    recipients = []
    for n, raw in enumerate(r.array_of_tables(top.get("recipients", []), "recipients", False)):
        path = f"recipients[{n}]"
        t = r.table(raw, path, *_RECIPIENT_KEYS)
        recipients.append(
            Recipient(
                id=r.ident(t["id"], f"{path}.id"),
                name=r.string(t["name"], f"{path}.name"),
                contact=r.string(t["contact"], f"{path}.contact"),
                purpose=r.ident(t["purpose"], f"{path}.purpose"),
                items=r.ids(t["items"], f"{path}.items", non_empty=True),
                transfer_method=r.string(t["transfer_method"], f"{path}.transfer_method"),
            )
        )

    manifest = Manifest(
        version=version,
        effective_date=effective_date,
        language=language,
        controller=controller,
        purposes=tuple(purposes),
        data_items=tuple(items),
        recipients=tuple(recipients),
        major_changes=major_changes,
        features=tuple(features),
    )
    _check_references(r, manifest)
    return manifest


def _unique(r: _Reader, section: str, ids: list[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    for n, ident in enumerate(ids):
        if ident in seen:
            raise r.fail(
                f"{section}[{n}].id",
                f"an id unique among {section}",
                f"{ident!r} is also {section}[{seen[ident]}].id",
            )
        seen[ident] = n
    return seen


def _check_references(r: _Reader, m: Manifest) -> None:
    purposes = _unique(r, "purposes", [p.id for p in m.purposes])
    items = _unique(r, "data_items", [i.id for i in m.data_items])
    recipients = _unique(r, "recipients", [x.id for x in m.recipients])
    features = _unique(r, "features", [f.id for f in m.features])

    def known(value: str, table: dict[str, int], path: str, what: str) -> None:
        if value not in table:
            raise r.fail(path, f"the id of a declared {what} (one of {_names(table)})", _got(value))

    for n, p in enumerate(m.purposes):
        for k, feature in enumerate(p.required_for):
            known(feature, features, f"purposes[{n}].required_for[{k}]", "feature")

    for n, item in enumerate(m.data_items):
        path = f"data_items[{n}]"
        for k, feature in enumerate(item.required_for):
            known(feature, features, f"{path}.required_for[{k}]", "feature")
        for k, purpose_id in enumerate(item.purposes):
            known(purpose_id, purposes, f"{path}.purposes[{k}]", "purpose")
            purpose = m.purposes[purposes[purpose_id]]
            if item.sensitive and not purpose.separate_consent:
                # PIPL art. 29: sensitive personal information needs separate consent.
                raise r.fail(
                    f"{path}.purposes[{k}]",
                    "a purpose with separate_consent = true, because data item "
                    f"'{item.id}' is sensitive (PIPL art. 29)",
                    f"purpose {purpose_id!r} has separate_consent = false",
                )
        for k, recipient_id in enumerate(item.recipients):
            known(recipient_id, recipients, f"{path}.recipients[{k}]", "recipient")
            recipient = m.recipients[recipients[recipient_id]]
            if item.id not in recipient.items:
                raise r.fail(
                    f"{path}.recipients[{k}]",
                    f"a recipient whose items list '{item.id}'",
                    f"recipients[{recipients[recipient_id]}] ({recipient_id!r}) does not list it",
                )

    for n, recipient in enumerate(m.recipients):
        path = f"recipients[{n}]"
        known(recipient.purpose, purposes, f"{path}.purpose", "purpose")
        for k, item_id in enumerate(recipient.items):
            known(item_id, items, f"{path}.items[{k}]", "data item")
            item = m.data_items[items[item_id]]
            if recipient.id not in item.recipients:
                raise r.fail(
                    f"{path}.items[{k}]",
                    f"a data item whose recipients list '{recipient.id}'",
                    f"data_items[{items[item_id]}] ({item_id!r}) does not list it",
                )
            if recipient.purpose not in item.purposes:
                raise r.fail(
                    f"{path}.purpose",
                    "a purpose every shared item declares",
                    f"data_items[{items[item_id]}] ({item_id!r}) does not list "
                    f"{recipient.purpose!r}",
                )


_TOML_POSITION_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_EOF_RE = re.compile(r"\s*\(at end of document\)\s*$")


class _ManifestSyntaxError(ManifestError):
    """A manifest that cannot even be read as TOML (or as UTF-8): no field to blame, a place.

    Keeps :class:`ManifestError`'s attributes (``field`` is ``"line N"``, or ``"(document)"``
    when the parser gives no position; ``expected`` is ``"valid TOML"`` or ``"UTF-8 text"``;
    ``problem`` is the parser's reason) and adds ``line`` and ``column`` (``None`` when
    unknown). The message reads ``manifest.toml: line 1, column 5: invalid TOML (reason)``.
    """

    def __init__(
        self, file: str, expected: str, what: str, problem: str,
        line: int | None = None, column: int | None = None, at_end: bool = False,
    ) -> None:
        super().__init__(file, f"line {line}" if line else "(document)", expected, problem)
        self.line = line
        self.column = column
        where = ""
        if line and column:
            where = f"line {line}, column {column}: "
        elif line:
            where = f"line {line} (end of the document): " if at_end else f"line {line}: "
        self.args = (f"{self.file}: {where}{what} ({problem})",)


def parse_manifest(text: str, file: str = "manifest.toml") -> Manifest:
    """Parse and validate manifest TOML.

    Args:
        text: the TOML text.
        file: the name used in error messages.

    Raises:
        ManifestError: TOML syntax error (message ``<file>: line N, column M: invalid TOML
            (reason)``, ``field`` is ``"line N"``, attributes ``line`` and ``column``) or
            invalid content.
    """
    if not isinstance(text, str):
        raise ManifestError(file, "(document)", "TOML text (str)", f"got {type(text).__name__}")
    try:
        data = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION_RE.search(message)
        if position:
            line, column = (int(v) for v in position.groups())
            raise _ManifestSyntaxError(
                file, "valid TOML", "invalid TOML", message[: position.start()], line, column
            ) from exc
        at_end = _TOML_EOF_RE.search(message)
        if at_end:
            line = text.count("\n") + (0 if text.endswith("\n") else 1)
            raise _ManifestSyntaxError(
                file, "valid TOML", "invalid TOML", message[: at_end.start()], max(line, 1),
                at_end=True,
            ) from exc
        raise _ManifestSyntaxError(file, "valid TOML", "invalid TOML", message) from exc
    except ValueError as exc:  # tomllib lets Python's own refusals through, e.g. an integer of
        # more than 4300 digits (sys.get_int_max_str_digits); their text holds no value
        raise _ManifestSyntaxError(file, "valid TOML", "invalid TOML", str(exc)) from exc
    return _build(data, file)


def manifest_from_json(data: Mapping[str, Any], file: str = "manifest.json") -> Manifest:
    """Validate manifest data already decoded from JSON (e.g. ``GET /v1/policy``'s
    ``manifest``, as written by :meth:`Manifest.to_json`). Same checks as TOML."""
    cleaned: dict[str, Any] = dict(data) if isinstance(data, Mapping) else data
    if isinstance(data, Mapping):
        controller = data.get("controller")
        if isinstance(controller, Mapping) and controller.get("phone") is None:
            cleaned["controller"] = {k: v for k, v in controller.items() if k != "phone"}
        raw_items = data.get("data_items")
        if isinstance(raw_items, list):
            cleaned["data_items"] = [
                {k: v for k, v in item.items() if not (k == "permission" and v is None)}
                if isinstance(item, Mapping) else item
                for item in raw_items
            ]
    return _build(cleaned, file)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file (UTF-8 TOML).

    Raises:
        PolicyError: the file cannot be read.
        ManifestError: it is not UTF-8, not valid TOML, or its content is invalid.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise PolicyError(
            f"policy manifest not found: {file}; pass the path of the policy's manifest "
            "(TOML)"
        ) from None
    except OSError as exc:
        raise PolicyError(f"cannot read the policy manifest {file}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _ManifestSyntaxError(
            str(path), "UTF-8 text", "not UTF-8 text", "save the file as UTF-8", line
        ) from exc
    return parse_manifest(text, file=str(path))
