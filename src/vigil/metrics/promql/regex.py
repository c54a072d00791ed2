"""Label-matcher regexes with Go's (RE2) meaning, written for the ``regex`` package.

Prometheus compiles ``=~`` patterns with Go's ``regexp``; the series store matches them with
``regex.fullmatch`` (the ``re``-compatible package that also knows Unicode properties). The two agree on most syntax, but not all, and a silent difference would select
the wrong series. So each pattern is rewritten here once, at compile time:

- ``\\d``, ``\\w``, ``\\s``, ``\\b`` are ASCII in Go, Unicode in Python: spelt out as ASCII sets;
- ``[[:alpha:]]`` and the other POSIX classes are RE2-only: expanded to ranges;
- ``$`` is the end of the text in Go, also "before a final newline" in Python: becomes ``\\Z``;
- ``(?i)`` in mid-pattern is an error in Python: becomes a scoped ``(?i:…)`` group;
- ``x{,3}`` is literal text in Go, a repetition in Python: its brace is escaped;
- ``\\z``, ``\\Q…\\E`` and ``\\x{…}`` have Python spellings;
- ``\\pL``, ``\\p{Greek}``, ``\\PN`` and ``\\p{^Lu}`` (Unicode categories and scripts) are
  spelt ``\\p{L}``, ``\\p{Greek}``, ``\\P{N}`` and ``\\P{Lu}``.

What has none (the ``U`` flag, negated POSIX or Perl classes inside a bracket, an unknown
Unicode class) is a ``PromQLError``, never a guess.
"""

from __future__ import annotations

import re

import regex

from vigil.metrics.promql.model import PromQLError

_WORD = "0-9A-Za-z_"
_PERL = {"d": "0-9", "w": _WORD, "s": "\\t\\n\\f\\r "}
_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": _WORD,
    "xdigit": "0-9A-Fa-f",
}
_BOUNDARY = f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))"
_NOT_BOUNDARY = f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))"
_CLASS_SPECIAL = frozenset("\\]^-[&~|")


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.i = 0
        self.out: list[str] = []
        # Per open group: the scoped flag groups opened inside it by a bare (?flags), to close
        # (and reopen across |) where Go's flag change ends.
        self.pending: list[list[str]] = [[]]
        self.multiline = "m" in "".join(re.findall(r"\(\?([a-zA-Z-]+)[:)]", pattern))

    def fail(self, what: str) -> PromQLError:
        return PromQLError(f"unsupported in regex {self.src!r}: {what}")

    def run(self) -> str:
        src = self.src
        while self.i < len(src):
            c = src[self.i]
            self.i += 1
            if c == "\\":
                self.out.append(self.escape(in_class=False))
            elif c == "[":
                self.out.append(self.bracket())
            elif c == "(":
                self.open_group()
            elif c == ")":
                self.out.append(")" * len(self.pending.pop()) + ")")
                if not self.pending:
                    self.pending.append([])  # unbalanced: let re report it
            elif c == "|":
                flags = self.pending[-1]
                self.out.append(")" * len(flags) + "|" + "".join(f"(?{f}:" for f in flags))
            elif c == "$":
                self.out.append("$" if self.multiline else "\\Z")
            elif c == "{" and src.startswith(",", self.i):
                self.out.append("\\{")
            else:
                self.out.append(c)
        self.out.append(")" * len(self.pending[-1]))
        return "".join(self.out)

    def open_group(self) -> None:
        flags = re.match(r"\?([a-zA-Z]*(?:-[a-zA-Z]*)?)([:)])", self.src[self.i :])
        if flags is None or flags.group(1).startswith("P"):
            self.out.append("(")  # plain, (?: or (?P<name>: the same in both
            self.pending.append([])
            return
        spec, end = flags.groups()
        if "U" in spec:
            raise self.fail("the U (ungreedy) flag")
        self.i += flags.end()
        self.out.append(f"(?{spec}:")
        if end == ":":
            self.pending.append([])
        else:  # bare (?i): in force until the enclosing group ends
            self.pending[-1].append(spec)

    def escape(self, *, in_class: bool) -> str:
        src = self.src
        if self.i >= len(src):
            return "\\\\"  # trailing backslash: invalid in both, re will say so
        c = src[self.i]
        self.i += 1
        if c in _PERL:
            return _PERL[c] if in_class else f"[{_PERL[c]}]"
        if c in "DWS":
            if in_class:
                raise self.fail(f"\\{c} inside a bracket")
            return f"[^{_PERL[c.lower()]}]"
        if c in "pP":
            return self.unicode_class(negated=c == "P")
        if c == "x" and src.startswith("{", self.i):
            end = src.index("}", self.i)
            char = chr(int(src[self.i + 1 : end], 16))
            self.i = end + 1
            return self.literal(char, in_class)
        if c == "Q" and not in_class:
            end = src.find("\\E", self.i)
            end = len(src) if end < 0 else end
            text = src[self.i : end]
            self.i = min(end + 2, len(src))
            return re.escape(text)
        if not in_class:
            if c == "z":
                return "\\Z"
            if c == "b":
                return _BOUNDARY
            if c == "B":
                return _NOT_BOUNDARY
        return "\\" + c

    def unicode_class(self, *, negated: bool) -> str:
        """``\\pL`` or ``\\p{Name}`` (``^`` inside the braces negates, as in RE2), checked
        against the names ``regex`` knows so that a typo is an error here, not at match time."""
        src = self.src
        if src.startswith("{", self.i):
            end = src.find("}", self.i)
            if end < 0:
                raise self.fail("\\p{ without its closing }")
            name = src[self.i + 1 : end]
            self.i = end + 1
        elif self.i < len(src):
            name = src[self.i]
            self.i += 1
        else:
            raise self.fail("\\p without a class name")
        if name.startswith("^"):
            name, negated = name[1:], not negated
        # RE2 knows general categories, their one-letter groups, scripts and Any.
        if not re.fullmatch(r"[A-Za-z_]+", name):
            raise self.fail(f"Unicode class name {name!r}")
        spelt = "\\P" if negated else "\\p"
        try:
            regex.compile(f"{spelt}{{{name}}}")
        except regex.error:
            raise self.fail(f"unknown Unicode class {name!r}") from None
        return f"{spelt}{{{name}}}"

    @staticmethod
    def literal(char: str, in_class: bool) -> str:
        if in_class:
            return "\\" + char if char in _CLASS_SPECIAL else char
        return re.escape(char)

    def bracket(self) -> str:
        src = self.src
        parts = ["["]
        if src.startswith("^", self.i):
            parts.append("^")
            self.i += 1
        first = True
        while self.i < len(src):
            c = src[self.i]
            if c == "]" and not first:
                self.i += 1
                parts.append("]")
                return "".join(parts)
            first = False
            if c == "[" and src.startswith("[:", self.i):
                end = src.find(":]", self.i + 2)
                name = src[self.i + 2 : end] if end > 0 else ""
                if name.startswith("^"):
                    raise self.fail(f"negated class [:{name}:]")
                if name in _POSIX:
                    parts.append(_POSIX[name])
                    self.i = end + 2
                    continue
            self.i += 1
            if c == "\\":
                parts.append(self.escape(in_class=True))
            elif c == "-" and parts[-1] not in ("[", "^") and not src.startswith("]", self.i):
                parts.append("-")  # a range between the previous item and the next
            else:
                parts.append(self.literal(c, in_class=True))
        raise PromQLError(f"invalid regex {src!r}: missing closing ]")


def translate(pattern: str) -> str:
    """The ``regex`` pattern that matches what Go's ``regexp`` does for ``pattern``."""
    translated = _Translator(pattern).run()
    try:
        regex.compile(translated)
    except regex.error as err:
        raise PromQLError(f"invalid regex {pattern!r}: {err}") from None
    return translated
