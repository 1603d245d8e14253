"""Fakes and contract tests shipped for app developers' own tests. Not for production.

- :mod:`sdk.testing.keystore`: :class:`~sdk.testing.keystore.MemoryKeystore`, an in-memory
  keystore backend (a fake at the OS edge: keys vanish with the process and are not
  protected at all).
- :mod:`sdk.testing.keystore_contract`: :class:`~sdk.testing.keystore_contract.KeystoreContract`,
  the pytest contract every keystore backend passes; subclass it to check your own backend.
- :mod:`sdk.testing.permissions_contract`:
  :class:`~sdk.testing.permissions_contract.PermissionBackendContract`, the pytest contract
  every OS-permission backend passes; for scripted permission answers in app tests use
  :class:`sdk.permissions.scripted.ScriptedBackend`.
- :mod:`sdk.testing.compliance`: :func:`~sdk.testing.compliance.assert_compliant` and
  :func:`~sdk.testing.compliance.findings`, the compliance check (:mod:`sdk.compliance`) as a
  test assertion over what a test made the app do.

Nothing here is imported by ``import sdk``; :mod:`sdk.testing.keystore_contract` and
:mod:`sdk.testing.permissions_contract` need pytest.
"""
