"""The OpenAPI document declares every error an operation can answer, each as ``ErrorBody``.

Which ones follow from what the operation takes, read off the document FastAPI generates, so
they stay true as routes change: any parameter or body can be invalid (422); a path parameter
names something that may not exist (404); a body can be too large (413); a security scheme
refuses a missing token (401) and, on a change, too low a role (403); anything can fail
unexpectedly (500).
A body that is not UTF-8 cannot be read at all (400). Others an operation declares itself (``responses=CONFLICT``: 409).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from vigil.server.error_shape import ErrorBody

REF = {"$ref": "#/components/schemas/ErrorBody"}
MEANING = {
    400: "The body cannot be read: it is not JSON in UTF-8.",
    401: "No bearer token, or an unknown or revoked one.",
    403: "The token's role is too low for this call.",
    404: "Nothing by that id or name.",
    409: "The change is not allowed in the current state.",
    413: "The request body, or the alerts in it, is past a limit.",
    422: "A parameter or the body is not valid; the error names which and why.",
    429: "Too many failed tokens or sign-ins from this address; Retry-After says when to try again.",
    500: "An unexpected failure; the error carries a request id that the server's log line carries too.",
}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": MEANING[409]}}
READS = {"get", "head"}
UNHEALTHY = "503"  # /livez and /readyz: their own body, which says which part is not ready


def document(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare each operation's errors (replacing FastAPI's own 422)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for code in sorted(statuses(operation, method) | _declared_errors(responses)):
                    responses[str(code)] = {
                        "description": MEANING.get(code) or responses[str(code)].get("description", ""),
                        "content": {"application/json": {"schema": REF}},
                    }
        models = schema.setdefault("components", {}).setdefault("schemas", {})
        models["ErrorBody"] = ErrorBody.model_json_schema()
        for unused in ("HTTPValidationError", "ValidationError"):
            models.pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def statuses(operation: dict[str, Any], method: str) -> set[int]:
    """The errors an operation can answer, from what it takes."""
    codes = {500}
    places = {p.get("in") for p in operation.get("parameters", [])}
    if places:
        codes.add(422)
    if "path" in places:
        codes.add(404)
    if "requestBody" in operation:
        codes |= {400, 413, 422}
    if operation.get("security"):
        # 429: too many failed tokens from the caller's address (server/guesses.py).
        codes |= {401, 429} if method in READS else {401, 403, 429}
    return codes


def _declared_errors(responses: dict[str, Any]) -> set[int]:
    return {int(c) for c in responses if c.isdigit() and int(c) >= 400 and c != UNHEALTHY}
