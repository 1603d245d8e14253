"""/openapi.json documents the whole API."""

from __future__ import annotations

import requests

from server_stub.runner import RunningServer


def test_openapi_lists_every_path(stub: RunningServer, client: requests.Session) -> None:
    doc = client.get(f"{stub.url}/openapi.json", timeout=10).json()
    assert doc["info"] == {**doc["info"], "title": "Privacy SDK stub server", "version": "1"}
    assert set(doc["paths"]) == {
        "/v1/health",
        "/v1/client-ip",
        "/v1/policy",
        "/v1/consent-records",
        "/v1/templates",
        "/v1/templates/{template_id}",
        "/v1/templates/{template_id}/download",
        "/v1/accounts",
        "/v1/sessions",
        "/v1/sessions/current",
        "/v1/me",
        "/v1/me/subjects/{subject_id}",
        "/v1/me/consent-records",
        "/v1/me/personal-information",
        "/v1/me/third-party-transfers",
        "/v1/keys/hpke",
        "/v1/uploads",
        "/v1/uploads/{upload_id}",
        "/v1/certificates",
        "/v1/certificates/{serial}",
        "/v1/signatures",
        "/v1/realname/verifications",
        "/v1/realname/verifications/{verification_id}",
        # issue #7: customer service, notification channel, invitations, notices
        "/v1/me/support-messages",
        "/v1/me/notification-preference",
        "/v1/me/invitations",
        "/v1/notices",
        "/v1/notices/{notice_id}/acknowledgements",
        # issue #7: identity check, rights requests, export, cancellation
        "/v1/me/identity-checks",
        "/v1/me/rights-requests",
        "/v1/me/rights-requests/{request_id}",
        "/v1/me/export",
        "/v1/me/cancellation",
        "/v1/me/cancellation/confirm",
    }
    assert set(doc["paths"]["/v1/consent-records"]) == {"get", "post"}
    assert set(doc["paths"]["/v1/me/subjects/{subject_id}"]) == {"put"}


def test_openapi_documents_the_consent_record_and_error_shapes(
    stub: RunningServer, client: requests.Session
) -> None:
    doc = client.get(f"{stub.url}/openapi.json", timeout=10).json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorBody"]["required"]) == {"error", "message"}
    post = doc["paths"]["/v1/consent-records"]["post"]
    body_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/ConsentRecord"
    assert schemas["ConsentRecord"]["oneOf"] == [
        {"$ref": "#/components/schemas/ConsentRecordV1"},
        {"$ref": "#/components/schemas/ConsentRecordV2"},
    ]
    assert "created_at" in schemas["ConsentRecordV1"]["required"]
    v2_required = set(schemas["ConsentRecordV2"]["required"])
    assert {"created_at", "scope", "consent_type", "pi_categories", "recipients", "retention",
            "withdrawal", "proof"} <= v2_required
    assert "guardian" not in v2_required  # required only for consent_type guardian
    key = next(p for p in post["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True
