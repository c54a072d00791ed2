"""The draft as YAML with comments. PyYAML writes every value (``yaml.safe_dump``, so quoting is
always right); the layout and the comments are written here. ruamel.yaml keeps comments when it
round-trips a file, but a draft is written once from nothing, so a second YAML library would buy
nothing. A small mapping goes on one line (``alert: {after: 3, severity: P1}``), as people write them.
"""

from __future__ import annotations

from typing import Any

import yaml

from vigil.runbooks.importer.model import MAX_NOTES, NOT_DRAFTED, Note, ServiceDraft, StackDraft

_WIDTH = 110
_INDENT = "  "


def value(data: Any) -> str:
    """One value in YAML's flow style, on one line."""
    text = yaml.safe_dump(data, default_flow_style=True, width=1_000_000, allow_unicode=True, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def comment(text: str) -> str:
    return "# " + " ".join(text.split())


class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, text: str, depth: int = 0) -> None:
        self.lines.append(_INDENT * depth + comment(text))

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def pair(self, key: str, data: Any, depth: int, after: str = "") -> None:
        """``key: value``; a mapping too long for one line is written as a block."""
        head = _INDENT * depth + value(key) + ":"
        tail = f"  {comment(after)}" if after else ""
        if isinstance(data, dict) and data and len(head) + len(value(data)) + 1 > _WIDTH:
            self.lines.append(head + tail)
            for name, inner in data.items():
                self.pair(str(name), inner, depth + 1)
        else:
            self.lines.append(f"{head} {value(data)}{tail}")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def render(draft: StackDraft) -> str:
    out = Writer()
    out.note(f"Drafted by `vigil import` from {draft.file} ({draft.title}).")
    out.note(
        "Every value comes from the runbook's own words; the comment above it names the line. Review, then"
    )
    out.note("run `vigil validate`. ${VAR:-default} reads VAR from the environment; each default is a local")
    out.note(
        "server or a URL the runbook gives, so the file validates with nothing set. No secret is written here."
    )
    out.blank()
    _runbooks(out, draft)
    _env(out, draft)
    _services(out, draft)
    _alerts(out, draft)
    _severities(out, draft)
    _windows(out, draft)
    _backups(out, draft)
    _checklists(out, draft)
    _notes(out, draft)
    return out.text()


def _runbooks(out: Writer, draft: StackDraft) -> None:
    if draft.runbook_path is not None:
        out.lines.append("runbooks:")
        out.lines.append(f"  - {value(draft.runbook_path)}  # its procedures run at once: vigil runbook list")
    elif draft.runbook_problem:
        out.note(f"runbooks: not listed, {draft.runbook_problem}")
    out.blank()


def _env(out: Writer, draft: StackDraft) -> None:
    if not draft.env and not draft.env_comments:
        return
    if draft.env:
        out.lines.append("env:")
        out.note("Runbook steps read these; unset, they point at a local server.", 1)
    else:
        out.note("env: none drafted.")
    for name, (data, why) in draft.env.items():
        out.note(why, 1)
        out.pair(name, data, 1)
    for text in draft.env_comments:
        out.note(text, 1 if draft.env else 0)
    out.blank()


def _services(out: Writer, draft: StackDraft) -> None:
    if not draft.services:
        return
    out.lines.append("services:")
    for text in draft.service_comments:
        out.note(text, 1)
    for service in draft.services.values():
        _service(out, service)
    out.blank()


def _service(out: Writer, service: ServiceDraft) -> None:
    empty = not (service.description or service.depends_on or service.metrics or service.checks)
    out.lines.append(f"  {value(service.name)}:" + (" {}" if empty else ""))
    for text in [service.why, *service.comments]:
        out.note(text, 2)
    if service.description:
        out.pair("description", service.description, 2)
    if service.depends_on:
        out.lines.append("    depends_on:")
        for name, why in service.depends_on.items():
            out.lines.append(f"      - {value(name)}  {comment(why)}")
    if service.metrics:
        out.pair("metrics", service.metrics, 2)
    if not service.checks:
        out.note("no check drafted: the runbook gives no way to reach it", 2)
        return
    out.lines.append("    checks:")
    for check in service.checks.values():
        out.lines.append(f"      {value(check.name)}:")
        for text in [check.why, *check.also]:
            out.note(text, 4)
        for key, data in check.fields.items():
            out.pair(key, data, 4)


def _alerts(out: Writer, draft: StackDraft) -> None:
    if not draft.alerts and not draft.alert_comments:
        return
    if draft.alerts:
        out.lines.append("alerts:")
        out.note(
            "PromQL over the usual metric names (Prometheus clients, node_exporter, postgres_exporter,", 1
        )
        out.note(
            "celery-exporter): rename them to what your services export. Actions such as 'Page on-call'", 1
        )
        out.note(
            "go through notify: channels, which the runbook does not name: add them and each rule's notify:.",
            1,
        )
    for text in draft.alert_comments:
        out.note(text, 1)
    for alert in draft.alerts:
        out.note(alert.why, 1)
        first = True
        for key, data in alert.fields.items():
            if first:
                out.lines.append(f"  - {value(key)}: {value(data)}")
                first = False
            else:
                out.pair(key, data, 2)
    out.blank()


def _severities(out: Writer, draft: StackDraft) -> None:
    if not draft.severities:
        return
    written = {level: entry for level, entry in draft.severities.items() if entry[0]}
    out.lines.append("severities:" if written else "# severities:")
    for level, (data, why) in sorted(draft.severities.items()):
        out.note(why, 1)
        if data:
            out.pair(level, data, 1)
    out.blank()


def _windows(out: Writer, draft: StackDraft) -> None:
    if not draft.windows:
        return
    out.lines.append("maintenance:")
    out.lines.append("  windows:")
    out.note("While a window is on, alerts page no one; add matchers: to quiet only some.", 2)
    for window, why in draft.windows:
        out.note(why, 2)
        out.lines.append(f"    - {value(window)}")
    out.blank()


def _backups(out: Writer, draft: StackDraft) -> None:
    if not draft.backups:
        return
    out.lines.append("backups:")
    out.note(
        "Each job is the check backups.<job>: it fails when the newest verified backup is older than rpo.", 1
    )
    for job in draft.backups.values():
        out.note(job.why, 1)
        out.lines.append(f"  {value(job.name)}:")
        for key, data in job.fields.items():
            out.pair(key, data, 2, job.notes.get(key, ""))
    out.blank()


def _checklists(out: Writer, draft: StackDraft) -> None:
    if not draft.checklists:
        return
    out.note("Checklists: the stack file has no place for them yet, so they are kept here.")
    for title, items in draft.checklists:
        out.note(f"{draft.file}:{items[0].line}: {title}")
        for item in items:
            out.note(f"  {draft.file}:{item.line}: [ ] {item.text}")
    out.blank()


def _notes(out: Writer, draft: StackDraft) -> None:
    unexpressed = [n for n in draft.notes if n.topic not in NOT_DRAFTED]
    skipped = [n for n in draft.notes if n.topic in NOT_DRAFTED]
    if unexpressed:
        out.note("Not yet expressible in Vigil; kept so that nothing the runbook says is lost:")
        for note in sorted(unexpressed, key=lambda n: (n.topic, n.line)):
            out.note(
                f"{_where(draft, note)}: {note.topic[:1].upper() + note.topic[1:]}: {note.text} — not yet expressible"
            )
        out.blank()
    if skipped:
        out.note("Read but not drafted:")
        for note in skipped:
            out.note(f"{_where(draft, note)}: {note.topic[:1].upper() + note.topic[1:]}: {note.text}")
        out.blank()
    if draft.untold:
        out.note(
            f"… and {draft.untold:,} more notes and checklist items of {draft.file}, past the {MAX_NOTES:,} kept here."
        )


def _where(draft: StackDraft, note: Note) -> str:
    return f"{draft.file}:{note.line}" if note.line else draft.file
