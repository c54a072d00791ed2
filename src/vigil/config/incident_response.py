"""The stack file's settings for what follows an alert: postmortems and flapping.

```yaml
postmortem: {folder: docs/incidents, template: docs/postmortem.md.j2}
flapping: {changes: 5, within: 10m, stable: 5m}
```
"""

from __future__ import annotations

from pydantic import Field, model_validator

from vigil.config.check import StrictModel
from vigil.config.durations import Duration


class PostmortemSettings(StrictModel):
    folder: str = Field(
        "docs/incidents",
        min_length=1,
        max_length=1000,
        description="Where `vigil incident postmortem` writes, relative to the stack file.",
    )
    template: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="A Jinja2 Markdown template replacing Vigil's own, relative to the stack file.",
    )


class FlapSettings(StrictModel):
    """An alert that changes between failing and passing ``changes`` times within ``within`` is
    held as flapping: it pages once it has stayed failing for ``stable``, and resolves once it
    has stayed passing that long."""

    changes: int = Field(5, ge=2, le=1000, description="Changes (fire or resolve) that make it flapping.")
    within: Duration = Field(600.0, ge=1.0, le=86400.0, description="The window the changes are counted in.")
    stable: Duration = Field(300.0, ge=1.0, le=86400.0, description="How long it must stay put to settle.")

    @model_validator(mode="after")
    def _sensible(self) -> FlapSettings:
        if self.stable > self.within * 10:
            raise ValueError(
                "stable is more than ten times within: a flapping alert would be held for very long"
            )
        return self
