"""OAuth 2.0: consent page, token endpoint, and a sandbox-only revoke."""

import base64
import binascii
import html
import secrets
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel

from ebay_sandbox.calls import SCOPE_ROOT
from ebay_sandbox.errors import (
    INVALID_CLIENT,
    INVALID_GRANT,
    INVALID_REQUEST,
    INVALID_SCOPE,
    UNSUPPORTED_GRANT,
    OAuthError,
)
from ebay_sandbox.notifications.deliveries import authorization_revoked
from ebay_sandbox.settings import SandboxConfig
from ebay_sandbox.state import Sandbox, SandboxDep
from ebay_sandbox.tokens import ACCESS_TTL_S, CODE_TTL_S, REFRESH_TTL_S

router = APIRouter()
TOKEN_TYPE = "User Access Token"
APP_TOKEN_TYPE = "Application Access Token"


def _parse_scopes(raw: str | None) -> frozenset[str]:
    scopes = frozenset((raw or "").split())
    if not scopes or any(not s.startswith(SCOPE_ROOT) for s in scopes):
        raise OAuthError(400, "invalid_scope", INVALID_SCOPE)
    return scopes


def _consent_page(sandbox: Sandbox, request: Request) -> HTMLResponse:
    items = []
    for seller in sandbox.sellers:
        query = urlencode([*request.query_params.multi_items(), ("seller", seller.username)])
        label = f"{seller.username} ({seller.marketplace_id})"
        items.append(f'<li><a href="?{html.escape(query)}">{html.escape(label)}</a></li>')
    body = (
        "<!doctype html><html><head><title>eBay sandbox consent</title></head><body>"
        "<h1>Grant application access</h1><p>Sign in as:</p><ul>"
        + "".join(items)
        + "</ul></body></html>"
    )
    return HTMLResponse(body)


@router.get("/oauth2/authorize", response_model=None)
async def authorize(
    request: Request,
    sandbox: SandboxDep,
    client_id: str | None = None,
    redirect_uri: str | None = None,
    response_type: str | None = None,
    scope: str | None = None,
    state: str | None = None,
    prompt: str | None = None,
    seller: str | None = None,
    grant_scope: str | None = None,
) -> HTMLResponse | RedirectResponse:
    """eBay consent page; the ``seller`` extension parameter approves immediately, and the
    ``grant_scope`` extension (a subset of ``scope``) approves only those scopes, as a seller
    or an eBay policy narrowing the grant would."""
    config = sandbox.config
    if client_id != config.client_id:
        raise OAuthError(400, "invalid_client", INVALID_CLIENT)
    if redirect_uri != config.ru_name:
        raise OAuthError(400, "invalid_request", "redirect_uri must be the application's RuName")
    if response_type != "code":
        raise OAuthError(400, "unsupported_response_type", "response_type must be code")
    scopes = _parse_scopes(scope)
    if seller is None:
        return _consent_page(sandbox, request)
    account = sandbox.seller(seller)
    if account is None:
        raise OAuthError(400, "invalid_request", f"unknown sandbox seller {seller!r}")
    granted = scopes
    if grant_scope is not None:
        granted = _parse_scopes(grant_scope)
        if not granted <= scopes:
            raise OAuthError(400, "invalid_scope", INVALID_SCOPE)
    code = sandbox.tokens.issue_code(
        account, granted, sandbox.clock.now_ms(), narrowed=granted != scopes
    )
    params = [("state", state)] if state is not None else []
    params += [("code", code), ("expires_in", str(CODE_TTL_S))]
    separator = "&" if "?" in config.accept_url else "?"
    return RedirectResponse(config.accept_url + separator + urlencode(params), status_code=302)


def _check_client(config: SandboxConfig, authorization: str | None) -> None:
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    client_id, _, secret = decoded.partition(":")
    ok = (
        scheme.lower() == "basic"
        and secrets.compare_digest(client_id.encode(), config.client_id.encode())
        and secrets.compare_digest(
            secret.encode(), config.client_secret.get_secret_value().encode()
        )
    )
    if not ok:
        raise OAuthError(401, "invalid_client", INVALID_CLIENT)


def _token_response(body: dict[str, object]) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _code_grant(sandbox: Sandbox, form: dict[str, str], now_ms: int) -> JSONResponse:
    code, redirect_uri = form.get("code"), form.get("redirect_uri")
    if not code or not redirect_uri:
        raise OAuthError(400, "invalid_request", INVALID_REQUEST)
    if redirect_uri != sandbox.config.ru_name:
        raise OAuthError(400, "invalid_grant", INVALID_GRANT)
    grant = sandbox.tokens.redeem_code(code, now_ms)
    if grant is None:
        raise OAuthError(400, "invalid_grant", INVALID_GRANT)
    assert grant.seller is not None  # codes are only issued to sellers
    refresh = sandbox.tokens.issue_refresh(grant.seller, grant.scopes, now_ms)
    access = sandbox.tokens.issue_access(grant.seller, grant.scopes, now_ms, refresh)
    body: dict[str, object] = {
        "access_token": access,
        "expires_in": ACCESS_TTL_S,
        "refresh_token": refresh,
        "refresh_token_expires_in": REFRESH_TTL_S,
        "token_type": TOKEN_TYPE,
    }
    if grant.narrowed:
        # RFC 6749 §5.1: the scope field is required when the grant differs from the request.
        body["scope"] = " ".join(sorted(grant.scopes))
    return _token_response(body)


def _refresh_grant(sandbox: Sandbox, form: dict[str, str], now_ms: int) -> JSONResponse:
    token = form.get("refresh_token")
    if not token:
        raise OAuthError(400, "invalid_request", INVALID_REQUEST)
    grant = sandbox.tokens.refresh_grant(token, now_ms)
    if grant is None:
        raise OAuthError(400, "invalid_grant", INVALID_GRANT)
    scopes = grant.scopes
    if form.get("scope"):
        scopes = _parse_scopes(form["scope"])
        if not scopes <= grant.scopes:
            raise OAuthError(400, "invalid_scope", INVALID_SCOPE)
    assert grant.seller is not None
    access = sandbox.tokens.issue_access(grant.seller, scopes, now_ms, token)
    # eBay does not rotate refresh tokens: the refresh grant returns no refresh_token.
    return _token_response(
        {"access_token": access, "expires_in": ACCESS_TTL_S, "token_type": TOKEN_TYPE}
    )


def _client_credentials_grant(sandbox: Sandbox, form: dict[str, str], now_ms: int) -> JSONResponse:
    # Application tokens carry only the application scope (enough for Key Management).
    scopes = _parse_scopes(form.get("scope"))
    if scopes != {SCOPE_ROOT}:
        raise OAuthError(400, "invalid_scope", INVALID_SCOPE)
    access = sandbox.tokens.issue_app(scopes, now_ms)
    return _token_response(
        {"access_token": access, "expires_in": ACCESS_TTL_S, "token_type": APP_TOKEN_TYPE}
    )


@router.post("/identity/v1/oauth2/token")
async def token(
    request: Request,
    sandbox: SandboxDep,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Token endpoint: ``authorization_code``, ``refresh_token`` and ``client_credentials``."""
    _check_client(sandbox.config, authorization)
    form = dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))
    now_ms = sandbox.clock.now_ms()
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        return _code_grant(sandbox, form, now_ms)
    if grant_type == "refresh_token":
        return _refresh_grant(sandbox, form, now_ms)
    if grant_type == "client_credentials":
        return _client_credentials_grant(sandbox, form, now_ms)
    raise OAuthError(400, "unsupported_grant_type", UNSUPPORTED_GRANT)


class RevokeRequest(BaseModel):
    """Body of ``POST /sandbox/tokens/revoke``."""

    token: str


@router.post("/sandbox/tokens/revoke")
async def revoke(body: RevokeRequest, sandbox: SandboxDep) -> dict[str, bool]:
    """Revoke an access or refresh token (a refresh token takes its access tokens with it).
    Revoking a refresh token is the seller withdrawing consent: AUTHORIZATION_REVOCATION and
    Trading TokenRevocation go out."""
    seller = sandbox.tokens.refresh_seller(body.token)
    if not sandbox.tokens.revoke(body.token):
        raise HTTPException(404, "unknown token")
    if seller is not None:
        sandbox.push.emit(authorization_revoked(seller, sandbox.clock.now_ms()))
    return {"revoked": True}
