"""Development CA of the stub: the TLS certificate for the server (and, later, user
certificates from CSRs).

Files in the data dir (PEM)::

    ca.pem           self-signed CA certificate, EC P-256, 10 years; give it to clients as ca_bundle
    ca-key.pem       the CA's private key (PKCS#8, unencrypted, mode 0600)
    server.pem       TLS certificate for localhost, 127.0.0.1 and ::1, signed by the CA, 1 year
    server-key.pem   its private key (mode 0600)

The CA is made once and reused, so clients keep trusting it across restarts. The server
certificate is made again when it is missing, expires within a day, or was not signed by the
current CA. This is a development CA: its key is not encrypted; never trust it outside tests.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DevCa", "CaSigner", "DevCaError", "ensure_dev_ca", "load_ca_signer", "parse_cert_name"]

logger = logging.getLogger("server_stub")

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"

CA_VALIDITY = _dt.timedelta(days=3650)
SERVER_VALIDITY = _dt.timedelta(days=365)
RENEW_BEFORE = _dt.timedelta(days=1)
_BACKDATE = _dt.timedelta(minutes=5)  # tolerate small clock differences with clients
SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")
# a DNS name of the server certificate: LDH labels of 1-63 characters (RFC 1123 section 2.1,
# RFC 5280 section 4.2.1.6: an ASCII name; IDNs go in as their xn-- A-label), 253 at most
_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def parse_cert_name(name: str) -> x509.GeneralName:
    """One extra name of the server certificate: an IP address (v4 or v6) or a DNS name.

    Used so that a phone on the local network can reach the stub over HTTPS at the computer's
    address (``--cert-name 192.168.1.20``) or name (``--cert-name devbox.local``).

    Returns:
        ``x509.IPAddress`` or ``x509.DNSName`` (lower case).

    Raises:
        ValueError: neither an IP address nor a DNS name of letters, digits, ``-`` and dots;
            the message says what is accepted.
    """
    text = str(name).strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        if address.is_unspecified or address.is_multicast:
            raise ValueError(
                f"certificate name {text!r} is not an address a client can connect to; give this "
                "computer's address on the network, e.g. 192.168.1.20")
        return x509.IPAddress(address)
    host = text.lower().rstrip(".")
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"certificate name {text!r} is neither an IP address nor a DNS name; give e.g. "
            "192.168.1.20 or devbox.local (letters, digits, '-' and dots; an IDN as its xn-- form)"
        )
    return x509.DNSName(host)


def _wanted_sans(extra_names: Iterable[str]) -> list[x509.GeneralName]:
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    for name in extra_names:
        general = parse_cert_name(name)
        if general not in sans:
            sans.append(general)
    return sans


class DevCaError(RuntimeError):
    """The dev CA files are unusable (half missing, unreadable, expired); the message says
    which file and how to fix it."""


@dataclass(frozen=True)
class DevCa:
    """Paths of the dev CA's files.

    Attributes:
        ca_path: ``ca.pem``, the CA certificate clients trust.
        cert_path: ``server.pem``, the server's TLS certificate.
        key_path: ``server-key.pem``, the server's TLS private key.
    """

    ca_path: Path
    cert_path: Path
    key_path: Path

    @property
    def ca_key_path(self) -> Path:
        """``ca-key.pem``, next to ``ca.pem``."""
        return self.ca_path.with_name(CA_KEY)


@dataclass(frozen=True)
class CaSigner:
    """The CA certificate with its private key: what signing a certificate needs."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def issue(
        self,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        extensions: list[tuple[x509.ExtensionType, bool]],
        validity: _dt.timedelta,
        now: _dt.datetime | None = None,
    ) -> x509.Certificate:
        """Sign a leaf certificate.

        Args:
            subject: the certificate's subject name.
            public_key: the subject's public key.
            extensions: ``(extension, critical)`` pairs besides BasicConstraints(ca=False),
                SubjectKeyIdentifier and AuthorityKeyIdentifier, which are always added.
            validity: how long it is valid from ``now`` (backdated 5 minutes).
            now: aware UTC time; the current time by default.
        """
        now = now or _dt.datetime.now(_dt.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(self.key, hashes.SHA256())


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename) with ``mode`` from the start."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, mode)  # mkstemp makes it 0600; a public file is widened before any data
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_self_signed_ca(
    data_dir: Path,
    now: _dt.datetime,
    *,
    cert_file: str,
    key_file: str,
    label: str,
    validity: _dt.timedelta,
) -> CaSigner:
    """Make a new self-signed CA and write it into ``data_dir``.

    The CA: EC P-256, subject O = "Privacy SDK stub (development only)", CN = "Privacy SDK
    stub <label> <8 random hex digits>" (the suffix keeps CAs of different data dirs apart in
    one trust store), valid from ``now`` minus 5 minutes to ``now + validity``,
    BasicConstraints cA=TRUE pathLen 0 (critical), KeyUsage keyCertSign + cRLSign (critical),
    SubjectKeyIdentifier; signed with SHA-256.

    Args:
        data_dir: the folder of the two files; must exist.
        now: aware UTC time.
        cert_file, key_file: file names of the certificate (PEM, mode 0644) and of its private
            key (PKCS#8 PEM, unencrypted, mode 0600); each written atomically, key first.
        label: what the CA is (``"dev CA"``, ``"user CA"``): in its CN and the log line.
        validity: how long the CA is valid from ``now``.

    Raises:
        OSError: a file cannot be written.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Privacy SDK stub (development only)"),
            # A random suffix keeps CAs of different data dirs apart in one trust store.
            x509.NameAttribute(NameOID.COMMON_NAME, f"Privacy SDK stub {label} {secrets.token_hex(4)}"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_atomic(data_dir / key_file, _key_pem(key), 0o600)
    _write_atomic(data_dir / cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    logger.info("created %s %s", label, data_dir / cert_file)
    return CaSigner(cert=cert, key=key)


def _create_ca(data_dir: Path, now: _dt.datetime) -> CaSigner:
    return create_self_signed_ca(data_dir, now, cert_file=CA_CERT, key_file=CA_KEY,
                                 label="dev CA", validity=CA_VALIDITY)


def load_ca_signer(data_dir: Path) -> CaSigner:
    """Load ``ca.pem`` and ``ca-key.pem`` from ``data_dir``.

    Raises:
        DevCaError: a file is missing or unreadable, the key does not match the certificate,
            or the CA has expired. The message names the file.
    """
    data_dir = Path(data_dir)
    cert_path, key_path = data_dir / CA_CERT, data_dir / CA_KEY
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise DevCaError(f"cannot read the dev CA certificate {cert_path}: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise DevCaError(f"cannot read the dev CA key {key_path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise DevCaError(
            f"{key_path} is not the key of {cert_path}; delete both files to make a new dev CA "
            "(clients must then trust the new ca.pem)"
        )
    if os.name == "posix" and key_path.stat().st_mode & 0o077:
        logger.warning("%s was readable by others; setting mode 0600", key_path)
        os.chmod(key_path, 0o600)
    if cert.not_valid_after_utc <= _dt.datetime.now(_dt.timezone.utc):
        raise DevCaError(
            f"the dev CA {cert_path} has expired; delete {CA_CERT} and {CA_KEY} to make a new one"
        )
    return CaSigner(cert=cert, key=key)


def _server_cert_usable(cert_path: Path, key_path: Path, ca: CaSigner, now: _dt.datetime,
                        sans: list[x509.GeneralName]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    if cert.public_key() != key.public_key() or cert.not_valid_after_utc - RENEW_BEFORE <= now:
        return False
    try:
        cert.verify_directly_issued_by(ca.cert)
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return set(have) == set(sans)  # a name added or dropped: a new certificate


def _create_server_cert(data_dir: Path, ca: CaSigner, now: _dt.datetime,
                        sans: list[x509.GeneralName]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
        public_key=key.public_key(),
        extensions=[
            (x509.SubjectAlternativeName(sans), False),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            ),
        ],
        validity=SERVER_VALIDITY,
        now=now,
    )
    _write_atomic(data_dir / SERVER_KEY, _key_pem(key), 0o600)
    _write_atomic(data_dir / SERVER_CERT, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    logger.info("created TLS certificate %s", data_dir / SERVER_CERT)


def ensure_dev_ca(data_dir: Path, extra_names: Iterable[str] = ()) -> DevCa:
    """Make sure ``data_dir`` holds a dev CA and a valid server certificate; return their paths.

    Creates ``data_dir`` (mode 0700) when missing. Reuses an existing CA; makes a new server
    certificate when it is missing, expires within a day, is not signed by the CA, or does not
    name exactly ``localhost``, ``127.0.0.1``, ``::1`` and ``extra_names`` (subject alternative
    names, RFC 5280 section 4.2.1.6; clients check the address they connect to against them).
    Not safe against two processes initialising the same empty data dir at the same moment.

    Args:
        data_dir: the stub's data dir.
        extra_names: more names for the server certificate, each an IP address or a DNS name
            (:func:`parse_cert_name`), e.g. the computer's address on the local network.

    Raises:
        ValueError: a name of ``extra_names`` is not an IP address or a DNS name.
        DevCaError: only one of ``ca.pem``/``ca-key.pem`` exists, or they are unusable.
        OSError: ``data_dir`` cannot be created or written.
    """
    sans = _wanted_sans(extra_names)  # checked before anything is written
    data_dir = Path(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.timezone.utc)
    have_cert, have_key = (data_dir / CA_CERT).exists(), (data_dir / CA_KEY).exists()
    if have_cert != have_key:
        present, missing = (CA_CERT, CA_KEY) if have_cert else (CA_KEY, CA_CERT)
        raise DevCaError(
            f"{data_dir} has {present} but no {missing}; restore it, or delete {present} to "
            "make a new dev CA (clients must then trust the new ca.pem)"
        )
    ca = load_ca_signer(data_dir) if have_cert else _create_ca(data_dir, now)
    dev_ca = DevCa(
        ca_path=data_dir / CA_CERT,
        cert_path=data_dir / SERVER_CERT,
        key_path=data_dir / SERVER_KEY,
    )
    if not _server_cert_usable(dev_ca.cert_path, dev_ca.key_path, ca, now, sans):
        _create_server_cert(data_dir, ca, now, sans)
    return dev_ca
