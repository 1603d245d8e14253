"""SDK configuration: passed in explicitly, never read from globals or the environment.

TLS trust comes only from :attr:`SdkConfig.ca_bundle` (or the system store when it is
``None``); ``REQUESTS_CA_BUNDLE`` and friends are ignored on purpose (OBL-SEC-1).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import SplitResult, urlsplit

from .errors import ConfigError

__all__ = ["SdkConfig"]


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"

#: The shortest quiet window after a permission refusal (``sdk.compliance.REASK_WINDOW``).
_MIN_REASK = _dt.timedelta(hours=48)


def _check_pem_bundle(ca: Path) -> None:
    """Raise ConfigError unless ``ca`` is a readable file holding a PEM certificate."""
    if not ca.is_file():
        raise ConfigError(
            f"ca_bundle '{ca}' is not a file; pass the PEM file of the CA that signs "
            "the server's certificate (the stub writes it as <data-dir>/ca.pem)"
        )
    try:
        data = ca.read_bytes()
    except OSError as exc:
        raise ConfigError(f"ca_bundle '{ca}' cannot be read: {exc.strerror or exc}") from exc
    if _PEM_CERTIFICATE not in data:
        raise ConfigError(
            f"ca_bundle '{ca}' is not a PEM CA bundle (no '-----BEGIN CERTIFICATE-----'); pass "
            "the PEM file of the CA that signs the server's certificate (the stub writes it "
            "as <data-dir>/ca.pem)"
        )


_PIN = re.compile(r"^sha256:[0-9a-f]{64}$")


def _check_pins(pins: object) -> tuple[str, ...]:
    """``hpke_pins`` as a tuple of lower-case fingerprints; ConfigError when malformed."""
    if isinstance(pins, (str, bytes)) or not isinstance(pins, (tuple, list)):
        raise ConfigError(
            "hpke_pins must be a tuple of key fingerprints such as ('sha256:<64 hex digits>',); "
            "the stub writes them to <data-dir>/hpke-pins.txt"
        )
    result = []
    for pin in pins:
        value = pin.lower() if isinstance(pin, str) else pin
        if not isinstance(value, str) or not _PIN.match(value):
            raise ConfigError(
                "hpke_pins: every pin must be 'sha256:' followed by 64 hex digits (the "
                "fingerprint the server publishes at GET /v1/keys/hpke)"
            )
        result.append(value)
    return tuple(result)


_REGION = re.compile(r"[A-Za-z]{2}")


def _check_region(region: object) -> str:
    """``region`` as an upper-case ISO 3166-1 alpha-2 code; ConfigError when it is not one."""
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ConfigError(
            "region must be an ISO 3166-1 alpha-2 country code: two letters A-Z, such as "
            "'CN' (where the app's backend stores personal information, OBL-RES-1)")
    return region.upper()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: One label of a host name (RFC 1123): letters, digits and inner hyphens, 1 to 63 of them.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_HOST_EXAMPLE = ("e.g. 'https://api.example.cn', 'https://192.0.2.10:8443' or "
                 "'https://[2001:db8::1]:8443'")


def _check_host(shown: str, host: str) -> None:
    """Raise ConfigError unless *host* (``urlsplit(...).hostname``) is an IP address something
    can connect to, or a valid host name (RFC 1123 labels; a Unicode name is checked in its
    IDNA form)."""
    if not host:
        raise ConfigError(f"{shown} has no host (an IPv6 address goes in brackets); give the "
                          f"server's name or address, {_HOST_EXAMPLE}")
    if any(c.isspace() for c in host):
        raise ConfigError(f"{shown}: the host '{host}' contains a space; give the server's name "
                          f"or address without spaces, {_HOST_EXAMPLE}")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:a.b.c.d is a.b.c.d
        address = mapped or address
        if address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255"):
            raise ConfigError(
                f"{shown}: {host} is a multicast or broadcast address, which no server answers "
                "on; give the server's own address, e.g. 127.0.0.1 on the same computer or its "
                "address on the local network")
        if address.is_unspecified:
            raise ConfigError(
                f"{shown}: {host} is the unspecified address, which a server listens on but "
                "nothing can connect to; give the server's own address, e.g. 127.0.0.1 on the "
                "same computer or its address on the local network")
        return
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    labels = ascii_host[:-1].split(".") if ascii_host.endswith(".") else ascii_host.split(".")
    valid = all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()
    if not ascii_host or len(ascii_host) > 253 or not valid:
        raise ConfigError(
            f"{shown}: '{host}' is not a valid host name or IP address (a name is labels of "
            "letters, digits and hyphens separated by dots, an IPv4 address four numbers 0-255, "
            f"an IPv6 address goes in brackets); {_HOST_EXAMPLE}")


def _check_port(shown: str, parts: SplitResult) -> None:
    """Raise ConfigError unless the URL has no port or a port from 1 to 65535."""
    # the text after the host's last ':' ("]" ends an IPv6 address), for the message only
    tail = parts.netloc.rpartition("]")[2]
    given = tail.rpartition(":")[2] if ":" in tail else None
    fix = ("give a port from 1 to 65535 after the host, e.g. 'https://api.example.cn:8443', "
           "or none for 443")
    if given == "":
        raise ConfigError(f"{shown} has a ':' after the host but no port; {fix}")
    try:
        port = parts.port
    except ValueError:
        port = None
        if given is None or not (given.isascii() and given.isdigit()):
            raise ConfigError(f"{shown}: the port '{given}' is not a number; {fix}") from None
    if given is not None and not (port and 1 <= port <= 65535):
        raise ConfigError(f"{shown}: the port {given} is out of range; {fix}")


@dataclass(frozen=True)
class SdkConfig:
    """Settings for one :class:`sdk.PrivacySdk`.

    Attributes:
        data_dir: folder for the SDK's files (consent ledger, install id). Created if missing.
        endpoint: base URL of the app's backend, e.g. ``https://api.example.cn`` or
            ``https://192.0.2.10:8443``: the scheme, a host and an optional port, nothing else.
            The host is a valid host name (RFC 1123 labels; a Unicode name is checked in its
            IDNA form) or an IP address (IPv6 in brackets), never the unspecified ``0.0.0.0``
            or ``[::]``, a multicast or the broadcast address (nothing can connect to them);
            the port is a number from 1 to 65535.
            Credentials (``user:pass@``), a path, a query or a fragment are refused. ``None``
            runs offline (decisions are kept and synced once an endpoint is configured).
        ca_bundle: PEM file of the CA(s) that sign the backend's certificate (it must hold at
            least one ``-----BEGIN CERTIFICATE-----``); ``None`` uses the system trust store.
            Environment variables never override it.
        region: data region the app declares (OBL-RES-1), ``"CN"`` by default: an ISO 3166-1
            alpha-2 code (two ASCII letters), stored upper-case (``"cn"`` becomes ``"CN"``).
        connect_timeout: seconds to wait for a TCP/TLS connection.
        read_timeout: seconds to wait for each read from the server.
        retries: how many times a failed request (connection error, 502/503/504) is retried,
            POST included: every POST carries an ``Idempotency-Key`` so a retry never creates
            a second record. A 503's ``Retry-After`` is waited at most 10 s
            (``sdk.transport.session.MAX_RETRY_AFTER``); a longer one ends the request at once
            with ``ServerUnavailable`` naming the ``retry_after`` (records stay pending).
        backoff: base of the exponential backoff between retries, in seconds.
        dev_mode: allow plain ``http://`` to a loopback address (never to anything else).
        clock: returns the current time as an aware UTC datetime (injectable for tests).
        strict: raise :class:`sdk.errors.ComplianceViolation` at the moment an event the
            compliance check (:mod:`sdk.compliance`) would report happens - a permission asked
            for before the user agreed to the policy, outside a feature that needs it, or
            again within 48 hours of a refusal; a collection or transfer before consent or
            after a withdrawal. The audit entry is written first. ``False`` (the default)
            records and carries on; run ``python -m sdk.compliance DATA_DIR`` or
            :func:`sdk.testing.compliance.assert_compliant` to see the findings. Meant for
            development builds and tests.
        permission_reask_after: after the user refuses an OS permission (or switches it off
            in the settings), how long the app may not show that permission's system prompt
            again on its own (OBL-PERM-4, MIIT 164号文 "no repeated requests");
            ``privacy.permissions.request(..., user_initiated=True)`` (the user started the
            action again on purpose) still may. At least 48 hours, the window the compliance
            check (:mod:`sdk.compliance`) and strict mode enforce; longer is allowed.
        hpke_pins: fingerprints (``"sha256:<64 lowercase hex>"``, docs/protocol.md "End-to-end
            encryption") of the server's HPKE public keys the app trusts for end-to-end
            encryption of personal data (:mod:`sdk.transport.envelope`). The SDK seals only to
            a pinned key and refuses before sending anything otherwise; with none configured,
            sealing always refuses. A list is accepted and stored as a tuple; upper-case hex is
            stored lower-case.

    Raises:
        ConfigError: when a setting is invalid; the message names it.
    """

    data_dir: Path
    endpoint: str | None = None
    ca_bundle: Path | None = None
    region: str = "CN"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    retries: int = 3
    backoff: float = 0.2
    dev_mode: bool = False
    clock: Callable[[], _dt.datetime] = field(default=_utcnow, compare=False, repr=False)
    strict: bool = False
    permission_reask_after: _dt.timedelta = _MIN_REASK
    hpke_pins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "hpke_pins", _check_pins(self.hpke_pins))
        object.__setattr__(self, "region", _check_region(self.region))
        if self.ca_bundle is not None:
            ca = Path(self.ca_bundle)
            object.__setattr__(self, "ca_bundle", ca)
            _check_pem_bundle(ca)
        if self.endpoint is not None:
            self._check_endpoint(self.endpoint)
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ConfigError("connect_timeout and read_timeout must be positive numbers of seconds")
        if self.retries < 0:
            raise ConfigError("retries must be 0 or more")
        if not isinstance(self.strict, bool):
            raise ConfigError("strict must be True or False")
        if not isinstance(self.permission_reask_after, _dt.timedelta):
            raise ConfigError("permission_reask_after must be a datetime.timedelta, e.g. "
                              "timedelta(hours=48)")
        if self.permission_reask_after < _MIN_REASK:
            raise ConfigError(
                "permission_reask_after must be at least 48 hours: after a refusal the app may "
                "not ask again on its own sooner (OBL-PERM-4; the compliance check and strict "
                "mode use 48 h); use user_initiated=True when the user starts the action again")

    def _check_endpoint(self, endpoint: str) -> None:
        if not isinstance(endpoint, str):
            raise ConfigError(
                f"endpoint must be a URL string such as 'https://api.example.cn', "
                f"got {type(endpoint).__name__}"
            )
        # Messages never repeat an endpoint that may hold a secret ("user:pass@host").
        shown = "endpoint" if "@" in endpoint else f"endpoint '{endpoint}'"
        try:
            parts = urlsplit(endpoint)
            hostname = parts.hostname
        except ValueError:
            raise ConfigError(
                f"{shown} is not a valid URL; use e.g. 'https://api.example.cn'"
            ) from None
        if "@" in parts.netloc:
            raise ConfigError(
                "endpoint must not contain a user name or password ('user:pass@host'): "
                "credentials in a URL leak into logs and error messages; give only the "
                "scheme, host and port, e.g. 'https://api.example.cn'"
            )
        if parts.scheme not in ("https", "http") or not (hostname or parts.netloc):
            raise ConfigError(
                f"{shown} is not an absolute URL; use e.g. 'https://api.example.cn'"
            )
        _check_host(shown, hostname or "")
        _check_port(shown, parts)
        if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in endpoint \
                or "#" in endpoint:
            raise ConfigError(
                f"{shown} has a path, query or fragment; give only the scheme, host and port, "
                "e.g. 'https://api.example.cn' (the SDK adds the /v1/... paths itself)"
            )
        if parts.scheme == "http" and not (self.dev_mode and _is_loopback(hostname)):
            raise ConfigError(
                "endpoint uses plain http://; personal information only travels over HTTPS "
                "(OBL-SEC-1). Use https://, or set dev_mode=True for a loopback test server."
            )

    @property
    def base_url(self) -> str:
        """The endpoint without a trailing slash. Raises ConfigError when none is set."""
        if not self.endpoint:
            raise ConfigError("no endpoint configured; pass SdkConfig(endpoint='https://...')")
        return self.endpoint.rstrip("/")
