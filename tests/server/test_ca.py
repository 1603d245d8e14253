"""The dev CA: files, permissions, certificate contents, reuse and renewal."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server_stub.ca import DevCaError, ensure_dev_ca, load_ca_signer


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_first_start_creates_ca_and_server_files(tmp_path: Path) -> None:
    dev_ca = ensure_dev_ca(tmp_path / "data")
    names = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert names == ["ca-key.pem", "ca.pem", "server-key.pem", "server.pem"]
    assert dev_ca.ca_path == tmp_path / "data" / "ca.pem"
    assert dev_ca.cert_path.name == "server.pem" and dev_ca.key_path.name == "server-key.pem"


def test_private_keys_are_mode_0600(tmp_path: Path) -> None:
    dev_ca = ensure_dev_ca(tmp_path)
    for key in (dev_ca.ca_key_path, dev_ca.key_path):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key.name


def test_ca_is_a_p256_ca_for_certificate_signing(tmp_path: Path) -> None:
    ca = _cert(ensure_dev_ca(tmp_path).ca_path)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    ca.verify_directly_issued_by(ca)  # self-signed


def test_server_cert_chains_to_ca(tmp_path: Path) -> None:
    dev_ca = ensure_dev_ca(tmp_path)
    server, ca = _cert(dev_ca.cert_path), _cert(dev_ca.ca_path)
    server.verify_directly_issued_by(ca)  # raises if the signature or issuer is wrong
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_server_cert_names_localhost_and_loopback_ips_for_server_auth(tmp_path: Path) -> None:
    server = _cert(ensure_dev_ca(tmp_path).cert_path)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_server_key_matches_server_cert(tmp_path: Path) -> None:
    dev_ca = ensure_dev_ca(tmp_path)
    key = serialization.load_pem_private_key(dev_ca.key_path.read_bytes(), password=None)
    assert key.public_key() == _cert(dev_ca.cert_path).public_key()


def test_restart_reuses_the_same_ca(tmp_path: Path) -> None:
    first = _cert(ensure_dev_ca(tmp_path).ca_path).fingerprint(hashes.SHA256())
    server_before = (tmp_path / "server.pem").read_bytes()
    second = _cert(ensure_dev_ca(tmp_path).ca_path).fingerprint(hashes.SHA256())
    assert first == second
    assert (tmp_path / "server.pem").read_bytes() == server_before  # still valid: kept


def test_missing_server_cert_is_made_again_by_the_same_ca(tmp_path: Path) -> None:
    dev_ca = ensure_dev_ca(tmp_path)
    dev_ca.cert_path.unlink()
    ensure_dev_ca(tmp_path)
    _cert(dev_ca.cert_path).verify_directly_issued_by(_cert(dev_ca.ca_path))


def test_expired_server_cert_is_renewed(tmp_path: Path) -> None:
    dev_ca = ensure_dev_ca(tmp_path)
    signer = load_ca_signer(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    old = signer.issue(
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
        public_key=key.public_key(),
        extensions=[],
        validity=dt.timedelta(days=1),
        now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30),
    )
    dev_ca.cert_path.write_bytes(old.public_bytes(serialization.Encoding.PEM))
    dev_ca.key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ensure_dev_ca(tmp_path)
    renewed = _cert(dev_ca.cert_path)
    assert renewed.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=300)


def test_ca_cert_without_its_key_is_an_error_not_a_new_ca(tmp_path: Path) -> None:
    dev_ca = ensure_dev_ca(tmp_path)
    dev_ca.ca_key_path.unlink()
    with pytest.raises(DevCaError, match="ca.pem but no ca-key.pem"):
        ensure_dev_ca(tmp_path)


def _sans(path: Path) -> set[x509.GeneralName]:
    return set(_cert(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def test_an_extra_name_goes_into_the_server_certificate(tmp_path: Path) -> None:
    dev_ca = ensure_dev_ca(tmp_path, ["192.168.1.20", "DevBox.local."])
    sans = _sans(dev_ca.cert_path)
    assert x509.IPAddress(ipaddress.ip_address("192.168.1.20")) in sans
    assert x509.DNSName("devbox.local") in sans
    assert x509.DNSName("localhost") in sans  # the loopback names stay


def test_a_changed_extra_name_makes_a_new_server_certificate_by_the_same_ca(tmp_path: Path) -> None:
    ensure_dev_ca(tmp_path, ["192.168.1.20"])
    ca_before = (tmp_path / "ca.pem").read_bytes()
    dev_ca = ensure_dev_ca(tmp_path, ["10.0.0.5"])
    sans = _sans(dev_ca.cert_path)
    assert x509.IPAddress(ipaddress.ip_address("10.0.0.5")) in sans
    assert x509.IPAddress(ipaddress.ip_address("192.168.1.20")) not in sans
    assert (tmp_path / "ca.pem").read_bytes() == ca_before  # clients keep trusting it


@pytest.mark.parametrize("name", ["bad name", "-devbox", "a..b", "x" * 64 + ".local", "http://h"])
def test_a_bad_extra_name_is_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="neither an IP address nor a DNS name"):
        ensure_dev_ca(tmp_path / "data", [name])
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("name", ["0.0.0.0", "::", "224.0.0.1"])
def test_an_address_no_client_can_connect_to_is_refused_as_a_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not an address a client can connect to"):
        ensure_dev_ca(tmp_path / "data", [name])
    assert not (tmp_path / "data").exists()
