"""The message contracts as AsyncAPI, beside the OpenAPI document at /openapi.json."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Response

router = APIRouter(tags=["docs"])

# Generated from the services' routers by scripts/gen_asyncapi.py; a test keeps it current.
ASYNCAPI = files("common").joinpath("asyncapi.yaml")


@router.get("/asyncapi.yaml", response_class=Response)
async def asyncapi() -> Response:
    """Every NATS message of ebaysync (AsyncAPI 3.0)."""
    return Response(ASYNCAPI.read_bytes(), media_type="application/yaml")
