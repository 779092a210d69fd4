"""API documents: the OpenAPI browser at /docs and the message contracts as AsyncAPI.

/docs is Swagger UI (5.x, which reads FastAPI's OpenAPI 3.1) from the assets of the pinned
``fastapi-swagger`` package, served from this origin (``/docs/assets``), so the page the bearer
token lives beside loads no third-party script. Only its files are used: its own page has an
inline script, which our CSP refuses.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["docs"])

SWAGGER_UI_DIR = Path(str(files("fastapi_swagger").joinpath("resources")))
# Generated from the services' routers by scripts/gen_asyncapi.py; a test keeps it current.
ASYNCAPI = files("common").joinpath("asyncapi.yaml")

DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>ebaysync admin API</title>
<link rel="icon" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/ui/docs.js"></script></body></html>
"""


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def swagger_ui() -> HTMLResponse:
    return HTMLResponse(DOCS_PAGE)


@router.get("/asyncapi.yaml", response_class=Response)
async def asyncapi() -> Response:
    """Every NATS message of ebaysync (AsyncAPI 3.0)."""
    return Response(ASYNCAPI.read_bytes(), media_type="application/yaml")
