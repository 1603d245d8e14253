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
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "CHINESE_SAMPLE",
    "CONFIG_NAME",
    "DEVICE_DIR",
    "MAX_CA_BYTES",
    "MAX_FONT_BYTES",
    "MAX_PINS_BYTES",
    "DeviceConfig",
    "DeviceConfigError",
    "check_ca",
    "check_font",
    "check_font_draws_chinese",
    "check_pins",
    "check_server_url",
    "load_config",
    "run",
]

#: The folder beside ``main.py`` that holds the server settings, and the settings file in it.
DEVICE_DIR = "device"
CONFIG_NAME = "server.toml"
#: Options :func:`run` sets from ``device/`` (option -> its ``argparse`` dest in
#: ``demo_app.main``); a command line may not give them.
_SET_HERE = {"--server": "server", "--ca": "ca", "--hpke-pins": "hpke_pins", "--font": "font"}
_PIN = re.compile(r"sha256:[0-9a-f]{64}")
#: The largest CA bundle and pins file accepted (a CA bundle is a few KiB, a pins file a few
#: lines), and the largest font (Noto Sans CJK's .ttc is about 20 MB), in bytes.
MAX_CA_BYTES = 1 << 20
MAX_PINS_BYTES = 1 << 20
MAX_FONT_BYTES = 64 << 20
#: Chinese characters of the demo's first screens: a font is bundled only if it draws every one
#: of them as a glyph of its own (:func:`check_font_draws_chinese`).
CHINESE_SAMPLE = "隐私政策个人信息同意"
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


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.3g} MiB"


def _regular_file(path: Path, what: str, limit: int, hint: str) -> int:
    """The size of *path* in bytes if it is a regular file of at most *limit* bytes (checked
    before it is opened: a pipe or a device is never read).

    Raises:
        DeviceConfigError: missing, not a regular file (a folder, device, pipe or socket),
            unreadable, or larger than *limit*; the message starts with *what* and ends with
            *hint*.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DeviceConfigError(f"{what} {path} does not exist; {hint}") from None
    except OSError as exc:
        raise DeviceConfigError(
            f"cannot read {what} {path} ({exc.strerror or exc}); {hint}") from None
    if stat.S_ISDIR(info.st_mode):
        raise DeviceConfigError(f"{what} {path} is not a file (it is a folder); {hint}")
    if not stat.S_ISREG(info.st_mode):
        raise DeviceConfigError(f"{what} {path} is not a file (it is a device, pipe or socket); "
                                f"{hint}")
    if info.st_size > limit:
        size = _mib(info.st_size)
        size = f"{info.st_size} bytes" if size == _mib(limit) else size
        raise DeviceConfigError(f"{what} {path} is larger than {_mib(limit)} ({size}); {hint}")
    return info.st_size


def _read_limited(path: Path, what: str, limit: int, hint: str) -> bytes:
    """The bytes of the regular file *path* (:func:`_regular_file`), at most *limit*.

    Raises:
        DeviceConfigError: as :func:`_regular_file`, or the file grew past *limit* while read.
    """
    _regular_file(path, what, limit, hint)
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise DeviceConfigError(
            f"cannot read {what} {path} ({exc.strerror or exc}); {hint}") from None
    if len(data) > limit:
        raise DeviceConfigError(f"{what} {path} is larger than {_mib(limit)}; {hint}")
    return data


def ca_certificates_pem(path: Path) -> bytes:
    """The certificates of the PEM file *path*, written anew as PEM: only the certificates,
    so that anything else in the file (a private key pasted in, comments, trailing bytes)
    never ships with the app.

    Raises:
        DeviceConfigError: as :func:`check_ca`.
    """
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(cert.public_bytes(Encoding.PEM) for cert in _load_ca(path))


def check_ca(path: Path) -> int:
    """The number of certificates in the PEM file *path*, parsed with ``cryptography``.

    Raises:
        DeviceConfigError: the file is missing, not a regular file, unreadable, larger than
            :data:`MAX_CA_BYTES` (1 MiB), or holds no valid PEM certificate.
    """
    return len(_load_ca(path))


def _load_ca(path: Path) -> list:
    from cryptography import x509

    hint = "pass the PEM file of the CA that signs the server's certificate (the stub's ca.pem)"
    data = _read_limited(path, "CA file", MAX_CA_BYTES, hint)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise DeviceConfigError(f"CA file {path} holds no valid PEM certificate; {hint}") from None


def check_pins(path: Path) -> tuple[str, ...]:
    """The fingerprints in *path*: one ``sha256:<64 hex>`` a line (blank lines and ``#``
    comments skipped; upper-case hex is read as lower-case).

    Raises:
        DeviceConfigError: the file is missing, not a regular file, unreadable, larger than
            :data:`MAX_PINS_BYTES` (1 MiB), not UTF-8, empty, or a line is not a fingerprint
            (the message gives its number, never its text).
    """
    hint = "pass the server's hpke-pins.txt (one 'sha256:<64 hex>' fingerprint a line)"
    data = _read_limited(path, "pins file", MAX_PINS_BYTES, hint)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DeviceConfigError(f"cannot read pins file {path} (not UTF-8 text); {hint}") from None
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


_FONT_HINT = "pass a TrueType/OpenType font file (.ttf, .otf or .ttc) that can draw Chinese"


def check_font(path: Path) -> None:
    """*path* is a font file Kivy can load, by its first bytes (``demo_app.main``'s check), of
    at most :data:`MAX_FONT_BYTES` (64 MiB). Cheap: Kivy is not imported (see
    :func:`check_font_draws_chinese` for the full check).

    Raises:
        DeviceConfigError: missing, not a regular file, too large, unreadable or not a font.
    """
    from .main import UsageError, _check_font

    _regular_file(path, "--font", MAX_FONT_BYTES, _FONT_HINT)
    try:
        _check_font(path)
    except UsageError as exc:
        raise DeviceConfigError(str(exc)) from None


def check_font_draws_chinese(path: Path) -> None:
    """*path* loads in Kivy's text renderer (``demo_app.main``'s start-up check) and draws
    every character of :data:`CHINESE_SAMPLE` as a glyph of its own, not as the font's
    "missing character" glyph (a font without Chinese draws them all alike: boxes).

    Imports Kivy and renders text off screen (no window, no GL): call it in a process where
    Kivy may be imported; ``python -m demo_app.bundle`` runs it in a child process.

    Raises:
        DeviceConfigError: the font cannot be loaded, or some of the characters are missing
            (the message names them).
    """
    from .main import UsageError, _check_font_loads

    try:
        _check_font_loads(path)
    except UsageError as exc:
        raise DeviceConfigError(str(exc)) from None
    from kivy.core.text import Label as CoreLabel

    def drawn(text: str) -> tuple[int, int, bytes]:
        # the text provider's own rendering steps (what Label.refresh does, without the
        # texture a window would hold)
        label = CoreLabel(text=text, font_size=40, font_name=str(path))
        label._size = label.render()
        label._render_begin()
        label._render_text(text, 0, 0)
        data = label._render_end()
        return data.width, data.height, bytes(data.data)

    try:
        missing_glyph = drawn("\uffff")  # a noncharacter: no font has a glyph for it
        missing = "".join(c for c in CHINESE_SAMPLE if drawn(c) == missing_glyph)
    except (ValueError, OSError, RuntimeError):
        raise DeviceConfigError(
            f"font {path} cannot be loaded: it is not a font file Kivy can read; "
            f"{_FONT_HINT}") from None
    if missing == CHINESE_SAMPLE:
        raise DeviceConfigError(
            f"font {path} has no Chinese characters (it draws {CHINESE_SAMPLE} as boxes); "
            "pass a font that can draw Chinese, e.g. Noto Sans CJK SC "
            "(NotoSansCJKsc-Regular.otf) or one that 'fc-list :lang=zh' lists")
    if missing:
        raise DeviceConfigError(
            f"font {path} lacks Chinese characters the app shows ({missing} are drawn as "
            "boxes); pass a font that covers Simplified Chinese, e.g. Noto Sans CJK SC "
            "(NotoSansCJKsc-Regular.otf)")


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
        the exit code: the app's; 0 after ``--help``; or 2 when the settings are missing or
        wrong, or *argv* gives one of the options ``device/`` sets (also abbreviated, as
        argparse reads it) or is not a valid command line of the demo (one line
        ``demo_app: <what is wrong and how to fix it>`` on stderr, no traceback).
    """
    from .main import EXIT_USAGE, build_parser, main

    extra = list(sys.argv[1:] if argv is None else argv)
    # Read *extra* with the demo's own parser, so an option is what argparse takes it for
    # (an abbreviation such as --serv is --server; an ambiguous one such as --f is its error).
    try:
        given = vars(build_parser().parse_args(extra))
    except SystemExit as exc:  # --help, or argparse's one-line error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    for option, dest in _SET_HERE.items():
        if given.get(dest) is not None:
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
