"""Failed bearer tokens and sign-ins, counted per client address, so guessing is not free.

A sliding window per address: past ``limit`` failures within ``window`` seconds the address
is answered 429 until its oldest failure leaves the window, whatever it sends, even a right
token (otherwise a 200 among the 429s would tell a guesser which guess was right). One log
line per address when it starts being limited, not one per refused request. The table is
bounded: past ``addresses`` entries the one idle longest is forgotten.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque

from vigil.engine.clock import Clock
from vigil.errors import VigilError

log = logging.getLogger("vigil.auth")

LIMIT = 20
WINDOW = 60.0
ADDRESSES = 10_000


class TooManyGuesses(VigilError):
    """Too many failed tokens or sign-ins from one address."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed tokens or sign-ins from this address; try again in {retry_after} s"
        )
        self.retry_after = retry_after


class Guesses:
    def __init__(
        self, clock: Clock, *, limit: int = LIMIT, window: float = WINDOW, addresses: int = ADDRESSES
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self.addresses = addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._limited: set[str] = set()

    def check(self, address: str) -> None:
        """Raise ``TooManyGuesses`` while ``address`` is over the limit."""
        failures = self._recent(address)
        if failures is not None and len(failures) >= self.limit:
            wait = failures[0] + self.window - self.clock.monotonic()
            raise TooManyGuesses(max(1, math.ceil(wait)))
        self._limited.discard(address)

    def failed(self, address: str, what: str) -> None:
        """Count one failure (``what``: "bearer token" or "sign-in") from ``address``."""
        failures = self._recent(address)
        if failures is None:
            failures = self._failures[address] = deque()
            while len(self._failures) > self.addresses:
                forgotten, _ = self._failures.popitem(last=False)
                self._limited.discard(forgotten)
        failures.append(self.clock.monotonic())
        self._failures.move_to_end(address)
        if len(failures) > self.limit:
            failures.popleft()  # the window never needs more than ``limit`` entries
        if len(failures) >= self.limit and address not in self._limited:
            self._limited.add(address)
            log.warning(
                "%s failed %d times in %.0f s (last: a %s); refusing it for %.0f s",
                address,
                len(failures),
                self.window,
                what,
                self.window,
            )

    def _recent(self, address: str) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        horizon = self.clock.monotonic() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures
