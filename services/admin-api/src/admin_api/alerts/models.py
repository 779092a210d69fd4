"""The notification API's request and response bodies: secrets go in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from admin_api.alerts.channels import TlsMode
from admin_api.alerts.rules import RuleKind, RuleParams
from admin_api.dependencies import MAX_ID
from admin_api.schemas import Body, Schema, Text

Name = Annotated[Text, Field(min_length=1, max_length=100)]
# A secret field: omitted keeps the stored one, "" removes it.
SecretIn = Annotated[SecretStr | None, Field(default=None, max_length=500)]


class EmailIn(Body):
    kind: Literal["email"]
    host: Annotated[Text, Field(min_length=1, max_length=255)]
    port: int = Field(default=587, ge=1, le=65535)
    tls_mode: TlsMode = "starttls"
    username: Annotated[Text, Field(max_length=255)] | None = None
    password: SecretIn = None
    from_address: Annotated[Text, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=255)]


class WebhookIn(Body):
    kind: Literal["webhook"]
    url: Annotated[Text, Field(pattern=r"^https?://\S+$", max_length=2000)]
    # The HMAC-SHA256 key the receiver verifies X-Ebaysync-Signature with.
    secret: SecretIn = None


ChannelSettings = Annotated[EmailIn | WebhookIn, Field(discriminator="kind")]


class ChannelIn(Body):
    name: Name
    enabled: bool = True
    settings: ChannelSettings


class ChannelPatch(Body):
    name: Name | None = None
    enabled: bool | None = None
    settings: ChannelSettings | None = None


class ChannelOut(Schema):
    id: int
    name: str
    kind: str
    enabled: bool
    # Everything but the secret.
    settings: dict[str, Any]
    secret_set: bool
    created_at: datetime
    updated_at: datetime


class RuleIn(Body):
    name: Name
    kind: RuleKind
    enabled: bool = True
    notify_recovered: bool = True
    params: RuleParams = Field(default_factory=RuleParams)
    channel_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(default=[], max_length=50)


class RulePatch(Body):
    name: Name | None = None
    enabled: bool | None = None
    notify_recovered: bool | None = None
    params: RuleParams | None = None
    channel_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=50
    )


class RuleOut(Schema):
    id: int
    name: str
    kind: str
    enabled: bool
    notify_recovered: bool
    params: dict[str, Any]
    channel_ids: list[int]
    # Whether the caller receives this rule's emails (their own toggle).
    subscribed: bool


class SubscriptionIn(Body):
    subscribed: bool


class TestOut(Schema):
    delivered: bool
    error: str | None


class AlertOut(Schema):
    id: int
    rule_id: int
    rule_name: str
    subject: str
    status: str
    summary: str
    opened_at: datetime
    closed_at: datetime | None
    notices_sent: int
    notices_pending: int
    notices_failed: int
