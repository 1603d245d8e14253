"""Policy diff (sdk/policy/diff.py): what changed between two policy versions, and which
changes need the user's agreement again (policy §7, OBL-UPD-2; PIPL art. 14, 17).

Manifests are parsed from BASE with one edit (or one appended entry) per test, and from the
demo manifest. A change is major exactly when its kind is in the NEW manifest's
major_changes; BASE declares every kind major, so tests about minor kinds prove they can
never be major.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdk.errors import ConsentError, PolicyError
from sdk.policy import (
    MAJOR_CHANGE_KINDS,
    Manifest,
    Policy,
    load_manifest,
    parse_manifest,
)
from sdk.policy.diff import (
    CHANGE_KINDS,
    Change,
    PolicyDiff,
    diff_manifests,
    diff_policies,
)

REPO = Path(__file__).resolve().parents[2]
DEMO_MANIFEST = REPO / "demo_app" / "policy" / "manifest.toml"

ALL_MAJOR = "major_changes = [" + ", ".join(f'"{kind}"' for kind in MAJOR_CHANGE_KINDS) + "]"

BASE = f"""\
version = "1.0"
effective_date = 2026-12-01
language = "zh-CN"
{ALL_MAJOR}

[controller]
name = "示例科技有限公司"
contact_email = "privacy@example.test"
address = "示例路 1 号"

[[features]]
id = "signing"
name = "实名签署"

[[purposes]]
id = "account"
name = "注册和登录账号"
description = "创建账号并登录"
lawful_basis = "contract"

[[purposes]]
id = "verify"
name = "实名认证"
description = "核验您的身份"
lawful_basis = "consent"
separate_consent = true
required_for = ["signing"]

[[purposes]]
id = "support"
name = "客服"
description = "答复您的咨询"
lawful_basis = "consent"

[[data_items]]
id = "login"
name = "登录账号"
category = "account"
sensitive = false
purposes = ["account"]
lawful_basis = "contract"
retention = "until_account_cancelled"

[[data_items]]
id = "real_name"
name = "真实姓名"
category = "identity"
sensitive = false
purposes = ["verify"]
lawful_basis = "consent"
retention = "P3Y"
recipients = ["agency"]

[[data_items]]
id = "id_number"
name = "身份证号码"
category = "identity"
sensitive = true
purposes = ["verify"]
lawful_basis = "consent"
retention = "P5Y"
recipients = ["agency"]
required_for = ["signing"]

[[data_items]]
id = "phone"
name = "手机号码"
category = "contact"
sensitive = false
purposes = ["verify", "support"]
lawful_basis = "consent"
retention = "P1Y"

[[data_items]]
id = "face"
name = "面部视频"
category = "biometric"
sensitive = true
purposes = ["verify"]
lawful_basis = "consent"
retention = "P30D"
permission = "camera"

[[data_items]]
id = "message"
name = "客服沟通记录"
category = "communication"
sensitive = false
purposes = ["support"]
lawful_basis = "consent"
retention = "P2Y"

[[recipients]]
id = "agency"
name = "示例实名核验中心"
contact = "agency@example.test"
purpose = "verify"
items = ["real_name", "id_number"]
transfer_method = "HTTPS"
"""

# Entries appended to BASE (TOML appends each [[table]] to its array wherever it stands).
NEW_PURPOSE = """
[[purposes]]
id = "marketing"
name = "营销信息"
description = "发送产品活动信息"
lawful_basis = "consent"
separate_consent = true
"""

NEW_ITEM = """
[[data_items]]
id = "location"
name = "位置信息"
category = "location"
sensitive = false
purposes = ["support"]
lawful_basis = "consent"
retention = "P30D"
"""

NEW_RECIPIENT = """
[[recipients]]
id = "ca"
name = "示例数字认证有限公司"
contact = "ca@example.test"
purpose = "verify"
items = ["real_name"]
transfer_method = "HTTPS"
"""

# One-line edits of BASE, each hitting exactly one place.
SUPPORT_BASIS = ('description = "答复您的咨询"\nlawful_basis = "consent"',
                 'description = "答复您的咨询"\nlawful_basis = "contract"')
FACE_RETENTION = ('retention = "P30D"', 'retention = "P7D"')
MESSAGE_GAINS_ACCOUNT = ('purposes = ["support"]', 'purposes = ["support", "account"]')
PHONE_DROPS_SUPPORT = ('purposes = ["verify", "support"]', 'purposes = ["verify"]')
CONTROLLER_NAME = ('name = "示例科技有限公司"', 'name = "新示例控股有限公司"')
CONTACT_EMAIL = ('contact_email = "privacy@example.test"',
                 'contact_email = "dpo@new-example.test"')


def edit(text: str, *replacements: tuple[str, str]) -> str:
    """*text* with each (old, new) applied; every *old* must occur exactly once."""
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def diff(old: str, new: str) -> PolicyDiff:
    return diff_manifests(parse_manifest(old), parse_manifest(new))


def diff_edited(*replacements: tuple[str, str]) -> PolicyDiff:
    """The diff from BASE to BASE with *replacements* applied."""
    return diff(BASE, edit(BASE, *replacements))


def only(result: PolicyDiff) -> Change:
    assert len(result.changes) == 1, [c.summary for c in result.changes]
    return result.changes[0]


def with_major(text: str, *kinds: str) -> str:
    """*text* declaring only *kinds* as major."""
    return edit(text, (ALL_MAJOR, "major_changes = [" + ", ".join(f'"{k}"' for k in kinds) + "]"))


@pytest.fixture(scope="module")
def demo() -> Manifest:
    return load_manifest(DEMO_MANIFEST)


@pytest.fixture(scope="module")
def demo_text() -> str:
    return DEMO_MANIFEST.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ no change


def test_identical_manifests_give_an_empty_diff():  # OBL-UPD-2
    result = diff(BASE, BASE)
    assert result.changes == () and bool(result) is False
    assert (result.is_major, result.major, result.minor) == (False, (), ())


def test_demo_manifest_against_a_fresh_copy_of_itself_is_empty(demo):  # OBL-UPD-2
    assert bool(diff_manifests(demo, load_manifest(DEMO_MANIFEST))) is False


def test_reordered_id_lists_are_not_a_change():  # OBL-UPD-2
    assert not diff_edited(('purposes = ["verify", "support"]', 'purposes = ["support", "verify"]'))


def test_new_version_number_alone_is_not_a_change():  # OBL-UPD-2
    result = diff_edited(('version = "1.0"', 'version = "1.1"'))
    assert (result.old_version, result.new_version, result.changes) == ("1.0", "1.1", ())


def test_minor_kinds_can_never_be_declared_major():  # OBL-UPD-2
    assert list(CHANGE_KINDS)[: len(MAJOR_CHANGE_KINDS)] == list(MAJOR_CHANGE_KINDS)
    assert set(CHANGE_KINDS) - set(MAJOR_CHANGE_KINDS) == {
        "purpose_removed", "data_item_removed", "recipient_removed", "use_narrowed",
        "wording_changed", "feature_changed", "text_changed",
    }


# ------------------------------------------------------------------------------- purposes


def test_added_purpose_is_major_purpose_added():  # OBL-PURP-1
    change = only(diff(BASE, BASE + NEW_PURPOSE))
    assert (change.kind, change.subject, change.major) == (
        "purpose_added", "purpose:marketing", True)
    assert change.purposes == {"marketing"} and not change.affects_all


def test_added_purpose_is_minor_when_the_new_manifest_does_not_declare_it():  # OBL-PURP-1
    change = only(diff(BASE, with_major(BASE, "use_changed") + NEW_PURPOSE))
    assert (change.kind, change.major) == ("purpose_added", False)


def test_old_manifest_major_changes_do_not_count():  # OBL-UPD-2
    change = only(diff(with_major(BASE, "use_changed"), BASE + NEW_PURPOSE))
    assert (change.kind, change.major) == ("purpose_added", True)


def test_removed_purpose_is_minor_purpose_removed():  # OBL-UPD-2
    change = only(diff(BASE + NEW_PURPOSE, BASE))
    assert (change.kind, change.subject, change.major) == (
        "purpose_removed", "purpose:marketing", False)


def test_purpose_lawful_basis_change_is_use_changed_touching_its_items():  # OBL-UPD-2
    change = only(diff_edited(SUPPORT_BASIS))
    assert (change.kind, change.subject, change.major) == ("use_changed", "purpose:support", True)
    assert (change.purposes, change.items) == ({"support"}, {"phone", "message"})


def test_separate_consent_change_is_use_changed():  # OBL-UPD-2
    change = only(diff_edited(
        ('lawful_basis = "contract"\n\n', 'lawful_basis = "contract"\nseparate_consent = true\n\n'),
    ))
    assert (change.kind, change.subject, change.major) == ("use_changed", "purpose:account", True)


def test_purpose_rename_is_minor_wording_changed():  # OBL-UPD-2
    change = only(diff_edited(('name = "客服"', 'name = "在线客服"')))
    assert (change.kind, change.subject, change.major) == (
        "wording_changed", "purpose:support", False)


def test_purpose_description_change_is_minor_wording_changed():  # OBL-UPD-2
    change = only(diff_edited(('description = "核验您的身份"', 'description = "核验身份"')))
    assert (change.kind, change.major) == ("wording_changed", False)


# ----------------------------------------------------------------------------- data items


def test_added_item_is_data_item_added_touching_its_purposes_and_recipients():  # OBL-UPD-2
    shared_item = NEW_ITEM.replace('["support"]', '["verify"]') + 'recipients = ["agency"]\n'
    new = edit(BASE, ('items = ["real_name", "id_number"]',
                      'items = ["real_name", "id_number", "location"]')) + shared_item
    added = [c for c in diff(BASE, new).changes if c.subject == "item:location"]
    assert [(c.kind, c.major) for c in added] == [("data_item_added", True)]
    assert (added[0].items, added[0].purposes, added[0].recipients) == (
        {"location"}, {"verify"}, {"agency"})


def test_removed_item_is_minor_data_item_removed():  # OBL-UPD-2
    change = only(diff(BASE + NEW_ITEM, BASE))
    assert (change.kind, change.subject, change.major) == (
        "data_item_removed", "item:location", False)


def test_item_with_a_new_purpose_is_use_changed_touching_old_and_new_purposes():  # OBL-UPD-2
    change = only(diff_edited(MESSAGE_GAINS_ACCOUNT))
    assert (change.kind, change.subject, change.major) == ("use_changed", "item:message", True)
    assert (change.purposes, change.items, change.recipients) == (
        {"support", "account"}, {"message"}, frozenset())


def test_item_with_another_lawful_basis_is_use_changed():  # OBL-UPD-2
    change = only(diff_edited(
        ('lawful_basis = "consent"\nretention = "P2Y"',
         'lawful_basis = "contract"\nretention = "P2Y"'),
    ))
    assert (change.kind, change.subject, change.major) == ("use_changed", "item:message", True)


def test_item_becoming_sensitive_is_use_changed():  # OBL-UPD-2
    change = only(diff_edited(
        ('sensitive = false\npurposes = ["verify"]', 'sensitive = true\npurposes = ["verify"]'),
    ))
    assert (change.kind, change.subject, change.major) == ("use_changed", "item:real_name", True)


def test_item_needing_a_new_permission_is_use_changed():  # OBL-UPD-2
    change = only(diff_edited(('permission = "camera"', 'permission = "photos"')))
    assert (change.kind, change.subject, change.major) == ("use_changed", "item:face", True)


def test_item_only_losing_a_purpose_is_minor_use_narrowed():  # OBL-UPD-2
    change = only(diff_edited(PHONE_DROPS_SUPPORT))
    assert (change.kind, change.subject, change.major) == ("use_narrowed", "item:phone", False)
    assert change.purposes == {"verify", "support"}


def test_shorter_retention_is_still_major_retention_changed():  # OBL-UPD-2
    change = only(diff_edited(FACE_RETENTION))
    assert (change.kind, change.subject, change.major) == ("retention_changed", "item:face", True)
    assert (change.items, change.purposes) == ({"face"}, {"verify"})


def test_retention_change_is_minor_when_not_declared_major():  # OBL-UPD-2
    change = only(diff(with_major(BASE, "use_changed"),
                       edit(with_major(BASE, "use_changed"), FACE_RETENTION)))
    assert (change.kind, change.major) == ("retention_changed", False)


def test_item_category_change_is_minor_wording_changed():  # OBL-UPD-2
    change = only(diff_edited(('category = "contact"', 'category = "phone_number"')))
    assert (change.kind, change.subject, change.major) == ("wording_changed", "item:phone", False)


# ----------------------------------------------------------------------------- recipients


def test_added_recipient_is_major_recipient_added():  # OBL-SH-2
    new = edit(BASE, ('retention = "P3Y"\nrecipients = ["agency"]',
                      'retention = "P3Y"\nrecipients = ["agency", "ca"]')) + NEW_RECIPIENT
    change = only(diff(BASE, new))
    assert (change.kind, change.subject, change.major) == ("recipient_added", "recipient:ca", True)
    assert (change.recipients, change.items, change.purposes) == (
        {"ca"}, {"real_name"}, {"verify"})


def test_recipient_sharing_another_item_is_recipient_changed():  # OBL-SH-2
    change = only(diff_edited(
        ('items = ["real_name", "id_number"]', 'items = ["real_name", "id_number", "phone"]'),
        ('retention = "P1Y"', 'retention = "P1Y"\nrecipients = ["agency"]'),
    ))
    assert (change.kind, change.subject, change.major) == (
        "recipient_changed", "recipient:agency", True)
    assert change.items == {"real_name", "id_number", "phone"}


@pytest.mark.parametrize(
    "replacement",
    [
        pytest.param(('name = "示例实名核验中心"', 'name = "另一核验中心"'), id="name"),
        pytest.param(('contact = "agency@example.test"', 'contact = "help@example.test"'),
                     id="contact"),
        pytest.param(('transfer_method = "HTTPS"', 'transfer_method = "SFTP"'),
                     id="transfer_method"),
    ],
)
def test_recipient_field_change_is_recipient_changed(replacement):  # OBL-SH-2
    change = only(diff_edited(replacement))
    assert (change.kind, change.subject, change.major) == (
        "recipient_changed", "recipient:agency", True)


def test_removed_recipient_is_minor_recipient_removed():  # OBL-SH-2
    old = edit(BASE, ('retention = "P3Y"\nrecipients = ["agency"]',
                      'retention = "P3Y"\nrecipients = ["agency", "ca"]')) + NEW_RECIPIENT
    change = only(diff(old, BASE))
    assert (change.kind, change.subject, change.major) == (
        "recipient_removed", "recipient:ca", False)


# ------------------------------------------------------------------ controller, features


def test_controller_name_change_is_controller_changed_affecting_all():  # OBL-UPD-2
    change = only(diff_edited(CONTROLLER_NAME))
    assert (change.kind, change.subject, change.major, change.affects_all) == (
        "controller_changed", "controller", True, True)


def test_controller_address_change_is_controller_changed():  # OBL-UPD-2
    change = only(diff_edited(('address = "示例路 1 号"', 'address = "示例路 2 号"')))
    assert (change.kind, change.affects_all) == ("controller_changed", True)


def test_contact_email_change_is_contact_changed_affecting_all():  # OBL-UPD-2
    change = only(diff_edited(CONTACT_EMAIL))
    assert (change.kind, change.subject, change.major, change.affects_all) == (
        "contact_changed", "contact", True, True)


def test_feature_needing_another_item_is_minor_feature_changed():  # OBL-UPD-2
    change = only(diff_edited(
        ('permission = "camera"', 'permission = "camera"\nrequired_for = ["signing"]'),
    ))
    assert (change.kind, change.subject, change.major) == (
        "feature_changed", "feature:signing", False)
    assert (change.items, change.purposes) == ({"face"}, frozenset())


# -------------------------------------------------------------------------------- affects


def test_affects_a_scope_the_major_change_touches():  # OBL-UPD-2
    result = diff_edited(FACE_RETENTION)
    assert result.affects(scope="item:face") and result.affects(scope="purpose:verify")
    assert not result.affects(scope="purpose:support")
    assert not result.affects(scope="recipient:agency")


def test_policy_scope_is_affected_only_by_affects_all_changes():  # OBL-UPD-2
    assert not diff_edited(FACE_RETENTION).affects(scope="policy")
    assert diff_edited(CONTROLLER_NAME).affects(scope="policy")


def test_scope_and_ids_are_combined():  # OBL-UPD-2
    assert diff_edited(FACE_RETENTION).affects(scope="policy", purposes=["verify"])


def test_affects_all_change_affects_every_scope():  # OBL-UPD-2
    result = diff_edited(CONTACT_EMAIL)
    assert all(result.affects(scope=s) for s in ("recipient:agency", "item:login", "guardian"))


def test_minor_changes_affect_nothing():  # OBL-UPD-2
    result = diff_edited(PHONE_DROPS_SUPPORT)
    assert result and not result.affects(scope="item:phone", purposes=["support"])


def test_affects_rejects_an_unknown_scope():  # OBL-UPD-2
    with pytest.raises(ConsentError, match="unknown consent scope 'feature:signing'"):
        diff_edited(FACE_RETENTION).affects(scope="feature:signing")


def test_affects_rejects_a_single_string_for_ids():  # OBL-UPD-2
    with pytest.raises(ConsentError, match=r"purposes must be a collection of ids"):
        diff_edited(FACE_RETENTION).affects(purposes="verify")


def test_affected_purposes_are_those_of_major_changes_only():  # OBL-UPD-2
    result = diff_edited(FACE_RETENTION, PHONE_DROPS_SUPPORT, SUPPORT_BASIS)
    assert result.affected_purposes() == {"verify", "support"}
    assert diff_edited(FACE_RETENTION, PHONE_DROPS_SUPPORT).affected_purposes() == {"verify"}


def test_affected_purposes_are_all_new_purposes_when_the_controller_changes():  # OBL-UPD-2
    result = diff(BASE, edit(BASE, CONTROLLER_NAME) + NEW_PURPOSE)
    assert result.affected_purposes() == {"account", "verify", "support", "marketing"}


# ------------------------------------------------------------------------------ summaries


@pytest.mark.parametrize(
    ("old", "new", "summary"),
    [
        pytest.param(BASE, BASE + NEW_PURPOSE, "新增处理目的「营销信息」", id="purpose_added"),
        pytest.param(BASE, BASE + NEW_ITEM, "新增处理的个人信息「位置信息」",
                     id="item_added"),
        pytest.param(BASE, edit(BASE, MESSAGE_GAINS_ACCOUNT),
                     "个人信息「客服沟通记录」：新增用于「注册和登录账号」", id="use_changed"),
        pytest.param(BASE, edit(BASE, PHONE_DROPS_SUPPORT),
                     "个人信息「手机号码」：不再用于「客服」", id="use_narrowed"),
        pytest.param(BASE, edit(BASE, FACE_RETENTION),
                     "个人信息「面部视频」：保存期限由「30 日」改为「7 日」", id="retention"),
        pytest.param(BASE, edit(BASE, SUPPORT_BASIS),
                     "处理目的「客服」：处理依据由「您的同意」改为「订立、履行合同所必需」",
                     id="purpose_basis"),
        pytest.param(BASE, edit(BASE, ('name = "客服"', 'name = "在线客服"')),
                     "处理目的「客服」：名称改为「在线客服」", id="rename"),
        pytest.param(BASE, edit(BASE, CONTROLLER_NAME),
                     "个人信息处理者：名称由「示例科技有限公司」改为「新示例控股有限公司」",
                     id="controller"),
        pytest.param(BASE + NEW_PURPOSE, BASE, "不再为「营销信息」处理个人信息", id="removed"),
    ],
)
def test_summary_names_things_by_their_chinese_names(old, new, summary):  # OBL-UPD-2
    assert only(diff(old, new)).summary == summary


def test_contact_summary_does_not_quote_the_address():  # OBL-UPD-2
    change = only(diff_edited(CONTACT_EMAIL))
    assert change.summary == "个人信息保护联系方式：电子邮箱已变更"
    assert "@" not in change.summary


def test_recipient_summary_names_the_items_it_gets():  # OBL-SH-2
    change = only(diff_edited(
        ('items = ["real_name", "id_number"]', 'items = ["real_name", "id_number", "phone"]'),
        ('retention = "P1Y"', 'retention = "P1Y"\nrecipients = ["agency"]'),
    ))
    assert change.summary == "第三方「示例实名核验中心」：新增提供「手机号码」"


# ---------------------------------------------------------------------------------- order


def test_changes_come_controller_contact_purposes_items_recipients_features_by_id():  # OBL-UPD-2
    new = edit(
        BASE,
        FACE_RETENTION, SUPPORT_BASIS, CONTACT_EMAIL, CONTROLLER_NAME,
        ('transfer_method = "HTTPS"', 'transfer_method = "SFTP"'),
        ('name = "实名签署"', 'name = "实名签约"'),
        ('description = "创建账号并登录"', 'description = "创建账号"'),
    ) + NEW_PURPOSE
    assert [c.subject for c in diff(BASE, new).changes] == [
        "controller", "contact", "purpose:account", "purpose:marketing", "purpose:support",
        "item:face", "recipient:agency", "feature:signing",
    ]


def test_changes_of_one_subject_follow_the_kind_order():  # OBL-UPD-2
    result = diff_edited(
        ('name = "手机号码"', 'name = "手机号"'),
        ('retention = "P1Y"', 'retention = "P2Y"'),
        ('purposes = ["verify", "support"]', 'purposes = ["verify", "support", "account"]'),
    )
    assert [c.kind for c in result.changes] == ["use_changed", "retention_changed",
                                                "wording_changed"]


def test_several_fields_of_one_kind_make_one_change():  # OBL-UPD-2
    change = only(diff_edited(CONTROLLER_NAME, ('address = "示例路 1 号"', 'address = "示例路 2 号"')))
    assert change.summary == (
        "个人信息处理者：名称由「示例科技有限公司」改为「新示例控股有限公司」，通信地址已变更")


# ----------------------------------------------------------------------------- policies


def test_text_only_change_is_minor_text_changed():  # OBL-UPD-2
    manifest = parse_manifest(BASE)
    result = diff_policies(Policy.from_text("# 隐私政策\n旧", manifest),
                           Policy.from_text("# 隐私政策\n新", manifest))
    change = only(result)
    assert (change.kind, change.subject, change.major) == ("text_changed", "text", False)
    assert not result.is_major and not result.affects(scope="policy")


def test_same_text_and_manifest_give_no_change():  # OBL-UPD-2
    policy = Policy.from_text("# 隐私政策", parse_manifest(BASE))
    assert not diff_policies(policy, Policy.from_text("# 隐私政策", parse_manifest(BASE)))


def test_text_change_comes_after_manifest_changes():  # OBL-UPD-2
    result = diff_policies(Policy.from_text("# 旧", parse_manifest(BASE)),
                           Policy.from_text("# 新", parse_manifest(BASE + NEW_PURPOSE)))
    assert [c.kind for c in result.changes] == ["purpose_added", "text_changed"]


# ----------------------------------------------------------------------------- demo policy


def test_demo_new_purpose_for_an_existing_item_is_two_major_changes(demo, demo_text):  # OBL-PURP-1
    device_id = ('purposes = ["device_security"]\nlawful_basis = "legal_obligation"\n'
                 'retention = "P6M"\npermission = "phone_state"')
    new = edit(
        demo_text,
        (device_id, device_id.replace('["device_security"]', '["device_security", "analytics"]')),
    ) + NEW_PURPOSE.replace("marketing", "analytics").replace("营销信息", "数据分析")
    result = diff_manifests(demo, parse_manifest(new))
    assert [(c.kind, c.subject, c.major) for c in result.changes] == [
        ("purpose_added", "purpose:analytics", True),
        ("use_changed", "item:device_id", True),
    ]
    assert [c.summary for c in result.changes] == [
        "新增处理目的「数据分析」", "个人信息「设备标识符」：新增用于「数据分析」",
    ]


def test_demo_longer_face_video_retention_supersedes_its_scopes_only(demo, demo_text):  # OBL-UPD-2
    new = edit(demo_text, ('retention = "P30D"\nrecipients = ["realname_agency"]',
                           'retention = "P90D"\nrecipients = ["realname_agency"]'))
    result = diff_manifests(demo, parse_manifest(new))
    assert only(result).kind == "retention_changed" and result.is_major
    assert result.affects(scope="item:face_video")
    assert result.affects(scope="purpose:realname_verification")
    assert not result.affects(scope="recipient:realname_agency")
    assert not result.affects(scope="policy")


def test_demo_recipient_change_is_major_iff_the_demo_declares_it(demo, demo_text):  # OBL-SH-2
    new = edit(
        demo_text,
        ('items = ["real_name", "id_number"]', 'items = ["real_name", "id_number", "phone"]'),
        ('retention = "until_account_cancelled"\nrecipients = ["realname_agency"]',
         'retention = "until_account_cancelled"\nrecipients = ["realname_agency", "ca"]'),
        ('purposes = ["realname_verification", "notifications"]',
         'purposes = ["realname_verification", "notifications", "certificate"]'),
    )
    changes = diff_manifests(demo, parse_manifest(new)).changes
    assert [(c.kind, c.subject) for c in changes] == [
        ("use_changed", "item:phone"), ("recipient_changed", "recipient:ca"),
    ]
    assert changes[1].major is ("recipient_changed" in demo.major_changes)


def test_demo_controller_change_affects_every_demo_purpose(demo, demo_text):  # OBL-UPD-2
    new = edit(demo_text, ('name = "示例电子签科技有限公司 (Demo e-Sign Co., Ltd.)"',
                           'name = "新示例电子签控股有限公司"'))
    result = diff_manifests(demo, parse_manifest(new))
    assert only(result).affects_all and result.affects(scope="policy")
    assert result.affected_purposes() == {p.id for p in demo.purposes}


# ---------------------------------------------------------------------------------- errors


def test_diff_manifests_rejects_a_policy():  # OBL-UPD-2
    policy = Policy.from_text("# 隐私政策", parse_manifest(BASE))
    with pytest.raises(PolicyError, match="old must be a sdk.policy.Manifest, got Policy"):
        diff_manifests(policy, policy.manifest)


def test_diff_policies_rejects_a_manifest():  # OBL-UPD-2
    manifest = parse_manifest(BASE)
    with pytest.raises(PolicyError, match="new must be a sdk.policy.Policy, got Manifest"):
        diff_policies(Policy.from_text("# 隐私政策", manifest), manifest)


def test_change_rejects_an_unknown_kind():  # OBL-UPD-2
    with pytest.raises(PolicyError, match="unknown policy change kind 'font_changed'"):
        Change(kind="font_changed", subject="text", major=False, summary="",
               purposes=frozenset(), items=frozenset(), recipients=frozenset())
