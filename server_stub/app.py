"""The ASGI app of the stub: :func:`create_app`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from .accounts import AccountService
from .content import load_templates
from .deps import MAX_IDEMPOTENCY_KEY_LENGTH
from .errors import install_error_handlers
from .faults import FaultPlan, install_fault_injection
from .hpke import ensure_hpke_keys
from .models import ConsentRecord
from .realname_store import for_app as realname_for_app
from .routes import api_router
from .routes import keys as keys_routes
from .routes import uploads as uploads_routes
from .routes.certificates import router as certificates_router
from .routes.realname import router as realname_router
from .settings import Settings
from .store import Store
from .uploads import UploadStore

__all__ = ["create_app", "API_TITLE", "API_VERSION"]

API_TITLE = "Privacy SDK stub server"
API_VERSION = "1"
_DESCRIPTION = (
    "Stub of an app backend speaking the Privacy SDK wire protocol v1 (docs/protocol.md). "
    "Every error answers {\"error\": code, \"message\": text}. Every POST needs an "
    "Idempotency-Key header."
)
_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}


def create_app(settings: Settings) -> FastAPI:
    """Build the app for ``settings``: opens (or creates) ``<data_dir>/stub.db``.

    TLS is not configured here; :func:`server_stub.runner.start_in_thread` serves the app
    over HTTPS with the dev CA's certificate.

    Raises:
        OSError: ``settings.data_dir`` cannot be created.
        sqlite3.Error: the database cannot be opened.
        RuntimeError: no ``policy_dir`` given and the demo app is not installed.
        server_stub.hpke.HpkeKeyError: ``hpke-keys.json`` exists but is unusable.
    """
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description=_DESCRIPTION,
        docs_url=None,  # the Swagger/ReDoc pages load scripts from a CDN; /openapi.json stays
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = Store(settings.data_dir, clock=settings.clock)
    app.state.store.purge_idempotency()  # stored answers past the 24 h replay window go
    app.state.accounts = AccountService(settings, app.state.store)
    app.state.templates = load_templates()
    app.state.policy_dir = settings.resolved_policy_dir
    app.state.hpke = ensure_hpke_keys(settings.data_dir, settings.hpke_kem)  # issue 6: E2E keys
    app.state.uploads = UploadStore(  # issue 6: resumable sealed uploads
        settings.data_dir, clock=settings.clock, policy_dir=app.state.policy_dir,
        # a complete upload no verification uses is deleted 24 h after it completed
        used_uploads=lambda: realname_for_app(app).all_used_upload_ids())
    app.state.uploads.purge()  # expired uploads go on start (and on requests: maybe_purge)
    purge_kept_evidence(app)  # signing evidence and evidence-report fields past keep-until
    app.state.upload_busy = {}  # upload id -> stop signal of the PATCH writing to it
    install_error_handlers(app)
    _add_data_region_header(app, settings.data_region)  # issue #7, OBL-RES-1
    # issue #8: QA's fault plan; outermost (after the Data-Region wrapper) to reach the connection
    app.state.faults = FaultPlan(settings.faults, settings.fault_seed)
    install_fault_injection(app, app.state.faults, settings.data_region)
    app.include_router(api_router)
    app.include_router(keys_routes.router, prefix="/v1")  # GET /v1/keys/hpke
    app.include_router(keys_routes.dev_router, prefix="/v1")  # 404 unless Settings.dev_mode
    app.include_router(uploads_routes.router, prefix="/v1")  # tus 1.0.0 /v1/uploads
    app.include_router(uploads_routes.dev_router, prefix="/v1")  # 404 unless Settings.dev_mode
    app.include_router(certificates_router, prefix="/v1")  # issue #6 part D: certificates, signing
    app.include_router(realname_router, prefix="/v1")  # issue #6 part E: real-name verification

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def purge_kept_evidence(app: FastAPI) -> int:
    """Delete what was kept only as evidence once its keep-until date passed (issue #7):
    signing records and their certificates kept after a deletion or a cancellation (five
    years, Electronic Signature Law), and the fields of evidence-report requests (P5Y).
    Runs when the stub starts. Returns how many rows were purged."""
    import datetime as _dt

    from .rights_store import for_app as rights_for_app

    now = _dt.datetime.fromtimestamp(app.state.settings.clock(), _dt.timezone.utc)
    return (realname_for_app(app).purge_kept(now)
            + rights_for_app(app).purge_expired_evidence())


def _build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, adjusted to what the server really does.

    - ``ConsentRecord`` (the POST body, validated by hand so the Idempotency-Key is checked
      first) is added to the components: one of ``ConsentRecordV1``, ``ConsentRecordV2``.
    - 422 answers use ``ErrorBody``, not FastAPI's ``HTTPValidationError``.
    - ``Idempotency-Key`` is shown as required (it is checked by hand to answer 400, not 422).
    """
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    record = TypeAdapter(ConsentRecord).json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in record.pop("$defs", {}).items():
        components.setdefault(name, sub)
    record.pop("anyOf", None)
    components["ConsentRecord"] = {
        "oneOf": [
            {"$ref": "#/components/schemas/ConsentRecordV1"},
            {"$ref": "#/components/schemas/ConsentRecordV2"},
        ],
        "description": "schema_version 1 or 2 (docs/protocol.md, \"Consent record\")",
    }
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            for param in operation.get("parameters", []):
                if method == "post" and param.get("name") == "Idempotency-Key":
                    param["required"] = True
                    param["schema"] = {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH}
            answer = operation.get("responses", {}).get("422")
            if answer is not None and not _declares_own_422(answer):
                answer["content"] = {"application/json": {"schema": _ERROR_SCHEMA}}
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema


def _declares_own_422(answer: dict[str, Any]) -> bool:
    """True when a route declared its own 422 body model (e.g. ``WeakPasswordBody``)."""
    ref = answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
    return bool(ref) and not ref.endswith("/HTTPValidationError")


def _add_data_region_header(app: FastAPI, region: str) -> None:
    """Put ``Data-Region: <region>`` on every answer of ``app`` (OBL-RES-1), errors included.

    Wraps the whole middleware stack (outside Starlette's ``ServerErrorMiddleware``), so a
    500 answer carries the header too; plain ASGI, so streamed answers stay streamed."""
    header = (b"data-region", region.encode("ascii"))
    build = app.build_middleware_stack

    def build_with_region() -> Any:
        inner = build()

        async def with_region(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await inner(scope, receive, send)
                return

            async def send_with_region(message: Any) -> None:
                if message["type"] == "http.response.start":
                    headers = [h for h in message.get("headers", []) if h[0].lower() != header[0]]
                    message = {**message, "headers": [*headers, header]}
                await send(message)

            await inner(scope, receive, send_with_region)

        return with_region

    app.build_middleware_stack = build_with_region  # type: ignore[method-assign]
