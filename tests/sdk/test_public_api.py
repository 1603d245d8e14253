"""The curated public API of ``sdk``: pinned, so a change to it is a deliberate decision."""

from __future__ import annotations

import importlib.metadata

import pytest

import sdk
import sdk.errors

EXPECTED_ALL = [
    "PrivacySdk",
    "SdkConfig",
    "__version__",
    "SdkError",
    "ConfigError",
    "RegionMismatch",
    "PolicyError",
    "ManifestError",
    "InvalidInput",
    "InvalidIdentifier",
    "WeakPassword",
    "ConsentError",
    "ConsentRequired",
    "UndeclaredPurpose",
    "UndeclaredDataItem",
    "ComplianceViolation",
    "ServiceEnded",
    "StorageError",
    "IntegrityError",
    "KeystoreError",
    "KeystoreUnavailable",
    "KeystoreTimeout",
    "PermissionsError",
    "AccountError",
    "AccountExists",
    "AuthenticationFailed",
    "LoginThrottled",
    "NotLoggedIn",
    "IdentityCheckRequired",
    "CancellationTokenInvalid",
    "TransportError",
    "TlsError",
    "ServerUnavailable",
    "ServerError",
    "RequestNotFound",
    "EnvelopeError",
    "KeyPinMismatch",
    "UploadError",
    "UploadRejected",
    "UploadCancelled",
    "UploadSourceChanged",
]


def test_all_is_pinned() -> None:
    assert sdk.__all__ == EXPECTED_ALL


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(sdk, name) is not None


def test_names_come_from_their_modules() -> None:
    from sdk.config import SdkConfig
    from sdk.core import PrivacySdk

    assert sdk.PrivacySdk is PrivacySdk
    assert sdk.SdkConfig is SdkConfig
    for name in sdk.errors.__all__:
        assert getattr(sdk, name) is getattr(sdk.errors, name)


def test_every_error_is_exported_and_derives_from_sdk_error() -> None:
    assert set(sdk.errors.__all__) <= set(sdk.__all__)
    for name in sdk.errors.__all__:
        assert issubclass(getattr(sdk, name), sdk.SdkError)


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sdk.Nope  # noqa: B018


def test_dir_lists_the_public_api() -> None:
    assert set(EXPECTED_ALL) <= set(dir(sdk))


def test_version_matches_the_distribution() -> None:
    assert sdk.__version__ == importlib.metadata.version("privacy-sdk")
