"""The demo target, one process per test module, as ``vigil demo`` starts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vigil.demo.process import start_target_process, stop_target_process


@pytest.fixture(scope="module")
def target_url() -> Iterator[str]:
    process, url = start_target_process()
    try:
        yield url
    finally:
        stop_target_process(process)
