"""Injected failures: the next N API calls of a seller fail in a chosen way."""

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field


class FaultKind(StrEnum):
    """Supported failure modes."""

    HTTP_429 = "http_429"
    HTTP_500 = "http_500"
    RETRY_AFTER_429 = "retry_after_429"


class FaultRequest(BaseModel):
    """Body of ``POST /sandbox/faults``."""

    username: str
    kind: FaultKind
    count: int = Field(default=1, ge=1)
    retry_after: int | None = Field(default=None, ge=0)


@dataclass
class Fault:
    """A queued fault with the number of calls it still affects."""

    kind: FaultKind
    remaining: int
    retry_after: int | None


class FaultStore:
    """Per-seller FIFO of faults; each API call consumes one unit of the first fault."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}

    def add(self, username: str, kind: FaultKind, count: int, retry_after: int | None) -> None:
        """Queue ``count`` failures of ``kind`` for ``username``."""
        self._queues.setdefault(username, deque()).append(Fault(kind, count, retry_after))

    def take(self, username: str) -> Fault | None:
        """Consume one failure for ``username`` if any is pending."""
        queue = self._queues.get(username)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        return fault

    def pending(self, username: str) -> int:
        """How many calls of ``username`` will still fail."""
        return sum(f.remaining for f in self._queues.get(username, ()))

    def clear(self, username: str | None = None) -> None:
        """Drop pending faults of one seller, or of all sellers."""
        if username is None:
            self._queues.clear()
        else:
            self._queues.pop(username, None)
