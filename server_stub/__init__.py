"""A small but real HTTPS stub of the app backend, speaking the SDK's wire protocol v1.

The protocol is documented in ``docs/protocol.md`` and served as OpenAPI at ``/openapi.json``.
Importing this package is cheap: FastAPI, uvicorn and ``cryptography`` load only when the
modules that need them are imported.

Entry points::

    python -m server_stub --data-dir D --port P        # serve in the foreground
    server_stub.runner.start_in_thread(Settings(...))   # serve in a daemon thread
    server_stub.testing.running_stub(tmp_path)          # context manager for tests
    server_stub.app.create_app(Settings(...))           # the ASGI app itself
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__: str = version("privacy-sdk")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+local"
