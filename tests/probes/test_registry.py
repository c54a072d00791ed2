"""Every probe module is registered once, and every kind honours the shared contract."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import vigil.probes
from vigil.config.check import CheckBase
from vigil.probes.base import ProbeKind
from vigil.probes.registry import KINDS


def test_every_probe_module_with_a_kind_is_in_the_registry() -> None:
    declared = set()
    for module_info in pkgutil.iter_modules(vigil.probes.__path__):
        module = importlib.import_module(f"vigil.probes.{module_info.name}")
        kind = getattr(module, "KIND", None)
        if isinstance(kind, ProbeKind):
            declared.add(kind.name)
    assert declared == set(KINDS)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_names_its_probe_key_and_accepts_the_shared_scheduling_fields(name: str) -> None:
    kind = KINDS[name]
    assert issubclass(kind.config, CheckBase)
    assert kind.config.kind == name
    assert name in kind.config.model_fields
    for shared in ("every", "timeout", "retries"):
        assert shared in kind.config.model_fields


@pytest.mark.parametrize("name", sorted(KINDS))
async def test_each_probe_can_be_closed_without_having_run(name: str) -> None:
    probe = KINDS[name].factory()
    await probe.close()


def test_every_declared_metric_is_named_for_its_kind_once_and_documented_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    names = [(name, m.name) for name, kind in KINDS.items() for m in kind.metrics]
    assert len({metric for _, metric in names}) == len(names)
    for kind, metric in names:
        assert metric.startswith(f"vigil_{kind}_")
        assert f"`{metric}`" in readme, f"{metric} is not in the README's metrics table"
