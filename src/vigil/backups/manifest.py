"""Each artefact's manifest: a JSON file beside it (``appdb-20260102T020000.000Z.dump.json``).

It says what the artefact should be (its SHA-256 and size), how it was made (duration, source
and client versions, each table's rows) and whether it was verified, when and how. A backup is
good only once ``verified.ok``; an artefact with no manifest is none of Vigil's.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from vigil.errors import BackupError

SUFFIX = ".json"
MAX_MANIFEST = 4 * 1024 * 1024  # bytes: a manifest of 10,000 tables is well under
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Verified:
    ok: bool
    at: datetime
    how: str
    duration_s: float
    reason: str | None = None


@dataclass(frozen=True)
class Manifest:
    job: str
    engine: str
    created_at: datetime
    checksum: str  # sha256 hex of the artefact
    size: int
    duration_s: float
    source_version: str
    client_version: str
    tables: dict[str, int] = field(default_factory=dict)
    verified: Verified | None = None

    @property
    def good(self) -> bool:
        return self.verified is not None and self.verified.ok

    def with_verification(self, verified: Verified) -> Manifest:
        return replace(self, verified=verified)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        if self.verified is not None:
            data["verified"] = {**asdict(self.verified), "at": self.verified.at.isoformat()}
        return data


def manifest_path(artefact: Path) -> Path:
    return artefact.with_name(artefact.name + SUFFIX)


def write_manifest(artefact: Path, manifest: Manifest) -> None:
    """Written to a temporary file and renamed, so a manifest is never half there."""
    final = manifest_path(artefact)
    partial = final.with_name(f".{final.name}.partial")
    try:
        partial.write_text(json.dumps(manifest.as_dict(), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(partial, final)
    except OSError:  # a full disk: no half manifest is left behind
        partial.unlink(missing_ok=True)
        raise


def read_manifest(artefact: Path) -> Manifest:
    path = manifest_path(artefact)
    try:
        if path.stat().st_size > MAX_MANIFEST:
            raise BackupError(f"{path} is larger than {MAX_MANIFEST} bytes: not a manifest of Vigil's")
        data = json.loads(path.read_text(encoding="utf-8"))
        verified = data.get("verified")
        return Manifest(
            job=str(data["job"]),
            engine=str(data["engine"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            checksum=str(data["checksum"]),
            size=int(data["size"]),
            duration_s=float(data["duration_s"]),
            source_version=str(data["source_version"]),
            client_version=str(data["client_version"]),
            tables={str(k): int(v) for k, v in dict(data.get("tables") or {}).items()},
            verified=None
            if not verified
            else Verified(
                bool(verified["ok"]),
                datetime.fromisoformat(verified["at"]),
                str(verified["how"]),
                float(verified["duration_s"]),
                verified.get("reason"),
            ),
        )
    except FileNotFoundError:
        raise BackupError(
            f"{artefact} has no manifest ({path.name}): it is not a backup Vigil made"
        ) from None
    except OSError as err:
        raise BackupError(f"cannot read {path}: {err.strerror}") from None
    except (ValueError, KeyError, TypeError) as err:
        raise BackupError(f"{path} is not a valid manifest: {err}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artefacts(destination: Path) -> list[tuple[Path, Manifest]]:
    """The artefacts in ``destination`` that have a readable manifest, newest first."""
    found: list[tuple[Path, Manifest]] = []
    if not destination.is_dir():
        return found
    for path in destination.iterdir():
        if path.name.endswith(SUFFIX) and not path.name.startswith("."):
            artefact = path.with_name(path.name[: -len(SUFFIX)])
            if artefact.is_file():
                try:
                    found.append((artefact, read_manifest(artefact)))
                except BackupError:
                    continue  # shown by `vigil backup verify` on that file; a listing goes on
    return sorted(found, key=lambda pair: pair[1].created_at, reverse=True)
