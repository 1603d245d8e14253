"""Settings of one stub server: passed in explicitly, never read from the environment."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "default_policy_dir"]


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
        port: TCP port; 0 picks a free one.
    """

    data_dir: Path
    policy_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.policy_dir is not None:
            object.__setattr__(self, "policy_dir", Path(self.policy_dir))
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")

    @property
    def resolved_policy_dir(self) -> Path:
        """``policy_dir``, or the demo app's policy folder when it is ``None``."""
        return self.policy_dir if self.policy_dir is not None else default_policy_dir()
