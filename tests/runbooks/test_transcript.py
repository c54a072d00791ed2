"""A step's output however it arrives: split characters, endless lines, secrets."""

from __future__ import annotations

from vigil.runbooks.outcome import OUTPUT_KEPT
from vigil.runbooks.transcript import MAX_LINE, Transcript


def test_lines_come_whole_however_the_bytes_are_split() -> None:
    seen: list[tuple[int, str]] = []
    out = Transcript(3, lambda text: text.replace("hunter2", "***"), lambda n, line: seen.append((n, line)))
    for chunk in [b"caf", b"\xc3", b"\xa9 ok\r\npass", b"word=hunter2\nlast"]:
        out.feed(chunk)
    out.close()
    assert seen == [(3, "café ok"), (3, "password=***"), (3, "last")]
    assert out.output == "café ok\npassword=***\nlast\n"


def test_an_endless_line_is_cut_once_and_its_rest_dropped() -> None:
    seen: list[str] = []
    out = Transcript(1, str, lambda _n, line: seen.append(line))
    for _ in range(10):
        out.feed(b"y" * 1000)
    out.feed(b"yyy\nnext\n")
    assert seen == ["y" * MAX_LINE + f" … [cut at {MAX_LINE:,} characters]", "next"]


def test_only_the_last_64_kb_are_kept() -> None:
    out = Transcript(1, str)
    for i in range(20_000):
        out.feed(f"line {i}\n".encode())
    assert len(out.output.encode()) <= OUTPUT_KEPT
    assert out.output.endswith("line 19999\n")
    assert out.tail(2) == "line 19998\nline 19999"
