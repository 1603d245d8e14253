"""The policy manifest (sdk/policy/manifest.py): the demo manifest, validation errors, retention.

Every ManifestError must name the file, the dotted field path and what is expected, so a
policy author can fix the manifest without reading the SDK's code.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from sdk.errors import ManifestError, PolicyError
from sdk.policy import (
    LAWFUL_BASES,
    Manifest,
    load_manifest,
    manifest_from_json,
    parse_manifest,
    parse_retention,
)

REPO = Path(__file__).resolve().parents[2]
DEMO_MANIFEST = REPO / "demo_app" / "policy" / "manifest.toml"

# A small valid manifest; the error tests change one thing in it at a time.
BASE = """\
version = "1.0"
effective_date = 2026-12-01
language = "zh-CN"
major_changes = ["purpose_added"]

[controller]
name = "Example Co."
contact_email = "privacy@example.test"
address = "1 Example Road"

[[features]]
id = "signing"
name = "Signing"

[[purposes]]
id = "account"
name = "Account"
description = "Log in"
lawful_basis = "contract"

[[purposes]]
id = "verify"
name = "Verify"
description = "Check identity"
lawful_basis = "consent"
separate_consent = true
required_for = ["signing"]

[[data_items]]
id = "login"
name = "Login"
category = "account"
sensitive = false
purposes = ["account"]
lawful_basis = "contract"
retention = "until_account_cancelled"

[[data_items]]
id = "real_name"
name = "Real name"
category = "identity"
sensitive = false
purposes = ["verify"]
lawful_basis = "consent"
retention = "P1Y"
recipients = ["agency"]

[[data_items]]
id = "id_number"
name = "ID number"
category = "identity"
sensitive = true
purposes = ["verify"]
lawful_basis = "consent"
retention = "P2Y"
recipients = ["agency"]
required_for = ["signing"]

[[data_items]]
id = "face"
name = "Face video"
category = "biometric"
sensitive = true
purposes = ["verify"]
lawful_basis = "consent"
retention = "P30D"
permission = "camera"

[[recipients]]
id = "agency"
name = "Agency"
contact = "agency@example.test"
purpose = "verify"
items = ["real_name", "id_number"]
transfer_method = "HTTPS"
"""


def mutate(old: str, new: str) -> str:
    """BASE with *old* (which must occur exactly once) replaced by *new*."""
    assert BASE.count(old) == 1, f"{old!r} occurs {BASE.count(old)} times in BASE"
    return BASE.replace(old, new)


@pytest.fixture(scope="module")
def demo() -> Manifest:
    return load_manifest(DEMO_MANIFEST)


# -------------------------------------------------------------------- the demo manifest


def test_base_manifest_is_valid():
    manifest = parse_manifest(BASE)
    assert [item.id for item in manifest.data_items] == ["login", "real_name", "id_number", "face"]


def test_demo_manifest_loads_with_version_date_language_controller(demo):  # OBL-CON-1
    assert demo.version == "2026.11"
    assert demo.effective_date == dt.date(2026, 12, 1)
    assert demo.language == "zh-CN"
    assert demo.controller.name == "示例电子签科技有限公司 (Demo e-Sign Co., Ltd.)"
    assert demo.controller.contact_email == "privacy@demo-esign.example"


def test_demo_recipients_get_exactly_the_declared_items(demo):  # OBL-SH-1
    shared = {r.id: (r.purpose, set(r.items)) for r in demo.recipients}
    assert shared == {
        "ca": ("certificate", {"real_name", "id_number"}),
        "realname_agency": (
            "realname_verification",
            {"real_name", "id_number", "phone", "face_video"},
        ),
    }
    assert [r.id for r in demo.recipients_of("face_video")] == ["realname_agency"]


def test_demo_realname_signing_needs_exactly_the_four_realname_items(demo):  # OBL-RN-1
    needed = {i.id for i in demo.items_for("realname_signing")}
    assert {"real_name", "id_number", "phone", "face_video"} <= needed
    assert "review_document" not in needed  # only for manual review (OBL-RN-2)


def test_demo_permissions_camera_and_photos_only_where_promised(demo):  # OBL-PERM-1, OBL-PERM-2
    by_permission = {i.id: i.permission for i in demo.data_items if i.permission}
    assert by_permission == {
        "face_video": "camera",
        "review_document": "photos",
        "device_id": "phone_state",
    }


def test_demo_sensitive_items_only_under_separate_consent(demo):  # OBL-RN-1 (PIPL art. 29)
    sensitive = {i.id for i in demo.sensitive_items()}
    assert {"id_number", "face_video", "review_document"} <= sensitive
    for item in demo.sensitive_items():
        assert all(demo.purpose(p).separate_consent for p in item.purposes)


def test_demo_basic_mode_needs_no_item_and_no_purpose(demo):  # OBL-ACC-2
    assert demo.items_for("basic_mode") == ()
    assert demo.purposes_for("basic_mode") == ()


def test_demo_account_needs_only_login_and_password_as_user_input(demo):  # OBL-ACC-1
    entered = {i.id for i in demo.items_for("account") if i.category == "account"}
    assert entered == {"login_account", "password"}


def test_demo_notification_email_is_optional(demo):  # OBL-MAIL-1
    assert demo.item("notification_email").required_for == ()


def test_demo_marketing_is_separate_and_needed_by_nothing(demo):  # OBL-DSR-5
    marketing = demo.purpose("marketing")
    assert marketing.separate_consent and marketing.lawful_basis == "consent"
    assert marketing.required_for == ()


def test_demo_signing_evidence_kept_five_years(demo):  # OBL-SEC-3, OBL-DSR-7
    record = demo.item("signing_record")
    assert record.retention == "P5Y"
    assert record.retention_period.expires(dt.date(2026, 12, 1)) == dt.date(2031, 12, 1)


def test_demo_major_changes_declared(demo):  # OBL-UPD-2, OBL-SH-2
    # policy §3(1): a change of partners is a major change, so recipient_changed is major too
    assert demo.major_changes == (
        "purpose_added", "data_item_added", "recipient_added", "recipient_changed",
        "use_changed", "retention_changed", "controller_changed", "contact_changed",
    )


def test_demo_every_lawful_basis_is_from_the_vocabulary(demo):  # OBL-BASIS-1
    bases = {p.lawful_basis for p in demo.purposes} | {i.lawful_basis for i in demo.data_items}
    assert bases <= set(LAWFUL_BASES)


def test_undeclared_purpose_raises(demo):  # OBL-PURP-1
    with pytest.raises(PolicyError, match="purpose 'ads_profiling' is not declared"):
        demo.purpose("ads_profiling")


def test_undeclared_data_item_raises(demo):  # OBL-SEC-3
    with pytest.raises(PolicyError, match="data item 'location' is not declared"):
        demo.item("location")


def test_to_json_round_trips_through_json(demo):
    data = json.loads(json.dumps(demo.to_json(), ensure_ascii=False))
    assert data["effective_date"] == "2026-12-01"
    assert manifest_from_json(data) == demo


# ------------------------------------------------------------------------------ errors


def test_error_message_names_file_field_expectation_and_value():
    text = mutate('lawful_basis = "consent"\nretention = "P30D"', 'lawful_basis = "maybe"\nretention = "P30D"')
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    assert str(caught.value) == (
        "manifest.toml: field 'data_items[3].lawful_basis' must be one of "
        f"{', '.join(LAWFUL_BASES)} (got 'maybe')"
    )


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        pytest.param(
            'language = "zh-CN"\n', 'language = "zh-CN"\nlanguage_note = "x"\n',
            "language_note", "one of the known keys", id="unknown-top-level-key",
        ),
        pytest.param(
            'id = "face"\n', 'id = "face"\ncolour = "red"\n',
            "data_items[3].colour", "one of the known keys", id="unknown-nested-key",
        ),
        pytest.param(
            'version = "1.0"\n', "", "version", "a non-empty string", id="missing-key",
        ),
        pytest.param(
            'transfer_method = "HTTPS"\n', "", "recipients[0].transfer_method",
            "a non-empty string", id="missing-nested-key",
        ),
        pytest.param(
            "separate_consent = true", 'separate_consent = "yes"',
            "purposes[1].separate_consent", "true or false", id="wrong-type",
        ),
        pytest.param(
            'retention = "P30D"', 'retention = "30 days"',
            "data_items[3].retention", "an ISO 8601 duration", id="bad-retention",
        ),
        pytest.param(
            'permission = "camera"', 'permission = "microphone"',
            "data_items[3].permission", "one of camera, photos, phone_state, none",
            id="bad-permission",
        ),
        pytest.param(
            'id = "face"', 'id = "Face Video"',
            "data_items[3].id", "an id of lowercase letters", id="bad-id",
        ),
        pytest.param(
            'id = "face"', 'id = "login"',
            "data_items[3].id", "an id unique among data_items", id="duplicate-id",
        ),
        pytest.param(
            'contact_email = "privacy@example.test"', 'contact_email = "privacy"',
            "controller.contact_email", "an email address", id="bad-email",
        ),
        pytest.param(
            "effective_date = 2026-12-01", 'effective_date = "1 Dec 2026"',
            "effective_date", "a date (YYYY-MM-DD)", id="bad-date",
        ),
        pytest.param(
            "effective_date = 2026-12-01", "effective_date = 2026-12-01T08:00:00",
            "effective_date", "a date without a time", id="datetime-not-date",
        ),
        pytest.param(
            'major_changes = ["purpose_added"]', 'major_changes = ["font_changed"]',
            "major_changes[0]", "one of purpose_added", id="bad-major-change",
        ),
        pytest.param(
            'language = "zh-CN"', 'language = "Chinese (China)"',
            "language", "a language tag", id="bad-language",
        ),
        pytest.param(
            'purposes = ["account"]', "purposes = []",
            "data_items[0].purposes", "a non-empty array of ids", id="no-purpose",
        ),
        pytest.param(
            'separate_consent = true\nrequired_for = ["signing"]',
            'separate_consent = true\nrequired_for = ["signing", "signing"]',
            "purposes[1].required_for[1]", "listed once", id="repeated-reference",
        ),
    ],
)
def test_invalid_manifest_error_names_file_field_and_expectation(old, new, field, expected):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(mutate(old, new), file="policy/manifest.toml")
    error = caught.value
    assert error.file == "policy/manifest.toml"
    assert error.field == field
    assert expected in error.expected
    assert str(error).startswith(f"policy/manifest.toml: field '{field}' must be ")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        pytest.param(
            'purposes = ["account"]', 'purposes = ["advertising"]',
            "data_items[0].purposes[0]", id="item-purpose",  # OBL-PURP-1
        ),
        pytest.param(
            'items = ["real_name", "id_number"]', 'items = ["real_name", "id_number", "iris"]',
            "recipients[0].items[2]", id="recipient-item",  # OBL-SH-1
        ),
        pytest.param(
            'retention = "P1Y"\nrecipients = ["agency"]',
            'retention = "P1Y"\nrecipients = ["agency", "broker"]',
            "data_items[1].recipients[1]", id="item-recipient",  # OBL-SH-1
        ),
        pytest.param(
            'recipients = ["agency"]\nrequired_for = ["signing"]',
            'recipients = ["agency"]\nrequired_for = ["teleport"]',
            "data_items[2].required_for[0]", id="item-feature",
        ),
        pytest.param(
            'separate_consent = true\nrequired_for = ["signing"]',
            'separate_consent = true\nrequired_for = ["teleport"]',
            "purposes[1].required_for[0]", id="purpose-feature",
        ),
        pytest.param(
            'purpose = "verify"', 'purpose = "advertising"',
            "recipients[0].purpose", id="recipient-purpose",
        ),
    ],
)
def test_dangling_reference_is_rejected(old, new, field):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(mutate(old, new))
    assert caught.value.field == field
    assert caught.value.expected.startswith("the id of a declared ")


def test_item_shared_with_recipient_that_does_not_list_it_is_rejected():  # OBL-SH-1
    text = mutate('items = ["real_name", "id_number"]', 'items = ["real_name"]')
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    assert caught.value.field == "data_items[2].recipients[0]"
    assert "whose items list 'id_number'" in caught.value.expected


def test_recipient_listing_item_that_does_not_name_it_is_rejected():  # OBL-SH-1
    text = mutate(
        'retention = "P1Y"\nrecipients = ["agency"]', 'retention = "P1Y"'
    )
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    assert caught.value.field == "recipients[0].items[0]"


def test_recipient_purpose_must_be_declared_by_each_shared_item():  # OBL-PURP-1
    text = mutate('purpose = "verify"', 'purpose = "account"')
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    assert caught.value.field == "recipients[0].purpose"
    assert "does not list 'account'" in caught.value.problem


def test_sensitive_item_without_separate_consent_purpose_is_rejected():  # OBL-RN-1
    text = mutate(
        'separate_consent = true\nrequired_for = ["signing"]', 'required_for = ["signing"]'
    )
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    assert caught.value.field == "data_items[2].purposes[0]"
    assert "separate_consent = true" in caught.value.expected
    assert "sensitive" in caught.value.expected


def test_toml_syntax_error_names_the_line():
    text = mutate('name = "Agency"', 'name = "Agency')
    line = text.splitlines().index('name = "Agency') + 1
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, file="broken.toml")
    assert caught.value.field == f"line {line}"
    assert caught.value.expected == "valid TOML"
    assert str(caught.value).startswith(f"broken.toml: line {line}, column ")
    assert ": invalid TOML (" in str(caught.value)


def test_load_manifest_missing_file_raises_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        load_manifest(tmp_path / "manifest.toml")


def test_load_manifest_errors_name_the_path(tmp_path):
    path = tmp_path / "manifest.toml"
    path.write_text(mutate('retention = "P30D"', 'retention = "forever"'), encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert caught.value.file == str(path)


# --------------------------------------------------------------------------- retention


@pytest.mark.parametrize(
    ("text", "start", "expires"),
    [
        ("P5Y", dt.date(2026, 12, 1), dt.date(2031, 12, 1)),
        ("P30D", dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
        ("P6M", dt.date(2026, 8, 31), dt.date(2027, 2, 28)),  # clamped to month end
        ("P1Y", dt.date(2028, 2, 29), dt.date(2029, 2, 28)),
        ("P2W", dt.date(2026, 12, 1), dt.date(2026, 12, 15)),
        ("PT12H", dt.datetime(2026, 12, 1, 20, 0), dt.datetime(2026, 12, 2, 8, 0)),
        ("until_account_cancelled", dt.date(2026, 12, 1), None),
    ],
)
def test_retention_expiry(text, start, expires):  # OBL-SEC-3
    assert parse_retention(text).expires(start) == expires


@pytest.mark.parametrize("bad", ["", "P", "PT", "5Y", "P5", "P1.5Y", "P-1D", "forever", "P1DT"])
def test_retention_rejects_non_durations(bad):
    with pytest.raises(ValueError):
        parse_retention(bad)
