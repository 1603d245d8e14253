"""``/v1/templates``: contract templates, for anyone (no account, no identifier; OBL-ACC-2).

These endpoints read nothing about the caller and log nothing: basic mode collects no
personal information.

A template id is one path segment. An id of the route that is not in the catalogue answers
404 ``template_not_found``; an id holding ``/`` (also sent as ``%2F``, which is decoded before
routing), e.g. ``../../etc/passwd``, makes a path no route matches and answers 404
``not_found`` like any unknown path (docs/protocol.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..content import TEMPLATE_MEDIA_TYPE, Template
from ..deps import TemplatesDep
from ..errors import ApiError
from ..models import TemplateDetail, TemplateList, TemplateSummary
from ..responses import error_doc

router = APIRouter(tags=["templates"])

_NOT_FOUND = error_doc(
    404,
    "template_not_found: no template with this id (an id holding '/' is another path: "
    "not_found)",
)


def _lookup(templates: TemplatesDep, template_id: str) -> Template:
    # Only ids of the fixed catalogue resolve; nothing taken from the URL reaches the filesystem.
    template = templates.get(template_id)
    if template is None:
        raise ApiError(
            404, "template_not_found", "no template has this id; GET /v1/templates lists them"
        )
    return template


@router.get("/templates", response_model=TemplateList, summary="List the contract templates")
def list_templates(templates: TemplatesDep) -> TemplateList:
    """``{"templates": [{"id", "title", "summary", "size" (bytes), "media_type"}]}``."""
    return TemplateList(
        templates=[
            TemplateSummary(
                id=t.id, title=t.title, summary=t.summary, size=len(t.data), media_type=TEMPLATE_MEDIA_TYPE
            )
            for t in templates.values()
        ]
    )


@router.get(
    "/templates/{template_id}",
    response_model=TemplateDetail,
    responses=_NOT_FOUND,
    summary="One contract template",
)
def get_template(template_id: str, templates: TemplatesDep) -> TemplateDetail:
    """``{"id", "title", "summary", "body" (Markdown), "media_type"}``; 404 ``template_not_found``."""
    t = _lookup(templates, template_id)
    return TemplateDetail(id=t.id, title=t.title, summary=t.summary, body=t.body, media_type=TEMPLATE_MEDIA_TYPE)


@router.get(
    "/templates/{template_id}/download",
    response_class=Response,
    responses={
        200: {"content": {TEMPLATE_MEDIA_TYPE: {}}, "description": "the Markdown file"},
        **_NOT_FOUND,
    },
    summary="Download a contract template as a file",
)
def download_template(template_id: str, templates: TemplatesDep) -> Response:
    """The Markdown file with ``Content-Disposition: attachment; filename="<id>.md"``."""
    t = _lookup(templates, template_id)
    return Response(
        content=t.data,
        media_type=f"{TEMPLATE_MEDIA_TYPE}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{t.id}.md"',
            "X-Content-Type-Options": "nosniff",
        },
    )
