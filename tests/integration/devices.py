"""Devices of an account for the end-to-end tests of real-name signing: a PrivacySdk (with a
memory keystore, so consent records are signed) that has agreed to the policy and is logged in
to the stub (:func:`open_logged_in`), and :class:`User`, such a device with the certificate
manager and contract signer the SDK facade wires. The fixtures ``open_user`` and ``user``
(tests/integration/conftest.py) make users."""

from __future__ import annotations

from typing import Any

from sdk import PrivacySdk, SdkConfig
from sdk.policy import Policy
from sdk.realname.certificate import CertificateManager
from sdk.realname.signing import ContractSigner
from sdk.testing.keystore import MemoryKeystore
from server_stub.testing import https_session

__all__ = ["CERT_SCOPES", "EMAIL", "ID_NUMBER", "NAME", "PASSWORD", "User", "open_logged_in"]

PASSWORD = "Xk9#mQ2vLp8w-river"
EMAIL = "alice@example.com"
NAME = "阿依古丽·买买提"  # the ID card's middle dot, U+00B7
ID_NUMBER = "11010519491231002X"
CERT_SCOPES = ("certificate", "item:certificate_info", "recipient:ca", "item:id_number")


def open_logged_in(config: SdkConfig, policy: Policy, email: str, *,
                   register: bool = True) -> tuple[PrivacySdk, MemoryKeystore]:
    """Open a PrivacySdk on *config* with a new :class:`MemoryKeystore`, agree to the policy,
    register *email* with :data:`PASSWORD` (unless *register* is False: the account exists)
    and log in. Returns the SDK (the caller closes it) and its keystore; on an error the SDK is
    closed and the error raised."""
    keystore = MemoryKeystore()
    privacy = PrivacySdk.open(config, policy, keystore=keystore)
    try:
        privacy.agree()
        if register:
            privacy.register(email, PASSWORD)
        privacy.login(email, PASSWORD)
    except BaseException:
        privacy.close()
        raise
    return privacy, keystore


class User:
    """One device of the account :data:`EMAIL`: a PrivacySdk logged in, with the certificate
    manager the SDK facade wires (``privacy.certificate``) built from the same parts."""

    def __init__(self, stub: Any, config: SdkConfig, policy: Policy, *, register: bool) -> None:
        self.stub = stub
        self.privacy, self.keystore = open_logged_in(config, policy, EMAIL, register=register)
        self.manager = CertificateManager(
            self.privacy._api(), self.privacy.store, self.keystore, consent=self.privacy,
            is_verified=lambda: True, clock=config.clock)
        self.signer = ContractSigner(self.manager)

    @property
    def account_id(self) -> str:
        return self.privacy.me().account_id

    def consent(self, *scopes: str, sync: bool = True) -> User:
        for scope in scopes:
            self.privacy.grant(scope, sync=sync)
        return self

    def verified_on_server(self) -> User:
        with https_session(self.stub) as session:
            login = session.post(f"{self.stub.url}/v1/sessions", timeout=10,
                                 json={"identifier": EMAIL, "password": PASSWORD})
            assert login.status_code == 200, login.text
            answer = session.put(f"{self.stub.url}/v1/dev/realname/status", timeout=10,
                                 json={"status": "verified", "real_name": NAME,
                                       "id_number": ID_NUMBER})
            assert answer.status_code == 204, answer.text
        return self

    def close(self) -> None:
        self.privacy.close()
