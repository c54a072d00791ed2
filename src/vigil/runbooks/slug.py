"""Heading slugs as GitHub makes them, so ``runbook.md#issue-502-bad-gateway`` names the
section GitHub links to: lower-cased, punctuation and symbols dropped, spaces made hyphens,
and a repeated slug numbered ``-1``, ``-2`` in file order."""

from __future__ import annotations

import unicodedata

# Unicode categories kept: letters, marks, numbers and connector punctuation (``_``).
_KEPT = ("L", "M", "N", "Pc")


def slug_of(title: str) -> str:
    kept = (c for c in title.lower() if c in "- " or unicodedata.category(c).startswith(_KEPT))
    return "".join(kept).replace(" ", "-")


class Slugger:
    """Slugs for one document: the second "Resolution" is ``resolution-1``."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, title: str) -> str:
        base = slug = slug_of(title)
        while slug in self.seen:
            self.seen[base] += 1
            slug = f"{base}-{self.seen[base]}"
        self.seen[slug] = 0
        return slug
