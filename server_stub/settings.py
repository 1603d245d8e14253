"""Settings of one stub server: passed in explicitly, never read from the environment."""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DATA_REGION_PATTERN", "Settings", "default_policy_dir"]

#: What ``Settings.data_region`` may be (it is sent as the ``Data-Region`` header).
DATA_REGION_PATTERN = re.compile(r"^[A-Z][A-Z0-9-]{1,15}$")


def default_policy_dir() -> Path:
    """The demo app's bundled policy folder, ``<demo_app package>/policy``.

    Located without importing ``demo_app`` (which may import Kivy). The folder may not exist
    or may be incomplete; ``GET /v1/policy`` then answers 503 ``policy_unavailable``.

    Raises:
        RuntimeError: when the ``demo_app`` package is not installed.
    """
    spec = importlib.util.find_spec("demo_app")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the demo_app package is not installed, so there is no default policy folder; "
            "pass Settings(policy_dir=...) or --policy-dir"
        )
    return Path(spec.origin).parent / "policy"


@dataclass(frozen=True)
class Settings:
    """Settings for one stub server.

    Attributes:
        data_dir: folder for the server's files: ``stub.db`` (SQLite), ``ca.pem``/``ca-key.pem``
            (dev CA), ``server.pem``/``server-key.pem`` (TLS). Created (mode 0700) if missing.
        policy_dir: folder holding ``policy.md`` and ``manifest.toml`` served by
            ``GET /v1/policy``; ``None`` means the demo app's bundled policy.
        host: address to listen on; loopback by default.
        cert_names: more names of the server's TLS certificate besides ``localhost``,
            ``127.0.0.1`` and ``::1``: IP addresses or DNS names (``--cert-name``), e.g. the
            computer's address on the local network for a phone that connects over Wi-Fi
            (with ``host="0.0.0.0"``). A certificate naming other names is made anew at start.
        port: TCP port; 0 picks a free one.
        login_max_failures_per_account: failed logins per identifier within
            ``login_window_seconds`` before ``POST /v1/sessions`` answers 429 (known and
            unknown identifiers alike, so the 429 reveals nothing).
        login_max_failures_per_address: failed logins (and registrations refused as
            ``account_exists``) per client address within the window before 429; higher than
            the per-account limit because many users can share one address (NAT).
        login_window_seconds: the sliding window of the two limits above.
        session_ttl_seconds: server-side lifetime of a session without "remember me".
        remember_me_seconds: lifetime (and cookie ``Max-Age``) of a "remember me" session.
        clock: current time in seconds since the epoch (injectable for tests).
        dev_mode: serve the development-only endpoints (``/v1/dev/cookies/...``, see
            :mod:`server_stub.routes.dev_cookies`); off by default, ``--dev`` on the command line.
        hpke_kem: KEM of the HPKE key made on first start (and by a rotation through the dev
            endpoint): ``"MLKEM768-X25519"`` (default) or ``"X25519"``; see
            :mod:`server_stub.hpke`. An existing key ring in ``data_dir`` is kept.
        upload_max_bytes: the largest ``Upload-Length`` (sealed bytes) a resumable upload may
            declare (``Tus-Max-Size``); 2 GiB by default.
        realname_outcome: what the verification agency's stand-in answers to real-name
            verifications (issue 6; :mod:`server_stub.realname_agency`): ``"pass"``,
            ``"fail:<reason>"`` (e.g. ``"fail:face_mismatch"``), ``"manual_review"`` or
            ``"timeout"`` (it never answers); ``--realname-outcome`` on the command line, and
            changeable at run time through ``PUT /v1/dev/realname/agency`` (dev mode).
        realname_agency_delay_seconds: seconds until the stand-in answers (0 or more).
        realname_agency_deadline_seconds: seconds after which a verification the agency has
            not answered is ``timed_out`` (more than 0).
        data_region: where the server stores personal information (OBL-RES-1): every answer
            carries the header ``Data-Region: <data_region>``; the SDK refuses to send a body
            to an endpoint whose region differs from ``SdkConfig.region``. An ISO 3166-1
            alpha-2 code such as ``"CN"`` (default), or an upper-case label of 2 to 16
            letters, digits and ``-`` starting with a letter; ``--data-region`` on the
            command line.
        faults: fault rules in force from the start (issue #8, QA; the mini-syntax of
            :mod:`server_stub.faults`, e.g. ``"POST /v1/consent-records status=503 times=2"``);
            ``--fault`` on the command line; changeable at run time through
            ``GET/PUT/DELETE /v1/dev/faults`` (dev mode).
        fault_seed: seed of the RNG that draws the rules' ``probability``; ``None`` picks one
            (``GET /v1/dev/faults`` shows it); ``--fault-seed`` on the command line.
    """

    data_dir: Path
    policy_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    cert_names: tuple[str, ...] = ()
    # -- accounts (docs/protocol.md, "Accounts") --
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
    login_window_seconds: int = 15 * 60
    session_ttl_seconds: int = 12 * 3600
    remember_me_seconds: int = 30 * 24 * 3600
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)
    dev_mode: bool = False
    hpke_kem: str = "MLKEM768-X25519"
    upload_max_bytes: int = 2 * 1024**3
    # -- real-name verification (issue 6 part E; docs/realname.md "Verification flow") --
    realname_outcome: str = "pass"
    realname_agency_delay_seconds: float = 0.5
    realname_agency_deadline_seconds: float = 30.0
    # -- data region (issue #7, OBL-RES-1) --
    data_region: str = "CN"
    # -- fault injection (issue #8, QA) --
    faults: tuple[str, ...] = ()
    fault_seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.policy_dir is not None:
            object.__setattr__(self, "policy_dir", Path(self.policy_dir))
        object.__setattr__(self, "cert_names", tuple(self.cert_names))
        from .ca import parse_cert_name

        for name in self.cert_names:
            parse_cert_name(name)  # ValueError with the name and what is accepted
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
        for name in (
            "login_max_failures_per_account",
            "login_max_failures_per_address",
            "login_window_seconds",
            "session_ttl_seconds",
            "remember_me_seconds",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more, got {getattr(self, name)}")
        if self.hpke_kem not in ("MLKEM768-X25519", "X25519"):
            raise ValueError(f"hpke_kem must be 'MLKEM768-X25519' or 'X25519', got {self.hpke_kem!r}")
        if self.upload_max_bytes < 1:
            raise ValueError(f"upload_max_bytes must be 1 or more, got {self.upload_max_bytes}")
        # one parser of the outcome for the settings, the command line and the dev endpoint
        from .realname_agency import parse_outcome

        parse_outcome(self.realname_outcome)
        if not 0 <= self.realname_agency_delay_seconds < float("inf"):
            raise ValueError("realname_agency_delay_seconds must be 0 or more")
        if not 0 < self.realname_agency_deadline_seconds < float("inf"):
            raise ValueError("realname_agency_deadline_seconds must be more than 0")
        if not isinstance(self.data_region, str) or not DATA_REGION_PATTERN.match(self.data_region):
            raise ValueError(
                "data_region must be an upper-case region code such as CN (2 to 16 letters, "
                "digits or '-', starting with a letter)")

        faults = (self.faults,) if isinstance(self.faults, str) else tuple(self.faults)
        object.__setattr__(self, "faults", faults)  # one rule given as a text is one rule
        from .faults import MAX_SEED, SEED_RANGE, parse_rules

        parse_rules(self.faults)  # FaultRuleError is a ValueError
        if self.fault_seed is not None and (isinstance(self.fault_seed, bool)
                                            or not isinstance(self.fault_seed, int)):
            raise ValueError("fault_seed must be an integer or None")
        if self.fault_seed is not None and not 0 <= self.fault_seed <= MAX_SEED:
            raise ValueError(f"fault_seed must be {SEED_RANGE}")

    @property
    def resolved_policy_dir(self) -> Path:
        """``policy_dir``, or the demo app's policy folder when it is ``None``."""
        return self.policy_dir if self.policy_dir is not None else default_policy_dir()
