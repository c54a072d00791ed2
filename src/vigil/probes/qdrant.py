"""``qdrant``: the server is ready (``/readyz``) and each named collection is healthy and full.

Every collection is judged on each run and the reason names each one that fails:
``collection textbook_content status yellow, expected green; collection faq 12 points, expected
at least 1000``. A collection in status ``red`` (an optimizer error Qdrant could not recover
from) always fails; ``expect.status`` narrows what passes. ``api_key`` is sent as the
``api-key`` header and never shown.

Values: ``ready_ms`` (the ``/readyz`` round trip) and, for each collection ``NAME``,
``points.NAME`` (points count), ``indexed_vectors.NAME``, ``segments.NAME`` and
``status.NAME`` (0 green, 1 yellow, 2 grey, 3 red).
"""

from __future__ import annotations

import difflib
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator, model_validator

from vigil.config.check import CheckBase, StrictModel
from vigil.config.secrets import MASK
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.json_api import Answer, JsonClient, check_http_url

# Collection info carries its whole configuration; a few hundred KiB at most in practice.
BODY_LIMIT = 1024 * 1024
MAX_COLLECTIONS = 100
CollectionStatus = Literal["green", "yellow", "grey", "red"]
LEVELS: dict[str, int] = {"green": 0, "yellow": 1, "grey": 2, "red": 3}


class QdrantExpect(StrictModel):
    status: CollectionStatus | list[CollectionStatus] | None = Field(
        None, description="Accepted collection status: green, or a list like [green, yellow]."
    )
    points_min: int | None = Field(None, ge=0, description="Fewest points each collection may hold.")
    points_max: int | None = Field(None, ge=0, description="Most points each collection may hold.")

    @property
    def statuses(self) -> tuple[str, ...]:
        if self.status is None:
            return ()
        return (self.status,) if isinstance(self.status, str) else tuple(self.status)

    @property
    def is_empty(self) -> bool:
        return self.status is None and self.points_min is None and self.points_max is None

    @model_validator(mode="after")
    def _bounds_in_order(self) -> QdrantExpect:
        if self.points_min is not None and self.points_max is not None and self.points_min > self.points_max:
            raise ValueError("points_min is larger than points_max")
        return self


class QdrantCheck(CheckBase):
    kind: ClassVar[str] = "qdrant"

    qdrant: str = Field(description="The server's URL, e.g. http://127.0.0.1:6333.")
    api_key: SecretStr | None = Field(
        None, description="Sent as the api-key header; write ${QDRANT_API_KEY} to keep it out of the file."
    )
    collections: list[str] = Field(
        default_factory=list, max_length=MAX_COLLECTIONS, description="Collections to judge."
    )
    expect: QdrantExpect = Field(default_factory=QdrantExpect)  # type: ignore[arg-type]

    @field_validator("qdrant")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        # ${QDRANT_API_KEY:-} with the variable unset: a server without a key.
        return None if value == "" else value

    @field_validator("collections")
    @classmethod
    def _names_are_usable(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.strip() or len(name) > 255:
                raise ValueError(f"collection name {name!r} must be 1 to 255 characters")
        return list(dict.fromkeys(value))  # a name listed twice is judged once

    @model_validator(mode="after")
    def _expect_needs_collections(self) -> QdrantCheck:
        if not self.collections and not self.expect.is_empty:
            raise ValueError("expect judges collections, but none is named in collections")
        return self

    @property
    def base(self) -> str:
        return self.qdrant.rstrip("/")

    @property
    def headers(self) -> dict[str, str]:
        return {"api-key": self.api_key.get_secret_value()} if self.api_key else {}


class QdrantProbe:
    """One connection pool for every qdrant check."""

    def __init__(self) -> None:
        self._http = JsonClient(BODY_LIMIT)

    async def observe(self, check: QdrantCheck) -> Observation:
        try:
            observation = await self._look(check)
        except ProbeError as err:
            raise ProbeError(_mask(str(err), check)) from None
        if observation.reason:
            return Observation(False, _mask(observation.reason, check), observation.values)
        return observation

    async def _look(self, check: QdrantCheck) -> Observation:
        ready = await self._http.get(f"{check.base}/readyz", check.timeout, check.headers)
        values = {"ready_ms": ready.elapsed_ms}
        if ready.status != 200:
            return Observation.failed(f"readyz answered {_said(ready)}, expected 200", **values)
        problems: list[str] = []
        for name in check.collections:
            answer = await self._http.get(
                f"{check.base}/collections/{quote(name, safe='')}", check.timeout, check.headers
            )
            if answer.status in (401, 403):  # every other collection would say the same
                return Observation.failed(_refused(answer, check), **values)
            if answer.status == 404:
                problems.append(f"collection {name} does not exist{await self._did_you_mean(name, check)}")
                continue
            if answer.status != 200:
                problems.append(f"collection {name}: {_said(answer)}, expected 200")
                continue
            problems.extend(_judge(name, _info(answer, name), check.expect, values))
        return Observation(not problems, "; ".join(problems) or None, values)

    async def _did_you_mean(self, name: str, check: QdrantCheck) -> str:
        try:
            answer = await self._http.get(f"{check.base}/collections", check.timeout, check.headers)
            listed = answer.json("collections").get("result", {}).get("collections", [])
            names = [str(item.get("name")) for item in listed if isinstance(item, dict)]
        except (ProbeError, AttributeError):
            return ""  # the hint is a courtesy; the missing collection is the reason
        close = difflib.get_close_matches(name, names, n=1)
        return f" (did you mean {close[0]}?)" if close else ""

    async def close(self) -> None:
        await self._http.close()


def _info(answer: Answer, name: str) -> dict[str, Any]:
    document = answer.json(f"collection {name}")
    result = document.get("result") if isinstance(document, dict) else None
    if not isinstance(result, dict):
        raise ProbeError(f"collection {name}: the answer has no result, expected Qdrant's collection info")
    return result


def _judge(name: str, info: dict[str, Any], expect: QdrantExpect, values: dict[str, float]) -> list[str]:
    """What is wrong with collection ``name``; its numbers go into ``values``."""
    problems: list[str] = []
    status = info.get("status")
    if status in LEVELS:
        values[f"status.{name}"] = LEVELS[status]
    for key, field in (
        ("points", "points_count"),
        ("indexed_vectors", "indexed_vectors_count"),
        ("segments", "segments_count"),
    ):
        if isinstance(info.get(field), int):
            values[f"{key}.{name}"] = info[field]
    wanted = expect.statuses
    if wanted and status not in wanted:
        problems.append(f"collection {name} status {status}, expected {' or '.join(wanted)}")
    elif status == "red":
        problems.append(f"collection {name} status red: an optimization failed and was not recovered")
    points = info.get("points_count")
    if expect.points_min is None and expect.points_max is None:
        return problems
    if not isinstance(points, int):
        problems.append(f"collection {name} reports no points count")
    elif expect.points_min is not None and points < expect.points_min:
        problems.append(f"collection {name} has {points} points, expected at least {expect.points_min}")
    elif expect.points_max is not None and points > expect.points_max:
        problems.append(f"collection {name} has {points} points, expected at most {expect.points_max}")
    return problems


def _said(answer: Answer) -> str:
    """``503 (some shards are not ready)``: the status and what the body says, briefly."""
    detail = _detail(answer)
    return f"{answer.status} ({detail})" if detail else str(answer.status)


def _detail(answer: Answer) -> str:
    """Qdrant's ``status.error`` when the body is its JSON, else the body as one short line."""
    try:
        document = answer.json("")
        error = document.get("status", {}).get("error") if isinstance(document, dict) else None
    except (ProbeError, AttributeError):
        error = None
    return " ".join(str(error).split())[:120] if error else answer.text()


def _mask(text: str, check: QdrantCheck) -> str:
    """``text`` without the API key, should a server or proxy ever quote it back."""
    key = check.api_key.get_secret_value() if check.api_key else ""
    return text.replace(key, MASK) if len(key) >= 4 else text


def _refused(answer: Answer, check: QdrantCheck) -> str:
    if check.api_key is None:
        return (
            f"the server wants an API key ({answer.status}); set api_key, e.g. api_key: ${{QDRANT_API_KEY}}"
        )
    return f"the server refused the API key: {answer.status} {_detail(answer)}".rstrip()


KIND = ProbeKind("qdrant", QdrantCheck, QdrantProbe, loads=("aiohttp",))
