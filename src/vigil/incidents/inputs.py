"""What a responder types into an incident (a title, a note, a reason, an update, a name), taken
within its bound by every face alike: the API, the dashboard's forms and the shell. A refusal is
one line naming what and its bound (``InputError``, a 422), never the text echoed back whole.
"""

from __future__ import annotations

from vigil.errors import InputError

NAME_LIMIT = 200  # the store's width for a person's name
TITLE_LIMIT = 300
ITEM_LIMIT = 300  # a checklist item, by its number or its text
SEVERITY_LIMIT = 40  # a level's name
TEXT_LIMIT = 10_000  # a note, a reason or an update


def bounded(text: str, what: str, limit: int = TEXT_LIMIT, *, required: bool = True) -> str:
    """``text`` stripped; ``InputError`` when it is longer than ``limit``, or empty and ``required``."""
    text = text.strip()
    if required and not text:
        raise InputError(f"{what} needs some text")
    if len(text) > limit:
        raise InputError(f"{what} can be at most {limit:,} characters; this one has {len(text):,}")
    return text
