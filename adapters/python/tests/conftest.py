from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import READERLAB, FaultProxy, Harness, ServedRig


@pytest.fixture(scope="session")
def served_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRig]:
    if not READERLAB.exists():
        pytest.fail(f"{READERLAB} is missing: build it (cargo build --release) first")
    rig = ServedRig(tmp_path_factory.mktemp("serve") / "data")
    yield rig
    rig.stop()


@pytest.fixture
def harness(served_rig: ServedRig, tmp_path: Path) -> Iterator[Harness]:
    """A fresh rig with two S700 readers; the adapter reaches it through a FaultProxy."""
    served_rig.start(["s700", "s700"])
    proxy = FaultProxy(served_rig.port)
    harness = Harness(served_rig, proxy, tmp_path)
    yield harness
    harness.close()
    proxy.stop()
