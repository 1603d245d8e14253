"""What changed between two policy versions, and which changes need consent again (OBL-UPD-2).

:func:`diff_manifests` compares two :class:`~sdk.policy.manifest.Manifest` objects entity by
entity (controller, purposes, data items, recipients, features; matched by id, so reordering
is not a change) and returns a :class:`PolicyDiff`: a tuple of :class:`Change` objects, each
with a *kind*, the scope it concerns, a one-sentence Chinese summary for the policy-update
dialog and the purposes, data items and recipients it touches. :func:`diff_policies` does the
same for two :class:`~sdk.policy.Policy` objects and adds a ``text_changed`` change when the
Markdown differs.

Where the rules come from:

* PIPL art. 14 para. 2: a change of the purpose, the method of processing or the type of
  personal information requires consent again; art. 17 para. 2: every change to what the
  notice must say (controller and contact, purposes, methods, types, retention, how to
  exercise rights) is told to the individual. So every change is reported, and the
  *major* ones block the processing they touch until the user agrees again.
* The policy's own §7 (demo ``policy.md`` "七、本政策的更新", OBL-UPD-2): new purposes, data
  types or uses; new or changed recipients; retention; the controller (ownership); the
  contact for personal information.

A change is **major** exactly when its kind is listed in the *new* manifest's
``major_changes`` (the policy in force decides). Kinds outside
:data:`~sdk.policy.manifest.MAJOR_CHANGE_KINDS` (removals, narrowing, wording, features, the
text) can never be listed there, so they are always minor: a notice, never a block.

Classification (one :class:`Change` per subject and kind; several fields of one kind are
joined in its summary):

=====================  ==================================================================
kind                   when
=====================  ==================================================================
``controller_changed`` controller ``name`` or ``address`` changed (affects everything)
``contact_changed``    controller ``contact_email`` or ``phone`` changed (affects
                       everything)
``purpose_added``      a new purpose id (OBL-PURP-1)
``purpose_removed``    a purpose id is gone
``use_changed``        a purpose's ``lawful_basis`` or ``separate_consent`` changed; a data
                       item gets a new purpose, another ``lawful_basis``, becomes sensitive
                       or needs a new OS permission
``use_narrowed``       a data item only lost something: a purpose, its sensitivity, its
                       permission
``retention_changed``  a data item's ``retention`` changed, longer or shorter
``data_item_added``    a new data item id
``data_item_removed``  a data item id is gone
``recipient_added``    a new recipient id
``recipient_changed``  a recipient's ``name``, ``contact``, ``purpose``, ``items`` or
                       ``transfer_method`` changed (a data item's ``recipients`` list mirrors
                       the recipients' ``items``, so it is reported here only)
``recipient_removed``  a recipient id is gone
``wording_changed``    only a ``name``, ``description`` or (items) ``category`` changed
``feature_changed``    a feature was added, removed or renamed, or the purposes or items
                       it needs (their ``required_for``) changed
``text_changed``       the policy's Markdown differs (:func:`diff_policies` only)
=====================  ==================================================================

The manifest's ``version``, ``effective_date``, ``language`` and ``major_changes`` are not
processing and are not compared. A renamed data item is ``wording_changed``: a new type of
personal information must be declared as a new item id, so it is seen as ``data_item_added``.

What a change touches (used by :meth:`PolicyDiff.affects` to find the grants it supersedes):

* a purpose change: the purpose, the data items processed for it and the recipients that
  receive data for it (old and new manifest);
* a data item change: the item and its purposes (old and new); when the item is added or
  removed, also its recipients;
* a recipient change: the recipient, its items and its purpose (old and new);
* a feature change: the purposes and items whose requirement by the feature changed;
* controller and contact changes: everything (``affects_all``; their sets list every purpose,
  item and recipient of the new manifest);
* ``text_changed``: nothing.

Summaries name purposes, items, recipients and features by their manifest ``name`` and never
quote an email address, phone number or postal address, so they can never carry personal
data; they are in Chinese, the language of the policy-update dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConsentError, PolicyError
from .manifest import MAJOR_CHANGE_KINDS, Manifest, parse_retention

if TYPE_CHECKING:  # pragma: no cover
    from . import Policy

__all__ = ["CHANGE_KINDS", "Change", "PolicyDiff", "diff_manifests", "diff_policies"]

#: Every kind of change, in the order changes of one subject are listed. The first ones are
#: :data:`~sdk.policy.manifest.MAJOR_CHANGE_KINDS` (major when the new manifest says so); the
#: others can never be declared major.
CHANGE_KINDS: dict[str, str] = {
    **MAJOR_CHANGE_KINDS,
    "purpose_removed": "a purpose is no longer pursued",
    "data_item_removed": "a type of personal information is no longer processed",
    "recipient_removed": "a third party no longer receives personal information",
    "use_narrowed": "an item is used for fewer purposes, is no longer sensitive, or needs "
                    "no OS permission any more",
    "wording_changed": "only a name, description or category changed",
    "feature_changed": "a feature, or what it needs, changed",
    "text_changed": "the policy's Markdown text changed",
}

#: Scopes that cover the whole policy rather than one purpose, item or recipient
#: (docs/consent.md "Scopes"): only ``affects_all`` changes affect them.
_WHOLE_POLICY_SCOPES = ("policy", "guardian", "minors_notice")
_SCOPE_PREFIXES = {"purpose": "purposes", "item": "items", "recipient": "recipients"}


# --------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One change between two policy versions.

    Attributes:
        kind: a key of :data:`CHANGE_KINDS`.
        subject: what changed: ``"purpose:<id>"``, ``"item:<id>"``, ``"recipient:<id>"``,
            ``"feature:<id>"``, ``"controller"``, ``"contact"`` or ``"text"``.
        major: the kind is in the new manifest's ``major_changes``: the user must agree
            again before the processing this change touches continues (OBL-UPD-2).
        summary: one Chinese sentence for the policy-update dialog, naming things by their
            manifest ``name``, e.g. ``"新增处理目的「营销信息」"``; never personal data.
        purposes: ids of the purposes the change touches (old and new manifest).
        items: ids of the data items it touches.
        recipients: ids of the recipients it touches.
        affects_all: a controller or contact change, which touches every processing (the
            three sets then list everything the new manifest declares).

    Raises:
        PolicyError: *kind* is not a key of :data:`CHANGE_KINDS`.
    """

    kind: str
    subject: str
    major: bool
    summary: str
    purposes: frozenset[str]
    items: frozenset[str]
    recipients: frozenset[str]
    affects_all: bool = False

    def __post_init__(self) -> None:
        if self.kind not in CHANGE_KINDS:
            raise PolicyError(
                f"unknown policy change kind {self.kind!r}; expected one of "
                f"{', '.join(CHANGE_KINDS)}"
            )


@dataclass(frozen=True)
class PolicyDiff:
    """The changes from policy *old_version* to *new_version*.

    ``changes`` come in a stable order: the controller, then the contact, then purposes,
    data items, recipients and features, each by id, then the text; changes of one subject
    in the order of :data:`CHANGE_KINDS`. ``bool(diff)`` is ``False`` when nothing changed.

    Example::

        diff = diff_manifests(old, new)
        if diff.affects(scope="purpose:marketing"):
            ...  # the marketing grant is superseded: ask again
        for change in diff.major:
            print(change.summary)
    """

    old_version: str
    new_version: str
    changes: tuple[Change, ...]

    @property
    def major(self) -> tuple[Change, ...]:
        """The changes that need the user's agreement again, in order."""
        return tuple(c for c in self.changes if c.major)

    @property
    def minor(self) -> tuple[Change, ...]:
        """The changes that are a notice only, in order."""
        return tuple(c for c in self.changes if not c.major)

    @property
    def is_major(self) -> bool:
        """At least one change is major."""
        return any(c.major for c in self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def affects(
        self,
        *,
        purposes: Iterable[str] = (),
        items: Iterable[str] = (),
        recipients: Iterable[str] = (),
        scope: str | None = None,
    ) -> bool:
        """Whether a major change touches any of the given purposes, items or recipients.

        Every ``affects_all`` major change (controller, contact) affects everything. *scope*
        is a consent scope (docs/consent.md): ``"purpose:<id>"``, ``"item:<id>"`` and
        ``"recipient:<id>"`` add that id to the matching argument; ``"policy"`` (and the other
        whole-policy scopes ``"guardian"`` and ``"minors_notice"``) is affected only by
        ``affects_all`` major changes. The arguments are combined: ``affects(scope="policy",
        purposes=record.purposes)`` is true when any of them is affected. Minor changes never
        affect anything.

        Raises:
            ConsentError: *scope* is none of these forms, or an argument is a single string
                instead of a collection of ids.
        """
        wanted = {
            "purposes": _id_set(purposes, "purposes"),
            "items": _id_set(items, "items"),
            "recipients": _id_set(recipients, "recipients"),
        }
        if scope is not None and scope not in _WHOLE_POLICY_SCOPES:
            prefix, _, ident = scope.partition(":") if isinstance(scope, str) else ("", "", "")
            if prefix not in _SCOPE_PREFIXES or not ident:
                raise ConsentError(
                    f"unknown consent scope {scope!r}; expected 'purpose:<id>', 'item:<id>', "
                    f"'recipient:<id>' or one of {', '.join(_WHOLE_POLICY_SCOPES)}"
                )
            wanted[_SCOPE_PREFIXES[prefix]].add(ident)
        return any(
            c.affects_all
            or not c.purposes.isdisjoint(wanted["purposes"])
            or not c.items.isdisjoint(wanted["items"])
            or not c.recipients.isdisjoint(wanted["recipients"])
            for c in self.major
        )

    def affected_purposes(self) -> frozenset[str]:
        """Ids of the purposes major changes touch; every purpose of the new manifest when a
        major change affects all processing."""
        return frozenset().union(*(c.purposes for c in self.major))


def _id_set(ids: Iterable[str], name: str) -> set[str]:
    if isinstance(ids, str):
        raise ConsentError(
            f"{name} must be a collection of ids, not a single string; write {name}=({ids!r},)"
        )
    return set(ids)


# --------------------------------------------------------------------------------------
# Chinese wording for the summaries
# --------------------------------------------------------------------------------------

#: Lawful bases as the policy names them (PIPL art. 13; seed policy §1(10)).
_BASIS_ZH: dict[str, str] = {
    "consent": "您的同意",
    "contract": "订立、履行合同所必需",
    "legal_obligation": "履行法定职责或法定义务所必需",
    "public_health_emergency": "应对突发公共卫生事件或紧急情况所必需",
    "news_reporting": "新闻报道、舆论监督",
    "self_disclosed": "已合法公开的个人信息",
    "other_law": "法律、行政法规规定的其他情形",
}

_PERMISSION_ZH: dict[str, str] = {
    "camera": "相机权限",
    "photos": "相册权限",
    "phone_state": "电话权限（设备标识符）",
}


def _retention_zh(text: str) -> str:
    """``"P1Y6M"`` → ``"1 年 6 个月"``, ``"until_account_cancelled"`` → ``"至注销账号为止"``."""
    period = parse_retention(text)
    if period.until_account_cancelled:
        return "至注销账号为止"
    hours, rest = divmod(period.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    units = ((period.years, "年"), (period.months, "个月"), (period.days, "日"),
             (hours, "小时"), (minutes, "分钟"), (seconds, "秒"))
    return " ".join(f"{n} {unit}" for n, unit in units if n) or "0 日"


class _Names:
    """Display names by (subject prefix, id): the new manifest's, else the old one's."""

    def __init__(self, old: Manifest, new: Manifest) -> None:
        self._names: dict[tuple[str, str], str] = {}
        for manifest in (old, new):  # new last: its names win
            for section in _SECTIONS:
                for entry in section.entries(manifest):
                    self._names[(section.prefix, entry.id)] = entry.name

    def quoted(self, prefix: str, ids: Iterable[str]) -> str:
        return "、".join(f"「{self._names[(prefix, i)]}」" for i in ids)


# --------------------------------------------------------------------------------------
# Field rules: which field change is which kind, and how it reads
# --------------------------------------------------------------------------------------

_Phrase = Callable[[_Names, Any, Any], str]


@dataclass(frozen=True)
class _Field:
    """A compared attribute: its kind, and the kind when the new value only narrows."""

    attr: str
    kind: str
    phrase: _Phrase
    narrowed: str | None = None


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, (tuple, frozenset)):
        return set(before) == set(after)
    return before == after


def _widens(before: Any, after: Any) -> bool:
    """The new value is not contained in the old one (a new id, a flag turned on, a new or
    other value); ``False`` when it only drops something."""
    if isinstance(after, (tuple, frozenset)):
        return not set(after) <= set(before)
    if isinstance(after, bool):
        return after and not before
    return after is not None


def _compare(
    names: _Names, old: Any, new: Any, fields: tuple[_Field, ...]
) -> dict[str, list[str]]:
    """Kind → summary phrases, for the *fields* whose value differs between *old* and *new*.

    The one place that compares two versions of an entity."""
    found: dict[str, list[str]] = {}
    for field in fields:
        before, after = getattr(old, field.attr), getattr(new, field.attr)
        if _same(before, after):
            continue
        kind = field.kind
        if field.narrowed is not None and not _widens(before, after):
            kind = field.narrowed
        found.setdefault(kind, []).append(field.phrase(names, before, after))
    return found


def _text(text: str) -> _Phrase:
    return lambda names, before, after: text


def _renamed(names: _Names, before: str, after: str) -> str:
    return f"名称改为「{after}」"


def _from_to(what: str, render: Callable[[Any], str] = str) -> _Phrase:
    return lambda names, before, after: f"{what}由「{render(before)}」改为「{render(after)}」"


def _flag(on: str, off: str) -> _Phrase:
    return lambda names, before, after: on if after else off


def _ids_phrase(prefix: str, gained_word: str, lost_word: str) -> _Phrase:
    """Phrase for a changed set of ids: ``新增用于「A」，不再用于「B」``."""

    def phrase(names: _Names, before: Iterable[str], after: Iterable[str]) -> str:
        gained, lost = sorted(set(after) - set(before)), sorted(set(before) - set(after))
        parts = [f"{gained_word}{names.quoted(prefix, gained)}"] if gained else []
        parts += [f"{lost_word}{names.quoted(prefix, lost)}"] if lost else []
        return "，".join(parts)

    return phrase


def _permission_phrase(names: _Names, before: str | None, after: str | None) -> str:
    if before is None:
        return f"需要新的系统权限：{_PERMISSION_ZH.get(after, after)}"
    if after is None:
        return f"不再需要{_PERMISSION_ZH.get(before, before)}"
    return _from_to("所需系统权限", lambda p: _PERMISSION_ZH.get(p, p))(names, before, after)


_CONTROLLER_FIELDS = (
    _Field("name", "controller_changed", _from_to("名称")),
    _Field("address", "controller_changed", _text("通信地址已变更")),
)
_CONTACT_FIELDS = (
    _Field("contact_email", "contact_changed", _text("电子邮箱已变更")),
    _Field("phone", "contact_changed", _text("联系电话已变更")),
)
_PURPOSE_FIELDS = (
    _Field("name", "wording_changed", _renamed),
    _Field("description", "wording_changed", _text("说明已修改")),
    _Field("lawful_basis", "use_changed", _from_to("处理依据", lambda b: _BASIS_ZH.get(b, b))),
    _Field("separate_consent", "use_changed", _flag("改为需要单独同意", "不再需要单独同意")),
)
_ITEM_FIELDS = (
    _Field("name", "wording_changed", _renamed),
    _Field("category", "wording_changed", _text("分类已调整")),
    _Field("purposes", "use_changed", _ids_phrase("purpose", "新增用于", "不再用于"),
           narrowed="use_narrowed"),
    _Field("lawful_basis", "use_changed", _from_to("处理依据", lambda b: _BASIS_ZH.get(b, b))),
    _Field("sensitive", "use_changed", _flag("改为敏感个人信息", "不再作为敏感个人信息"),
           narrowed="use_narrowed"),
    _Field("permission", "use_changed", _permission_phrase, narrowed="use_narrowed"),
    _Field("retention", "retention_changed", _from_to("保存期限", _retention_zh)),
)
_RECIPIENT_FIELDS = (
    _Field("name", "recipient_changed", _from_to("名称")),
    _Field("contact", "recipient_changed", _text("联系方式已变更")),
    _Field("purpose", "recipient_changed",
           lambda names, before, after: f"提供目的由{names.quoted('purpose', [before])}改为"
                                        f"{names.quoted('purpose', [after])}"),
    _Field("items", "recipient_changed", _ids_phrase("item", "新增提供", "不再提供")),
    _Field("transfer_method", "recipient_changed", _text("传输方式已变更")),
)
_FEATURE_FIELDS = (
    _Field("name", "feature_changed", _renamed),
    _Field("purposes", "feature_changed", _ids_phrase("purpose", "新增需要", "不再需要")),
    _Field("items", "feature_changed", _ids_phrase("item", "新增需要", "不再需要")),
)


# --------------------------------------------------------------------------------------
# Sections: purposes, items, recipients, features
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FeatureView:
    """A feature with what needs it (the ``required_for`` lists point at features)."""

    id: str
    name: str
    purposes: frozenset[str]
    items: frozenset[str]


def _features(m: Manifest) -> tuple[_FeatureView, ...]:
    return tuple(
        _FeatureView(
            f.id, f.name,
            frozenset(p.id for p in m.purposes if f.id in p.required_for),
            frozenset(i.id for i in m.data_items if f.id in i.required_for),
        )
        for f in m.features
    )


@dataclass(frozen=True)
class _Touch:
    purposes: frozenset[str] = frozenset()
    items: frozenset[str] = frozenset()
    recipients: frozenset[str] = frozenset()


# A touch rule gets both manifests, the entity's old and new version (one may be None) and
# whether the entity itself was added or removed.
_TouchRule = Callable[[tuple[Manifest, Manifest], Any, Any, bool], _Touch]


def _sides(before: Any, after: Any) -> list[Any]:
    return [e for e in (before, after) if e is not None]


def _touch_purpose(
    both: tuple[Manifest, Manifest], before: Any, after: Any, whole: bool
) -> _Touch:
    pid = (after or before).id
    return _Touch(
        purposes=frozenset({pid}),
        items=frozenset(i.id for m in both for i in m.data_items if pid in i.purposes),
        recipients=frozenset(r.id for m in both for r in m.recipients if r.purpose == pid),
    )


def _touch_item(
    both: tuple[Manifest, Manifest], before: Any, after: Any, whole: bool
) -> _Touch:
    sides = _sides(before, after)
    return _Touch(
        purposes=frozenset(p for e in sides for p in e.purposes),
        items=frozenset({sides[0].id}),
        recipients=frozenset(r for e in sides for r in e.recipients) if whole else frozenset(),
    )


def _touch_recipient(
    both: tuple[Manifest, Manifest], before: Any, after: Any, whole: bool
) -> _Touch:
    sides = _sides(before, after)
    return _Touch(
        purposes=frozenset(e.purpose for e in sides),
        items=frozenset(i for e in sides for i in e.items),
        recipients=frozenset({sides[0].id}),
    )


def _touch_feature(
    both: tuple[Manifest, Manifest], before: Any, after: Any, whole: bool
) -> _Touch:
    old = before or _FeatureView("", "", frozenset(), frozenset())
    new = after or _FeatureView("", "", frozenset(), frozenset())
    return _Touch(purposes=old.purposes ^ new.purposes, items=old.items ^ new.items)


@dataclass(frozen=True)
class _Section:
    prefix: str
    label: str
    added: str
    removed: str
    added_text: str
    removed_text: str
    entries: Callable[[Manifest], tuple[Any, ...]]
    fields: tuple[_Field, ...]
    touch: _TouchRule


_SECTIONS: tuple[_Section, ...] = (
    _Section("purpose", "处理目的", "purpose_added", "purpose_removed",
             "新增处理目的「{}」", "不再为「{}」处理个人信息",
             lambda m: m.purposes, _PURPOSE_FIELDS, _touch_purpose),
    _Section("item", "个人信息", "data_item_added", "data_item_removed",
             "新增处理的个人信息「{}」", "不再处理个人信息「{}」",
             lambda m: m.data_items, _ITEM_FIELDS, _touch_item),
    _Section("recipient", "第三方", "recipient_added", "recipient_removed",
             "新增向「{}」提供个人信息", "不再向「{}」提供个人信息",
             lambda m: m.recipients, _RECIPIENT_FIELDS, _touch_recipient),
    _Section("feature", "功能", "feature_changed", "feature_changed",
             "新增功能「{}」", "不再提供功能「{}」",
             _features, _FEATURE_FIELDS, _touch_feature),
)

# Sort ranks: controller, contact, the sections in order, then the text.
_RANK = {"controller": 0, "contact": 1, **{s.prefix: 2 + n for n, s in enumerate(_SECTIONS)},
         "text": 2 + len(_SECTIONS)}
_KIND_RANK = {kind: n for n, kind in enumerate(CHANGE_KINDS)}


def _order(change: Change) -> tuple[int, str, int]:
    prefix, _, ident = change.subject.partition(":")
    return _RANK[prefix], ident, _KIND_RANK[change.kind]


# --------------------------------------------------------------------------------------
# Diffing
# --------------------------------------------------------------------------------------


def _check(value: Any, expected: type, name: str, how: str) -> None:
    if not isinstance(value, expected):
        raise PolicyError(
            f"{name} must be a sdk.policy.{expected.__name__}, got {type(value).__name__}; {how}"
        )


def diff_manifests(old: Manifest, new: Manifest) -> PolicyDiff:
    """The changes from manifest *old* to manifest *new*, classified (see the module doc).

    Returns:
        A :class:`PolicyDiff`; empty (``bool(diff) is False``) when the manifests declare
        the same controller, purposes, items, recipients and features.

    Raises:
        PolicyError: *old* or *new* is not a :class:`~sdk.policy.manifest.Manifest`.
    """
    for name, value in (("old", old), ("new", new)):
        _check(value, Manifest, name, "load it with load_manifest() or parse_manifest()")
    names = _Names(old, new)
    changes: list[Change] = []

    def add(
        kind: str, subject: str, summary: str, touch: _Touch, affects_all: bool = False
    ) -> None:
        changes.append(Change(
            kind=kind, subject=subject, major=kind in new.major_changes, summary=summary,
            purposes=touch.purposes, items=touch.items, recipients=touch.recipients,
            affects_all=affects_all,
        ))

    everything = _Touch(
        purposes=frozenset(p.id for p in new.purposes),
        items=frozenset(i.id for i in new.data_items),
        recipients=frozenset(r.id for r in new.recipients),
    )
    for subject, label, fields in (("controller", "个人信息处理者", _CONTROLLER_FIELDS),
                                   ("contact", "个人信息保护联系方式", _CONTACT_FIELDS)):
        for kind, phrases in _compare(names, old.controller, new.controller, fields).items():
            add(kind, subject, f"{label}：{'，'.join(phrases)}", everything, affects_all=True)

    both = (old, new)
    for section in _SECTIONS:
        olds = {e.id: e for e in section.entries(old)}
        news = {e.id: e for e in section.entries(new)}
        for ident in olds.keys() | news.keys():
            before, after = olds.get(ident), news.get(ident)
            subject = f"{section.prefix}:{ident}"
            if before is None or after is None:
                kind, text = ((section.added, section.added_text) if before is None
                              else (section.removed, section.removed_text))
                add(kind, subject, text.format((after or before).name),
                    section.touch(both, before, after, True))
                continue
            touch = section.touch(both, before, after, False)
            label = f"{section.label}「{before.name}」"
            for kind, phrases in _compare(names, before, after, section.fields).items():
                add(kind, subject, f"{label}：{'，'.join(phrases)}", touch)

    return PolicyDiff(old.version, new.version, tuple(sorted(changes, key=_order)))


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    """:func:`diff_manifests` of the two policies' manifests, plus a ``text_changed`` change
    (always minor, touching nothing) when their Markdown differs (by sha256).

    A text change alone is never major: what needs consent again is declared in the
    manifest, which the policy text must describe (PIPL art. 17 para. 2 still asks to tell
    the user, so it is reported).

    Raises:
        PolicyError: *old* or *new* is not a :class:`~sdk.policy.Policy`.
    """
    from . import Policy

    for name, value in (("old", old), ("new", new)):
        _check(value, Policy, name, "load it with load_policy() or Policy.from_text()")
    diff = diff_manifests(old.manifest, new.manifest)
    if old.sha256 == new.sha256:
        return diff
    text = Change(
        kind="text_changed", subject="text", major="text_changed" in new.manifest.major_changes,
        summary="隐私政策正文已修改", purposes=frozenset(), items=frozenset(),
        recipients=frozenset(),
    )
    return PolicyDiff(diff.old_version, diff.new_version, (*diff.changes, text))
