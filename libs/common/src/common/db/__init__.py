"""Database models and repositories, one module per table family.

Importing this package registers every table on ``Base.metadata`` (Alembic and tests rely on it).
"""

from common.db import (
    accounts,
    admin,
    alerts,
    budget,
    events,
    finances,
    offers,
    ops,
    orders,
    postorder,
    push,
    quotas,
    runlog,
    signing_keys,
    sync,
    tokens,
    trading,
)
from common.db.base import Base

__all__ = [
    "Base",
    "accounts",
    "admin",
    "alerts",
    "budget",
    "events",
    "finances",
    "offers",
    "ops",
    "orders",
    "postorder",
    "push",
    "quotas",
    "runlog",
    "signing_keys",
    "sync",
    "tokens",
    "trading",
]
