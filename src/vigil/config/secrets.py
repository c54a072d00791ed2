"""Keeping secrets out of everything Vigil prints.

A value that came from the environment (``${DATABASE_URL}``) is a secret: the ``Redactor``
learns it while the stack file is read and replaces it with ``***`` wherever it would be
shown. Passwords in URLs (``scheme://user:pass@host``) are masked whatever their source.

A secret is also masked in the forms it takes on the way out: percent-encoded in a URL,
escaped in JSON or in HTML, so one redactor serves API answers, pages and log lines alike.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import quote, unquote

from markupsafe import escape

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)(?P<at>@)")


def _spellings(secret: str) -> set[str]:
    """``secret`` as it may appear in a URL, a JSON string or an HTML page."""
    return {
        secret,
        unquote(secret),
        quote(secret, safe=""),
        quote(secret, safe="/:@"),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        str(escape(secret)),
    }


class Redactor:
    """Masks known secret values and URL passwords in any text."""

    def __init__(self, secrets: set[str] | None = None) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] | None = None
        for secret in secrets or ():
            self.add(secret)

    def add(self, secret: str) -> None:
        # Very short values (a port, "1") would mask innocent text everywhere; they are not secrets.
        if len(secret) >= 4:
            self._secrets.update(_spellings(secret))
        for match in _URL_PASSWORD.finditer(secret):
            password = match.group("pw")
            if len(password) >= 3:
                self._secrets.update(_spellings(password))
        self._ordered = None

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def __call__(self, text: str) -> str:
        if self._ordered is None:
            self._ordered = _needed(self._secrets)
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, MASK)
        return redact_url(text)


def _needed(secrets: set[str]) -> list[str]:
    """The secrets worth searching for, longest first: one that contains another is masked
    in part by it already (``https://host/?key=${KEY}`` by ``${KEY}``'s value), and dropping
    it keeps a page of 1,000 such URLs a few searches instead of thousands."""
    kept: list[str] = []
    for secret in sorted(secrets, key=len):
        if not any(shorter in secret for shorter in kept):
            kept.append(secret)
    return kept[::-1]


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    if "://" not in url:
        return url
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('at')}", url)


class LogRedaction(logging.Filter):
    """A handler filter that passes every record's message through a redactor."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        shown = self.redactor(message)
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and record.exc_text is None:
            record.exc_text = self.redactor(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True


def redact_logs(redactor: Redactor) -> None:
    """Mask ``redactor``'s secrets in every line the root logger's handlers write."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, LogRedaction) and f.redactor is redactor for f in handler.filters):
            handler.addFilter(LogRedaction(redactor))
