"""The password policy for new passwords: pure, no I/O.

Refuses the trivial (all whitespace, few distinct characters) outright, then asks zxcvbn,
whose bundled frequency lists cover the most common passwords, names and words, for a
strength score; the user's own email counts as a guessable input.
"""

from __future__ import annotations

from collections.abc import Sequence

from zxcvbn import zxcvbn

MIN_LENGTH = 10
MIN_DISTINCT = 5
# zxcvbn's cost grows with length; the first characters decide a weak password anyway.
_SCORED_PREFIX = 100


def password_problem(
    password: str, user_inputs: Sequence[str] = (), min_score: int = 3
) -> str | None:
    """Why ``password`` is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if not password.strip():
        return "must not be only whitespace"
    if len(set(password)) < MIN_DISTINCT:
        return f"must use at least {MIN_DISTINCT} different characters"
    inputs = [part for value in user_inputs for part in value.replace("@", " ").split()]
    result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=inputs)
    if int(result["score"]) < min_score:
        warning = str(result.get("feedback", {}).get("warning") or "it is easy to guess")
        return f"is too weak ({warning.rstrip('.')}): use a longer phrase of unrelated words"
    return None
