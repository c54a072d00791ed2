"""Box-and-arrow diagrams drawn in text (Unicode box drawing or ``+--+`` ASCII): the boxes with
their text, and which box an arrow leads from and to.

A box is a closed rectangle of border characters. Lines are the connector characters outside
every box; the lines that touch each other form one connection, and its arrowheads say which
boxes it points at. A connection with no arrowhead joins two boxes top to bottom, left to right.
"""

from __future__ import annotations

from dataclasses import dataclass

_TOP_LEFT, _TOP_RIGHT = set("┌╔╭+"), set("┐╗╮+")
_BOTTOM_LEFT, _BOTTOM_RIGHT = set("└╚╰+"), set("┘╝╯+")
_ACROSS = set("─━═-┬┴┼+╤╧┯┷")
_DOWN = set("│┃║|├┤┼+╟╢┠┨")
_LINES = set("│┃║|─━═-┌┐└┘├┤┬┴┼╭╮╯╰+╔╗╚╝")
_HEADS = {"▼": (1, 0), "↓": (1, 0), "▲": (-1, 0), "↑": (-1, 0), "►": (0, 1), "▶": (0, 1), "→": (0, 1)}
_HEADS |= {"◄": (0, -1), "◀": (0, -1), "←": (0, -1)}
# ASCII heads count only where a line runs into them: the "v" of "service" is no arrow.
_ASCII_HEADS = {"v": (1, 0), "^": (-1, 0), ">": (0, 1), "<": (0, -1)}
MAX_CELLS = 200_000  # a diagram larger than this is not read


@dataclass(frozen=True)
class Box:
    top: int
    left: int
    bottom: int
    right: int
    text: str


def has_boxes(code: str) -> bool:
    return "┌" in code or "╔" in code or "╭" in code or "+-" in code


def connections(code: str) -> tuple[list[Box], list[tuple[Box, Box]]]:
    """The boxes drawn in ``code`` and each arrow between two of them, as (from, to)."""
    rows = code.splitlines()
    width = max((len(r) for r in rows), default=0)
    if width * len(rows) > MAX_CELLS:
        return [], []
    grid = [r.ljust(width) for r in rows]
    found = _boxes(grid)
    border: dict[tuple[int, int], Box] = {}
    inside: set[tuple[int, int]] = set()
    for box, sides in found:
        for r in range(box.top, box.bottom + 1):
            for c in range(box.left, sides[r] + 1):
                if r in (box.top, box.bottom) or c in (box.left, sides[r]):
                    border[(r, c)] = box
                else:
                    inside.add((r, c))
    edges: list[tuple[Box, Box]] = []
    seen: set[tuple[int, int]] = set()
    for r in range(len(grid)):
        for c in range(width):
            if (r, c) not in seen and (r, c) not in border and (r, c) not in inside and _line(grid, r, c):
                edges += _edges(grid, (r, c), border, inside, seen)
    return [box for box, _ in found], list(dict.fromkeys(edges))


def _boxes(grid: list[str]) -> list[tuple[Box, dict[int, int]]]:
    found: list[tuple[Box, dict[int, int]]] = []
    for r, row in enumerate(grid):
        for c, char in enumerate(row):
            if char in _TOP_LEFT:
                box = _box_at(grid, r, c)
                if box is not None:
                    found.append(box)
    return found


def _box_at(grid: list[str], top: int, left: int) -> tuple[Box, dict[int, int]] | None:
    """The box whose top-left corner is here, with the column of its right side on each row."""
    row = grid[top]
    right = left + 1
    while right < len(row) and row[right] in _ACROSS | _TOP_RIGHT:
        if row[right] in _TOP_RIGHT and right > left + 1:
            bottom = top + 1
            while (
                bottom < len(grid) and grid[bottom][left] in _DOWN and grid[bottom][left] not in _BOTTOM_LEFT
            ):
                bottom += 1
            sides = _sides(grid, top, left, bottom, right) if top + 1 < bottom < len(grid) else None
            if sides is not None:
                text = " ".join(grid[r][left + 1 : sides[r]] for r in range(top + 1, bottom))
                return Box(top, left, bottom, right, " ".join(text.split())), sides
        right += 1
    return None


def _sides(grid: list[str], top: int, left: int, bottom: int, right: int) -> dict[int, int] | None:
    """The right side's column on each row; hand-drawn diagrams are often a column off on a row."""
    last = grid[bottom]
    if not (
        last[left] in _BOTTOM_LEFT
        and last[right] in _BOTTOM_RIGHT
        and all(last[c] in _ACROSS for c in range(left + 1, right))
    ):
        return None
    sides = {top: right, bottom: right}
    for r in range(top + 1, bottom):
        found = next(
            (c for c in (right, right + 1, right - 1) if c < len(grid[r]) and grid[r][c] in _DOWN), None
        )
        if found is None:
            return None
        sides[r] = found
    return sides


def _line(grid: list[str], r: int, c: int) -> bool:
    char = grid[r][c]
    if char in _LINES or char in _HEADS:
        return True
    step = _ASCII_HEADS.get(char)
    if step is None:
        return False
    back_r, back_c = r - step[0], c - step[1]
    return 0 <= back_r < len(grid) and 0 <= back_c < len(grid[0]) and grid[back_r][back_c] in _LINES


# Which characters run which way: a line reaches a box across a gap of spaces only along itself.
_ACROSS_ONLY = {False: set("│┃║|v^▼▲↓↑"), True: set("─━═-<>◄►▶◀←→")}
_GAP = 2


def _reach(
    grid: list[str], r: int, c: int, step: tuple[int, int], border: dict[tuple[int, int], Box]
) -> Box | None:
    """The box a line at (r, c) runs into going ``step``: next to it or, for a straight line
    running that way, past a gap of spaces (``| api | ---> | db |``)."""
    straight = grid[r][c] in _ACROSS_ONLY[step[0] == 0] or grid[r][c] in _HEADS or grid[r][c] in _ASCII_HEADS
    for distance in range(1, _GAP + 2 if straight else 2):
        near = (r + step[0] * distance, c + step[1] * distance)
        if near in border:
            return border[near]
        if not (0 <= near[0] < len(grid) and 0 <= near[1] < len(grid[0])) or grid[near[0]][near[1]] != " ":
            return None
    return None


def _edges(
    grid: list[str],
    start: tuple[int, int],
    border: dict[tuple[int, int], Box],
    inside: set[tuple[int, int]],
    seen: set[tuple[int, int]],
) -> list[tuple[Box, Box]]:
    touched: list[Box] = []
    targets: list[Box] = []
    todo = [start]
    seen.add(start)
    while todo:
        r, c = todo.pop()
        char = grid[r][c]
        head = _HEADS.get(char) or _ASCII_HEADS.get(char)
        if head is not None and (pointed := _reach(grid, r, c, head, border)) is not None:
            targets.append(pointed)
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            near = (r + dr, c + dc)
            reached = _reach(grid, r, c, (dr, dc), border) if char not in _ACROSS_ONLY[dr != 0] else None
            if reached is not None:
                touched.append(reached)
            elif near not in border and (
                near not in seen
                and near not in inside
                and 0 <= near[0] < len(grid)
                and 0 <= near[1] < len(grid[0])
                and _line(grid, *near)
            ):
                seen.add(near)
                todo.append(near)
    ends = list(dict.fromkeys(touched))
    if targets:
        return [(a, b) for a in ends if a not in targets for b in dict.fromkeys(targets)]
    if len(ends) == 2:
        first, second = sorted(ends, key=lambda b: (b.top, b.left))
        return [(first, second)]
    return []
