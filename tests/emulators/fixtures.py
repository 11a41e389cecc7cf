"""Pytest fixtures that start vendor emulators on loopback (registered in tests/conftest.py).

``emulator("enhancor", time_scale=0.05, api_key="k")`` starts one and stops it at teardown;
tests then steer faults through ``emu.faults`` and inspect ``emu.received(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.emulators import load
from tests.emulators.harness import Emulator

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


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3 implementation (moto's server mode) on loopback; yields its endpoint URL.

    Session-scoped because it takes about a second to start; tests use their own buckets.
    """
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
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
