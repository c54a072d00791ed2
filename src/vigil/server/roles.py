"""The roles a token carries, lowest first: viewer < responder < admin.

Apart from ``tokens`` so that ``vigil token create --role`` can offer them without loading the
store.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    RESPONDER = "responder"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)
