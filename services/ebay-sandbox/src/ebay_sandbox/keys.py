"""Key Management API (apiz host): createSigningKey, getSigningKey, getSigningKeys."""

import json

from fastapi import APIRouter, Request, Response

from ebay_sandbox.errors import EbayApiError, error_entry
from ebay_sandbox.gateway import app_grant
from ebay_sandbox.paging import dumps
from ebay_sandbox.state import SandboxDep

router = APIRouter(prefix="/developer/key_management/v1")
DOMAIN = "API_KEYS"
CIPHERS = frozenset({"ED25519", "RSA"})


def _error(status: int, error_id: int, message: str) -> EbayApiError:
    return EbayApiError(status, [error_entry(error_id, DOMAIN, "REQUEST", message, message)])


def _json(body: object, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


@router.post("/signing_key")
async def create_signing_key(request: Request, sandbox: SandboxDep) -> Response:
    """A new key pair; the response is the only time the private key is shown."""
    request.state.endpoint = "POST createSigningKey"
    app_grant(sandbox, request)
    try:
        payload = json.loads(await request.body() or b"null")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise _error(
            400, 210006, "You must request for new signing key with valid request payload."
        )
    cipher = payload.get("signingKeyCipher")
    if cipher not in CIPHERS:
        raise _error(
            400,
            210001,
            "You must supply a valid signing key cipher. Allowed values are ED25519 and RSA.",
        )
    key = sandbox.keys.create(cipher, sandbox.clock.now_ms() // 1000)
    return _json(key.as_json(with_private_key=True))


@router.get("/signing_key")
async def get_signing_keys(request: Request, sandbox: SandboxDep) -> Response:
    """Every key pair of the application (without private keys)."""
    request.state.endpoint = "GET getSigningKeys"
    app_grant(sandbox, request)
    keys = [k.as_json(with_private_key=False) for k in sandbox.keys.all()]
    return _json({"signingKeys": keys})


@router.get("/signing_key/{signing_key_id}")
async def get_signing_key(signing_key_id: str, request: Request, sandbox: SandboxDep) -> Response:
    """One key pair; 404 (210002) when unknown."""
    request.state.endpoint = "GET getSigningKey"
    app_grant(sandbox, request)
    key = sandbox.keys.get(signing_key_id)
    if key is None:
        raise _error(404, 210002, f"The signing key with id {signing_key_id} was not found.")
    return _json(key.as_json(with_private_key=False))
