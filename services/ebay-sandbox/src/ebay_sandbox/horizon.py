"""How long a computed answer stays true: cached pages are reused until their horizon."""

from dataclasses import dataclass

FAR_FUTURE_MS = 2**62


@dataclass
class Horizon:
    """The earliest instant after ``now_ms`` at which the answer may change."""

    now_ms: int
    until_ms: int = FAR_FUTURE_MS

    def change_at(self, ms: int | None) -> None:
        """Note that something changes at ``ms`` (ignored unless in the future)."""
        if ms is not None and self.now_ms < ms < self.until_ms:
            self.until_ms = ms

    def changes_at(self, times: tuple[int, ...] | list[int]) -> None:
        """Note every instant of ``times``."""
        for ms in times:
            if ms > self.now_ms:
                self.change_at(ms)
                return  # times are ascending: the first future one is the earliest
