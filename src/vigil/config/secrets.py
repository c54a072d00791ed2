"""Keeping secrets out of everything Vigil prints.

A value that came from the environment (``${DATABASE_URL}``) is a secret: the ``Redactor``
learns it while the stack file is read and replaces it with ``***`` wherever it would be
shown. Passwords in URLs (``scheme://user:pass@host``) are masked whatever their source.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)(?P<at>@)")


class Redactor:
    """Masks known secret values and URL passwords in any text."""

    def __init__(self, secrets: set[str] | None = None) -> None:
        self._secrets: set[str] = set()
        for secret in secrets or ():
            self.add(secret)

    def add(self, secret: str) -> None:
        # Very short values (a port, "1") would mask innocent text everywhere; they are not secrets.
        if len(secret) >= 4:
            self._secrets.add(secret)
            decoded = unquote(secret)
            if decoded != secret:
                self._secrets.add(decoded)
        for match in _URL_PASSWORD.finditer(secret):
            password = match.group("pw")
            if len(password) >= 3:
                self._secrets.add(password)
                self._secrets.add(unquote(password))

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('at')}", text)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('at')}", url)
