"""Dependency inhibition: when a service a check depends on is failing, the check's failure is a
symptom of that outage, not a second page.

``depends_on`` forms a graph; a check's service is inhibited by any service it needs, directly
or through others, that has a failing check. The most fundamental failing dependency (one
whose own dependencies are healthy) is named as the probable root cause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence


class DependencyGraph:
    def __init__(self, depends_on: Mapping[str, Sequence[str]]) -> None:
        self.direct = {name: list(deps) for name, deps in depends_on.items()}
        self.closure = {name: self._reach(name) for name in self.direct}

    def _reach(self, start: str) -> list[str]:
        seen: list[str] = []
        stack = list(self.direct.get(start, []))
        while stack:
            name = stack.pop(0)
            if name not in seen and name != start:
                seen.append(name)
                stack.extend(self.direct.get(name, []))
        return seen

    def root_cause(self, service: str, failing: Callable[[str], bool]) -> str | None:
        """The failing dependency of ``service`` whose own dependencies are all healthy, else None."""
        candidates = [dep for dep in self.closure.get(service, []) if failing(dep)]
        for dep in candidates:
            if not any(failing(deeper) for deeper in self.closure.get(dep, [])):
                return dep
        return candidates[0] if candidates else None
