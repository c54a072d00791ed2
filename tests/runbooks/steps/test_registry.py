"""Every kind of step that runs has exactly one runner, and every step module is registered."""

from __future__ import annotations

import pkgutil

from vigil.runbooks import steps
from vigil.runbooks.model import StepKind
from vigil.runbooks.steps import RUNNERS

HELPERS = {"base", "sql_drivers"}  # the protocol, and the drivers sql.py runs statements with


def test_every_runnable_kind_has_a_runner_and_shown_has_none() -> None:
    assert set(RUNNERS) == {kind for kind in StepKind if kind is not StepKind.SHOWN}


def test_every_step_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(steps.__path__)} - HELPERS
    registered = {type(runner).__module__.rsplit(".", 1)[1] for runner in RUNNERS.values()}
    assert modules == registered
