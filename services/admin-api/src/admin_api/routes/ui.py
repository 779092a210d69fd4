"""The web UI: one static page and its assets, served by the admin API itself (its security
headers come from :mod:`admin_api.headers`, like every other response's)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

UI_DIR = Path(__file__).resolve().parent.parent / "ui"

PAGE_HEADERS = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(UI_DIR / "index.html", headers=PAGE_HEADERS)
