"""Progress lines of long commands: the estimated time left."""

from __future__ import annotations


def eta(done: int, total: int, seconds: float) -> str:
    """Time left after ``done`` of ``total`` equal steps took ``seconds``, as ``MmSSs``
    (``?`` before the first step ends)."""
    if done <= 0:
        return "?"
    remaining = max(seconds / done * (total - done), 0.0)
    return f"{int(remaining // 60)}m{int(remaining % 60):02d}s"
