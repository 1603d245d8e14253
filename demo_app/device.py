"""The demo app on a phone: the server settings come from files shipped with the build.

Android and iOS start ``main.py`` with no command line, and there is no embedded stub on a
phone (``server_stub`` is not packaged). ``python -m demo_app.bundle`` (on a computer) writes
the folder buildozer packages: ``main.py`` (which calls :func:`run`), copies of ``sdk/`` and
``demo_app/``, and ``device/`` beside them with:

- ``server.toml``: ``server = "https://HOST:PORT"``, ``ca = "ca.pem"``,
  ``hpke_pins = "hpke-pins.txt"`` and, when a font was bundled, ``font = "<file>"`` (names of
  files in ``device/``);
- those files: the CA bundle (PEM) that signs the server's certificate, the server's HPKE key
  fingerprints (one ``sha256:<64 hex>`` a line) and the optional CJK font.

:func:`run` checks them and starts the demo (:func:`demo_app.main.main`) with ``--server``,
``--ca``, ``--hpke-pins`` and ``--font``. The data dir is the platform's (``--data-dir`` may
be given on a desktop). ``server_stub`` is never imported on this path.

The checks are shared with ``demo_app.bundle``, which runs them on the arguments before it
writes anything.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "CONFIG_NAME",
    "DEVICE_DIR",
    "DeviceConfig",
    "DeviceConfigError",
    "check_ca",
    "check_font",
    "check_pins",
    "check_server_url",
    "load_config",
    "run",
]

#: The folder beside ``main.py`` that holds the server settings, and the settings file in it.
DEVICE_DIR = "device"
CONFIG_NAME = "server.toml"
#: Options :func:`run` sets from ``device/``; a command line may not repeat them.
_SET_HERE = ("--server", "--ca", "--hpke-pins", "--font")
_PIN = re.compile(r"sha256:[0-9a-f]{64}")
_RESTAGE = ("stage the app again with 'python -m demo_app.bundle --server https://HOST:PORT "
            "--ca CA.pem --hpke-pins PINS.txt' and rebuild it")


class DeviceConfigError(Exception):
    """A server setting is missing or wrong; the message (one line) says which and how to fix
    it."""


@dataclass(frozen=True)
class DeviceConfig:
    """The checked settings of ``device/``: the server's base URL and the paths of the CA
    bundle, the pins file and the font (``None`` when none was bundled)."""

    server: str
    ca: Path
    hpke_pins: Path
    font: Path | None = None

    def argv(self) -> list[str]:
        """The demo's command line for these settings (:func:`demo_app.main.main`)."""
        out = ["--server", self.server, "--ca", str(self.ca), "--hpke-pins", str(self.hpke_pins)]
        if self.font is not None:
            out += ["--font", str(self.font)]
        return out


# ------------------------------------------------------------------ checks (shared with bundle)


def check_server_url(url: str) -> str:
    """*url* if it is an ``https://`` base URL the SDK accepts (scheme, host, optional port;
    no path, user or password), without a trailing slash.

    Raises:
        DeviceConfigError: plain ``http://`` or another scheme, or a URL the SDK refuses.
    """
    from sdk import SdkConfig
    from sdk.errors import ConfigError

    if not isinstance(url, str) or not url.lower().startswith("https://"):
        raise DeviceConfigError(
            "the server URL must start with https:// (the app sends personal information only "
            "over HTTPS; plain http:// is refused); pass e.g. https://192.0.2.10:8443")
    try:
        SdkConfig(data_dir=Path("."), endpoint=url)  # checks only; writes nothing
    except ConfigError as exc:
        raise DeviceConfigError(str(exc)) from None
    return url.rstrip("/")


def check_ca(path: Path) -> int:
    """The number of certificates in the PEM file *path*, parsed with ``cryptography``.

    Raises:
        DeviceConfigError: the file is missing, unreadable or holds no valid PEM certificate.
    """
    from cryptography import x509

    hint = "pass the PEM file of the CA that signs the server's certificate (the stub's ca.pem)"
    if not path.is_file():
        raise DeviceConfigError(f"CA file {path} does not exist; {hint}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeviceConfigError(f"cannot read CA file {path} ({exc.strerror or exc}); {hint}") from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise DeviceConfigError(f"CA file {path} holds no valid PEM certificate; {hint}") from None
    return len(certificates)


def check_pins(path: Path) -> tuple[str, ...]:
    """The fingerprints in *path*: one ``sha256:<64 hex>`` a line (blank lines and ``#``
    comments skipped; upper-case hex is read as lower-case).

    Raises:
        DeviceConfigError: the file is missing, unreadable, empty, or a line is not a
            fingerprint (the message gives its number, never its text).
    """
    hint = "pass the server's hpke-pins.txt (one 'sha256:<64 hex>' fingerprint a line)"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeviceConfigError(f"pins file {path} does not exist; {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise DeviceConfigError(f"cannot read pins file {path} ({reason}); {hint}") from None
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not _PIN.fullmatch(line.lower()):
            raise DeviceConfigError(f"pins file {path} line {number} is not a fingerprint; {hint}")
        pins.append(line.lower())
    if not pins:
        raise DeviceConfigError(f"pins file {path} holds no fingerprint; {hint}")
    return tuple(pins)


def check_font(path: Path) -> None:
    """*path* is a font file Kivy can load, by its first bytes (``demo_app.main``'s check).

    Raises:
        DeviceConfigError: missing, not a file, unreadable or not a font.
    """
    from .main import UsageError, _check_font

    try:
        _check_font(path)
    except UsageError as exc:
        raise DeviceConfigError(str(exc)) from None


# ---------------------------------------------------------------------------- device/


def _file_in(folder: Path, config: dict, key: str, required: bool = True) -> Path | None:
    """The file named by *key* of server.toml: a plain name of a file in *folder*."""
    name = config.get(key)
    if name is None and not required:
        return None
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise DeviceConfigError(
            f"{folder / CONFIG_NAME}: '{key}' must name a file in {folder}; {_RESTAGE}")
    return folder / name


def load_config(folder: Path) -> DeviceConfig:
    """Read and check ``<folder>/server.toml`` and the files it names.

    Raises:
        DeviceConfigError: the file is missing or not valid TOML, a key is missing, unknown
            or wrong, or a file it names fails its check.
    """
    path = folder / CONFIG_NAME
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeviceConfigError(f"{path} is missing: this build has no server settings; "
                                f"{_RESTAGE}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise DeviceConfigError(f"cannot read {path} ({reason}); {_RESTAGE}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeviceConfigError(f"{path} is not valid TOML ({exc}); {_RESTAGE}") from None
    unknown = sorted(set(config) - {"server", "ca", "hpke_pins", "font"})
    if unknown:
        raise DeviceConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; {_RESTAGE}")
    if "server" not in config:
        raise DeviceConfigError(f"{path} has no 'server' (the server's https:// URL); {_RESTAGE}")
    ca = _file_in(folder, config, "ca")
    pins = _file_in(folder, config, "hpke_pins")
    font = _file_in(folder, config, "font", required=False)
    try:
        server = check_server_url(config["server"])
        check_ca(ca)
        check_pins(pins)
        if font is not None:
            check_font(font)
    except DeviceConfigError as exc:
        raise DeviceConfigError(f"{path}: {exc}; {_RESTAGE}") from None
    return DeviceConfig(server=server, ca=ca, hpke_pins=pins, font=font)


def run(argv: list[str] | None = None) -> int:
    """Start the demo app with the server settings in ``device/`` beside ``main.py``.

    Args:
        argv: more arguments for :func:`demo_app.main.main` (default ``sys.argv[1:]``; Android
            and iOS pass none), e.g. ``--data-dir``, ``--script`` and ``--report`` on a
            desktop. ``--server``, ``--ca``, ``--hpke-pins`` and ``--font`` come from
            ``device/`` and may not be given.

    Returns:
        the exit code: the app's, or 2 when the settings are missing or wrong (one line
        ``demo_app: <what is wrong and how to fix it>`` on stderr, no traceback).
    """
    from .main import EXIT_USAGE, main

    extra = list(sys.argv[1:] if argv is None else argv)
    for name in (a.split("=", 1)[0] for a in extra if a.startswith("--") and len(a) > 2):
        option = next((o for o in _SET_HERE if o.startswith(name)), None)  # argparse abbreviates
        if option:
            print(f"demo_app: {option} is set by {DEVICE_DIR}/{CONFIG_NAME} in this build; "
                  f"leave it out, or {_RESTAGE}", file=sys.stderr, flush=True)
            return EXIT_USAGE
    folder = Path(__file__).resolve().parent.parent / DEVICE_DIR
    try:
        config = load_config(folder)
    except DeviceConfigError as exc:
        print(f"demo_app: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    return main([*config.argv(), *extra])
