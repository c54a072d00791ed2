"""A step's output as people see it: split into lines, each line bounded and redacted, handed to
the run's sink as it comes, and the last ``OUTPUT_KEPT`` bytes kept for the record."""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Callable

from vigil.runbooks.outcome import OUTPUT_KEPT, OutputSink

MAX_LINE = 4096  # characters; a longer line (a minified JSON answer) is cut


class Transcript:
    def __init__(self, step: int, redact: Callable[[str], str], sink: OutputSink | None = None) -> None:
        self.step = step
        self.redact = redact
        self.sink = sink
        self._kept: deque[str] = deque()
        self._kept_bytes = 0
        self._partial = ""
        self._dropping = False  # the rest of a line already cut and shown
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        """Raw output as it arrives; complete lines are emitted, a partial one waits."""
        text = self._partial + self._decoder.decode(data)
        if self._dropping:
            end = text.find("\n")
            if end < 0:
                return
            text, self._dropping = text[end + 1 :], False
        *lines, rest = text.split("\n")
        for line in lines:
            self.line(line)
        # A line that never ends is still bounded: shown cut once it is too long to show whole,
        # and the rest of it dropped up to its newline.
        if len(rest) > MAX_LINE:
            self.line(rest)
            rest, self._dropping = "", True
        self._partial = rest

    def close(self) -> None:
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if rest:
            self.line(rest)

    def line(self, text: str) -> None:
        text = text.rstrip("\r")
        if len(text) > MAX_LINE:
            text = text[:MAX_LINE] + f" … [cut at {MAX_LINE:,} characters]"
        shown = self.redact(text)
        self._keep(shown + "\n")
        if self.sink is not None:
            self.sink(self.step, shown)

    def _keep(self, line: str) -> None:
        size = len(line.encode())
        self._kept.append(line)
        self._kept_bytes += size
        while self._kept_bytes > OUTPUT_KEPT and len(self._kept) > 1:
            self._kept_bytes -= len(self._kept.popleft().encode())

    @property
    def output(self) -> str:
        text = "".join(self._kept)
        data = text.encode()
        if len(data) > OUTPUT_KEPT:
            text = data[-OUTPUT_KEPT:].decode("utf-8", errors="ignore")
        return text

    def tail(self, lines: int = 5, width: int = 400) -> str:
        """The last few lines, short enough for a timeline entry."""
        text = "".join(list(self._kept)[-lines:]).rstrip("\n")
        return text if len(text) <= width else "…" + text[-width:]
