"""Walk the sandbox's consent page as a seller would: for seeding and tests, never production."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx


class ConsentError(RuntimeError):
    pass


async def approve_consent(
    http: httpx.AsyncClient,
    *,
    username: str,
    client_id: str,
    ru_name: str,
    scopes: str,
    grant_scopes: str | None = None,
) -> str:
    """Approve the consent for ``username`` (only ``grant_scopes`` of ``scopes`` when given)
    and return the authorization code."""
    state = secrets.token_urlsafe(8)
    params = {
        "client_id": client_id,
        "redirect_uri": ru_name,
        "response_type": "code",
        "scope": scopes,
        "state": state,
        "seller": username,
    }
    if grant_scopes is not None:
        params["grant_scope"] = grant_scopes
    response = await http.get("/oauth2/authorize", params=params)
    if response.status_code != 302:
        raise ConsentError(f"consent for {username} answered HTTP {response.status_code}")
    query = parse_qs(urlsplit(response.headers["location"]).query)
    if query.get("state") != [state]:
        raise ConsentError("consent redirect lost the state")
    return query["code"][0]
