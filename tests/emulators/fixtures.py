"""Pytest fixtures that start vendor emulators on loopback (registered in tests/conftest.py).

``emulator("enhancor", time_scale=0.05, api_key="k")`` starts one and stops it at teardown;
tests then steer faults through ``emu.faults`` and inspect ``emu.received(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulators import load
from tests.emulators.harness import Emulator
from tests.emulators.youcam_support import Inputs

StartEmulator = Callable[..., Emulator]


@pytest.fixture
def emulator() -> Iterator[StartEmulator]:
    """A factory: ``emulator(name, **options)`` returns a started emulator of that vendor."""
    started: list[Emulator] = []

    def start(name: str, **options: Any) -> Emulator:
        emu = load(name, **options).start()
        started.append(emu)
        return emu

    yield start
    for emu in reversed(started):
        emu.stop()


@pytest.fixture
def youcam_inputs(data_dir: Path, tmp_path: Path) -> Inputs:
    """Input files every YouCam task can use (portrait, JPEG, mask, references...)."""
    return Inputs(data_dir, tmp_path / "inputs")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3 implementation (moto's server mode) on loopback; yields its endpoint URL.

    Session-scoped because it takes about a second to start; tests use their own buckets.
    """
    from moto.server import ThreadedMotoServer

    # Port 0: the kernel picks a free port as the server binds it (no window in which a test
    # in another process could take a port chosen beforehand).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh bucket on the loopback S3 server and the settings that reach it."""
    import uuid

    import boto3

    creds = {
        "endpoint_url": s3_server,
        "bucket": f"rd-{uuid.uuid4().hex[:12]}",
        "region": "us-east-1",
        "access_key_id": "AKIATESTRETOUCHDESK1",
        "secret_access_key": "test-secret-access-key-0123456789",
    }
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
    )
    client.create_bucket(Bucket=creds["bucket"])
    return creds
