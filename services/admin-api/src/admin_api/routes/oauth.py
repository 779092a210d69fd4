"""eBay's redirect after consent. Public: the signed, single-use state authenticates it."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import HTMLResponse, RedirectResponse

from admin_api import connect
from admin_api.dependencies import ContextDep, NowDep, SessionDep

router = APIRouter(prefix="/api/oauth", tags=["accounts"])


@router.get(
    "/callback",
    response_class=HTMLResponse,
    response_model=None,
    status_code=status.HTTP_303_SEE_OTHER,
    responses={
        303: {"description": "Connected: on to the account's page"},
        400: {"description": "Bad, used or expired state, or consent declined"},
        409: {"description": "The eBay user does not fit the account"},
    },
)
async def oauth_callback(
    session: SessionDep,
    now: NowDep,
    context: ContextDep,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> HTMLResponse | RedirectResponse:
    if error is not None:
        return _page(400, f"eBay did not grant access: {error_description or error}")
    if not code or not state:
        return _page(400, "the callback needs code and state")
    try:
        account = await connect.finish(context, session, code, state, now)
    except connect.ConnectError as exc:
        return _page(exc.status_code, exc.detail)
    return RedirectResponse(f"/#/accounts/{account.id}?connected=1", status.HTTP_303_SEE_OTHER)


def _page(status_code: int, message: str) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Connect failed</title>"
        "<link rel='stylesheet' href='/ui/style.css'></head><body><main class='narrow'>"
        f"<h1>Connecting the account failed</h1><p class='error'>{html.escape(message)}</p>"
        "<p><a href='/#/accounts'>Back to accounts</a></p></main></body></html>"
    )
    return HTMLResponse(body, status_code=status_code)
