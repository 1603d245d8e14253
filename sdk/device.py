"""Device information behind consent (OBL-DEV-1): IP addresses, MAC address, device identifier
and network type (docs/permissions.md, "Device information").

``privacy.device`` (a :class:`DeviceInfo`) has one collector per manifest data item::

    device = privacy.device
    device.local_ip("operation_log", raw=True)     # device_ip: this device's own addresses
    device.server_ip("device_security")           # device_ip as the server sees it (GET /v1/client-ip)
    device.mac_address("device_security")          # device_mac: a salted hash by default
    device.device_id("device_security")            # device_id: Android/iOS only; no OS permission
    device.network_info("operation_log")           # network_info: wifi / cellular / ethernet / unknown

Rules, for every collector:

- it reads nothing until it is called (nothing at start-up, nothing before consent);
- it passes :meth:`sdk.PrivacySdk.collect` for its item and the purpose given, so it is
  refused without consent and written to the audit trail either way (the gate of
  :mod:`sdk.capture._gate`: consent, then the item's OS permission, then ``collect``);
- minimised: an identifier comes back as a salted hash (HMAC-SHA256, ``hmac-sha256:<hex>``)
  unless the caller says the purpose needs the value (``raw=True``). The salt is 32 random
  bytes per purpose, kept in the encrypted store (``privacy.store``, namespace ``device``)
  with that purpose's retention, never in a plain file; it is never derived from the device,
  so the hash links nothing across apps, installs or purposes, and it changes when the salt
  expires. Nothing here derives a key from a device identifier, and no hash is key material;
- the result is a small frozen dataclass whose ``repr`` never shows the value; nothing here
  logs a value.

Platform notes: Android (6+) and iOS (7+) give apps no MAC address (a constant
``02:00:00:00:00:00``), so ``mac_address`` says unavailable there; ``device_id`` is
``plyer.uniqueid`` (ANDROID_ID on Android, identifierForVendor on iOS; neither needs an OS
permission, so none is checked or asked) and unavailable on the desktop, where no app-scoped identifier exists (a hardware serial would need root and would
identify the machine across apps). Local addresses are read from the kernel on Linux and
Android (``SIOCGIFADDR``, ``/proc/net/if_inet6``), without any network traffic.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import socket
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .capture import _gate, _platform

__all__ = [
    "DeviceIdentifier",
    "DeviceInfo",
    "IpAddresses",
    "MacAddress",
    "NetworkInfo",
    "NetworkType",
    "pseudonym",
]

#: Namespace of the encrypted store that holds the salts.
SALT_NAMESPACE = "device"
_SALT_BYTES = 32
_HASH_PREFIX = "hmac-sha256:"
_ANDROID_DUMMY_MAC = "02:00:00:00:00:00"
_SYS_NET = Path("/sys/class/net")
_PROC_ROUTE = Path("/proc/net/route")
_PROC_INET6 = Path("/proc/net/if_inet6")

NetworkType = Literal["wifi", "cellular", "ethernet", "unknown"]


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IpAddresses:
    """``device_ip``.

    Attributes:
        source: ``local`` (this device's interfaces) or ``server`` (as the server sees it).
        addresses: the addresses (raw), or their salted hashes; never in ``repr``.
        hashed: whether *addresses* are hashes.
        available, reason: ``False`` and why when none was found.
    """

    source: Literal["local", "server"]
    addresses: tuple[str, ...] = field(default=(), repr=False)
    hashed: bool = True
    available: bool = True
    reason: str = ""


@dataclass(frozen=True)
class MacAddress:
    """``device_mac``: *value* is the MAC (``raw=True``) or its salted hash; never in ``repr``."""

    value: str | None = field(default=None, repr=False)
    hashed: bool = True
    available: bool = True
    reason: str = ""


@dataclass(frozen=True)
class DeviceIdentifier:
    """``device_id``: *value* is the identifier (``raw=True``) or its salted hash.

    Attributes:
        kind: ``android_id`` or ``identifier_for_vendor`` (``""`` when unavailable).
    """

    value: str | None = field(default=None, repr=False)
    hashed: bool = True
    kind: str = ""
    available: bool = True
    reason: str = ""


@dataclass(frozen=True)
class NetworkInfo:
    """``network_info``: the kind of network in use (best effort).

    Attributes:
        type: ``wifi``, ``cellular``, ``ethernet`` or ``unknown``.
        source: how it was found (``android``, ``linux``, or ``none``).
    """

    type: NetworkType = "unknown"
    source: str = "none"


def pseudonym(salt: bytes, item: str, value: str) -> str:
    """The salted hash of *value*: ``hmac-sha256:`` + hex of HMAC-SHA256(salt, item NUL value).

    A pseudonym for matching (the same device, the same salt -> the same text), never key
    material.
    """
    digest = hmac.new(salt, f"{item}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return _HASH_PREFIX + digest


# -- the collectors -----------------------------------------------------------------------


class DeviceInfo:
    """The device-information collectors of one :class:`sdk.PrivacySdk` (see the module doc).

    Creating it reads nothing. Every method takes the *purpose* (a manifest purpose the item
    is declared for), an optional *feature* (shown in the privacy centre) and, for
    identifiers, ``raw`` (the purpose needs the value itself; default: a salted hash).

    Every method raises :class:`sdk.ConsentRequired` (audited) when consent is missing,
    :class:`sdk.ConsentError` when the item is not declared for the purpose, and
    :class:`sdk.capture.PermissionNotGranted` when the item's OS permission is not granted.
    """

    def __init__(self, privacy: Any, *, permissions: Any = None) -> None:
        self._privacy = privacy
        self._permissions = permissions
        self._salt_lock = threading.Lock()

    # -- device_ip ------------------------------------------------------------------------

    def local_ip(self, purpose: str, *, feature: str | None = None,
                 raw: bool = False) -> IpAddresses:
        """This device's own IP addresses (``device_ip``): global and private addresses of
        its interfaces; loopback and link-local ones (which may embed the MAC) are left out."""
        salt = self._gate("device_ip", purpose, feature, raw=raw)
        found = _local_addresses()
        if not found:
            return IpAddresses("local", (), not raw, False, "no IP address found on this device")
        return IpAddresses("local", self._values("device_ip", salt, found), not raw)

    def server_ip(self, purpose: str, *, feature: str | None = None,
                  raw: bool = False) -> IpAddresses:
        """The IP address the server sees for this device (``device_ip``), from
        ``GET /v1/client-ip`` (sent without cookie or identifier).

        Raises:
            ConfigError: no endpoint configured; TransportError: the server cannot be reached.
        """
        api = self._privacy._api()  # ConfigError (no endpoint) before the gate
        salt = self._gate("device_ip", purpose, feature, raw=raw)
        address = api.client_ip()
        return IpAddresses("server", self._values("device_ip", salt, (address,)), not raw)

    # -- device_mac -----------------------------------------------------------------------

    def mac_address(self, purpose: str, *, feature: str | None = None,
                    raw: bool = False) -> MacAddress:
        """The MAC address (``device_mac``) of the interface in use, as a salted hash unless
        ``raw``. Unavailable on Android and iOS (the OS hides it from apps)."""
        where = _platform.platform()
        if where in ("android", "ios"):
            return self._unavailable(
                "device_mac", purpose, feature,
                MacAddress(None, not raw, False,
                           f"{where} gives apps no MAC address (a constant dummy since "
                           f"{'Android 6' if where == 'android' else 'iOS 7'})"))
        salt = self._gate("device_mac", purpose, feature, raw=raw)
        mac = _mac_address()
        if mac is None:
            return MacAddress(None, not raw, False, "no hardware MAC address found")
        return MacAddress(self._values("device_mac", salt, (mac,))[0], not raw)

    # -- device_id ------------------------------------------------------------------------

    def device_id(self, purpose: str, *, feature: str | None = None,
                  raw: bool = False) -> DeviceIdentifier:
        """The app-scoped device identifier (``device_id``) through ``plyer.uniqueid``:
        ANDROID_ID on Android (``Settings.Secure.ANDROID_ID``, which needs no OS permission:
        READ_PHONE_STATE is not asked for it, and is what scanners flag as over-asking),
        identifierForVendor on iOS (no permission either); unavailable on the desktop. Never
        an IMEI or another hardware identifier: Android 10+ gives normal apps none, and this
        method does not try."""
        where = _platform.platform()
        if where not in ("android", "ios"):
            return self._unavailable(
                "device_id", purpose, feature,
                DeviceIdentifier(None, not raw, "", False,
                                 f"no app-scoped device identifier on the desktop ({where}); "
                                 "plyer.uniqueid is used on Android and iOS only"))
        # no OS permission: ANDROID_ID and identifierForVendor are readable by every app
        salt = self._gate("device_id", purpose, feature, raw=raw)
        kind = "android_id" if where == "android" else "identifier_for_vendor"
        try:
            from plyer import uniqueid

            value = uniqueid.id
        except Exception as exc:  # ImportError, NotImplementedError, jnius/pyobjus errors
            return DeviceIdentifier(None, not raw, kind, False,
                                    f"plyer.uniqueid failed ({type(exc).__name__})")
        if not value:
            return DeviceIdentifier(None, not raw, kind, False, "the platform gave no identifier")
        return DeviceIdentifier(self._values("device_id", salt, (str(value),))[0],
                                not raw, kind)

    # -- network_info ---------------------------------------------------------------------

    def network_info(self, purpose: str, *, feature: str | None = None) -> NetworkInfo:
        """The kind of network in use (``network_info``): ``wifi``, ``cellular``,
        ``ethernet`` or ``unknown`` (best effort; no identifier, so never hashed)."""
        self._gate("network_info", purpose, feature)
        kind, source = _network_type()
        return NetworkInfo(kind, source)  # type: ignore[arg-type]

    # -- plumbing -------------------------------------------------------------------------

    def _permission_facade(self) -> Any:
        if self._permissions is not None:
            return self._permissions
        return _gate.permissions_of(self._privacy)

    def _gate(self, item: str, purpose: str, feature: str | None,
              permission: str | None = None, *, raw: bool = True) -> bytes | None:
        """The gate, after everything that needs no personal data: for a hashed value the
        salt is read (or made) first, so a missing keystore raises before an ``allowed``
        entry is written for a value that could not be returned. Returns the salt (``None``
        for ``raw``)."""
        salt = None
        if not raw and not _gate.consent_missing(self._privacy, item, purpose):
            salt = self._salt(purpose)  # KeystoreError here: nothing read, nothing audited
        facade = self._permission_facade() if permission is not None else None
        _gate.gate(self._privacy, facade, item, purpose, feature, permission)
        return salt

    def _unavailable(self, item: str, purpose: str, feature: str | None, result: Any) -> Any:
        """Nothing to read here: refuse as the gate would without consent (audited), else
        return *result* without writing an ``allowed`` entry for data never collected."""
        if _gate.consent_missing(self._privacy, item, purpose):
            self._privacy.collect(item, purpose, feature=feature)  # raises; refusal audited
        return result

    @staticmethod
    def _values(item: str, salt: bytes | None, values: Any) -> tuple[str, ...]:
        """The values as they are (``salt`` is ``None``: ``raw``), else their pseudonyms."""
        if salt is None:
            return tuple(values)
        return tuple(pseudonym(salt, item, v) for v in values)

    def _salt(self, purpose: str) -> bytes:
        """The purpose's random salt, from the encrypted store (created on first use)."""
        store = self._privacy.store  # KeystoreError when no keystore: never a plain file
        key = f"salt.{purpose}"
        with self._salt_lock:
            salt = store.get(SALT_NAMESPACE, key)
            if salt is None or len(salt) != _SALT_BYTES:
                salt = os.urandom(_SALT_BYTES)
                store.put(SALT_NAMESPACE, key, salt, purpose=purpose)
            return bytes(salt)


# -- readers (no gate: called only after it) --------------------------------------------------


def _usable_ip(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if address.is_loopback or address.is_link_local or address.is_unspecified or address.is_multicast:
        return None
    return str(address)


def _local_addresses() -> tuple[str, ...]:
    """This device's usable IP addresses, IPv4 first; no network traffic."""
    found: list[str] = []
    if sys.platform.startswith("linux"):  # Linux and Android
        found += _ipv4_by_ioctl()
        found += _ipv6_from_proc()
    else:  # pragma: no cover - macOS / Windows: what the host name resolves to locally
        try:
            infos = socket.getaddrinfo(socket.gethostname(), None, flags=socket.AI_ADDRCONFIG)
        except OSError:
            infos = []
        found += [str(info[4][0]) for info in infos]
    usable = [a for a in (_usable_ip(f) for f in found) if a is not None]
    return tuple(sorted(dict.fromkeys(usable), key=lambda a: (":" in a, a)))


def _interfaces() -> list[str]:
    try:
        return [name for _, name in socket.if_nameindex()]
    except OSError:  # pragma: no cover - Android 11+ may refuse netlink; try sysfs
        try:
            return sorted(p.name for p in _SYS_NET.iterdir())
        except OSError:
            return []


def _ipv4_by_ioctl() -> list[str]:
    try:
        import fcntl
        import struct
    except ImportError:  # pragma: no cover
        return []
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # never sends anything
        for name in _interfaces():
            try:
                answer = fcntl.ioctl(sock.fileno(), 0x8915,  # SIOCGIFADDR
                                     struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on it
            out.append(socket.inet_ntoa(answer[20:24]))
    return out


def _ipv6_from_proc() -> list[str]:
    try:
        lines = _PROC_INET6.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if parts and len(parts[0]) == 32:
            try:
                out.append(str(ipaddress.IPv6Address(bytes.fromhex(parts[0]))))
            except ValueError:
                continue
    return out


def _default_interface() -> str | None:
    """The interface of the IPv4 default route (``/proc/net/route``), or None."""
    try:
        lines = _PROC_ROUTE.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) > 2 and parts[1] == "00000000":
            return parts[0]
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _mac_address() -> str | None:
    """The MAC address of the interface in use: the default route's, else the first
    interface with a hardware device, else ``uuid.getnode()`` when it is a real one."""
    if _SYS_NET.is_dir():
        names = sorted(p.name for p in _SYS_NET.iterdir())
        default = _default_interface()
        order = ([default] if default in names else []) + \
            [n for n in names if (_SYS_NET / n / "device").exists()] + names
        for name in dict.fromkeys(order):
            if _read(_SYS_NET / name / "type") != "1":  # ARPHRD_ETHER (Ethernet and Wi-Fi)
                continue
            mac = _read(_SYS_NET / name / "address").lower()
            if mac and mac not in ("00:00:00:00:00:00", _ANDROID_DUMMY_MAC):
                return mac
    node = uuid.getnode()
    if (node >> 40) & 1:  # the multicast bit: uuid made up a random number, no MAC found
        return None
    return ":".join(f"{(node >> shift) & 0xFF:02x}" for shift in range(40, -1, -8))


def _network_type() -> tuple[str, str]:
    where = _platform.platform()
    if where == "android":
        return _android_network_type(), "android"
    if where == "linux":
        name = _default_interface()
        if name is None:
            return "unknown", "linux"
        base = _SYS_NET / name
        if (base / "wireless").exists() or (base / "phy80211").exists():
            return "wifi", "linux"
        if name.startswith(("wwan", "rmnet", "ccmni", "ppp", "wwp")):
            return "cellular", "linux"
        if _read(base / "type") == "1":
            return "ethernet", "linux"
        return "unknown", "linux"
    return "unknown", "none"


def _android_network_type() -> str:  # pragma: no cover - needs an Android device
    """ConnectivityManager's active network (ACCESS_NETWORK_STATE, a normal permission)."""
    try:
        from jnius import autoclass

        activity = autoclass("org.kivy.android.PythonActivity").mActivity
        context = autoclass("android.content.Context")
        capabilities = autoclass("android.net.NetworkCapabilities")
        manager = activity.getSystemService(context.CONNECTIVITY_SERVICE)
        caps = manager.getNetworkCapabilities(manager.getActiveNetwork())
    except Exception:
        return "unknown"
    if caps is None:
        return "unknown"
    for transport, name in ((capabilities.TRANSPORT_WIFI, "wifi"),
                            (capabilities.TRANSPORT_CELLULAR, "cellular"),
                            (capabilities.TRANSPORT_ETHERNET, "ethernet")):
        if caps.hasTransport(transport):
            return name
    return "unknown"

