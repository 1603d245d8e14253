"""Every error the SDK raises, under one root.

Catch :class:`SdkError` to handle them all. Messages say what is wrong and how to fix it,
and never contain personal information (values are never echoed, only field names).

Tree::

    SdkError
    ├── ConfigError            SdkConfig is invalid (bad endpoint, missing CA bundle, ...)
    ├── PolicyError            the privacy policy text cannot be used
    │   └── ManifestError      the policy manifest (TOML) is invalid: names file, field, expectation
    ├── ConsentError
    │   └── ConsentRequired    an action needs a consent the user has not given
    ├── StorageError           the on-device store (SQLite) failed or is corrupt
    └── TransportError         talking to the server failed
        ├── TlsError           the server's certificate did not verify against the configured CA
        ├── ServerUnavailable  connection refused, timed out, or 5xx after the retries
        └── ServerError        the server answered with an error; ``status`` and ``code`` tell which

Lower-layer errors (``requests``, ``sqlite3``, ``tomllib``) are converted at one boundary each,
with ``raise ... from`` so the cause stays attached for debugging.
"""

from __future__ import annotations

__all__ = [
    "SdkError",
    "ConfigError",
    "PolicyError",
    "ManifestError",
    "ConsentError",
    "ConsentRequired",
    "StorageError",
    "TransportError",
    "TlsError",
    "ServerUnavailable",
    "ServerError",
]


class SdkError(Exception):
    """Root of every error raised by the SDK."""


class ConfigError(SdkError):
    """The :class:`sdk.SdkConfig` given is invalid. The message names the setting."""


class PolicyError(SdkError):
    """The privacy policy text or its manifest cannot be used."""


class ManifestError(PolicyError):
    """The policy manifest is invalid.

    Attributes:
        file: path (or name) of the manifest, as given.
        field: dotted path of the offending field, e.g. ``data_items[2].lawful_basis``.
        expected: what the field must be.
    """

    def __init__(self, file: str, field: str, expected: str, problem: str = "") -> None:
        self.file = str(file)
        self.field = field
        self.expected = expected
        self.problem = problem
        detail = f" ({problem})" if problem else ""
        super().__init__(f"{self.file}: field '{field}' must be {expected}{detail}")


class ConsentError(SdkError):
    """Something about consent prevents the action."""


class ConsentRequired(ConsentError):
    """The action needs a consent the user has not given (PIPL art. 13(1), 14).

    Attributes:
        purpose: id of the purpose that needs consent.
    """

    def __init__(self, purpose: str, message: str | None = None) -> None:
        self.purpose = purpose
        super().__init__(
            message
            or f"consent for purpose '{purpose}' has not been given; ask the user first "
            "(show the privacy prompt) and retry after they agree"
        )


class StorageError(SdkError):
    """The on-device store failed (disk full, corrupt file, permissions)."""


class TransportError(SdkError):
    """Talking to the server failed."""


class TlsError(TransportError):
    """The server's TLS certificate did not verify against the configured CA bundle."""


class ServerUnavailable(TransportError):
    """The server could not be reached, timed out, or kept failing after the retries."""


class ServerError(TransportError):
    """The server answered with an error.

    Attributes:
        status: HTTP status code.
        code: the machine-readable ``error`` field of the server's answer, if any.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(f"server answered {status} {code}: {message}")
