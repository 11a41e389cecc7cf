"""Figures of the cloud layer: retry timings, receiver throughput, Enhancor job latency.

Run: ``.venv/bin/python -m tests.bench.cloud_http`` (prints a table; no assertions). Uses the
loopback emulators, the local receiver and, for S3, moto's server on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from tests.emulators import load
from tests.emulators.drive import drive, make_context

from retouchdesk.core.schema import load_catalog
from retouchdesk.providers import http
from retouchdesk.providers.enhancor import EnhancorProvider
from retouchdesk.services.hosting import HostingService, LocalReceiver, S3Storage

DATA = Path(__file__).resolve().parents[1] / "data"


async def timed(coro) -> float:
    t = time.perf_counter()
    with contextlib.suppress(Exception):
        await coro
    return time.perf_counter() - t


async def retry_figures() -> None:
    emu = load("enhancor", api_key="bench-key-123456").start()
    path = "/api/upscaler/v1/status"
    body = {"request_id": "x"}
    headers = {"x-api-key": "bench-key-123456"}
    policy = http.RetryPolicy()  # the default: 4 tries, 0.5 s doubling, +-25 % jitter
    async with http.make_client(emu.url, retry=policy, headers=headers) as c:

        async def call():
            await http.send(c, "POST", path, vendor="E", safe=True, json=body, check=False)

        emu.faults.status(503, times=3, path=path)
        print(f"503 x3 then answer (default policy):      {await timed(call()):6.2f} s")
        emu.faults.rate_limit(retry_after=1, times=1, path=path)
        print(f"429 with Retry-After: 1 then answer:       {await timed(call()):6.2f} s")
        emu.faults.status(500, times=None, path=path)
        print(f"500 forever, 4 tries, then the error:      {await timed(call()):6.2f} s")
        emu.faults.clear()
        emu.faults.drop(times=2, path=path)
        print(f"2 dropped connections then answer:         {await timed(call()):6.2f} s")
    async with http.make_client("http://127.0.0.1:9", retry=policy) as c:
        t = await timed(http.send(c, "GET", "/", vendor="E"))
        print(f"connection refused, 4 tries, then error:   {t:6.2f} s")
    emu.stop()


async def receiver_figures() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.jpg"
        big.write_bytes(os.urandom(20 * 1024 * 1024))
        r = LocalReceiver()
        url = await r.publish("job", big)
        async with httpx.AsyncClient() as c:
            times = []
            for _ in range(5):
                t = time.perf_counter()
                resp = await c.get(url)
                times.append(time.perf_counter() - t)
                assert len(resp.content) == big.stat().st_size
        await r.aclose()
    mb_s = 20 / statistics.median(times)
    print(f"receiver: 20 MB file, median of 5 GETs:    {statistics.median(times):6.3f} s "
          f"({mb_s:.0f} MB/s)")  # fmt: skip


async def job_figures() -> None:
    op = load_catalog().operation("enhancor", "portrait_upscale")
    emu = load("enhancor", api_key="bench-key-123456", time_scale=0.1).start()
    with tempfile.TemporaryDirectory() as tmp:
        strategies = {"local receiver": HostingService(LocalReceiver())}
        moto = None
        try:
            from moto.server import ThreadedMotoServer

            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            moto.start()
            endpoint = f"http://127.0.0.1:{moto._server.server_port}"
            import boto3

            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                         aws_access_key_id="a" * 16, aws_secret_access_key="b" * 16,
                         ).create_bucket(Bucket="bench")  # fmt: skip
            strategies["S3 (moto)"] = HostingService(
                LocalReceiver(),
                S3Storage(
                    bucket="bench",
                    endpoint_url=endpoint,
                    access_key_id="a" * 16,
                    secret_access_key="b" * 16,
                ),
            )
        except Exception as exc:  # moto missing: report the local figure only
            print(f"(S3 skipped: {exc})")
        for name, hosting in strategies.items():
            p = EnhancorProvider(api_key="bench-key-123456", base_url=emu.url, hosting=hosting,
                                 poll_interval=0.1)  # fmt: skip
            ctx = make_context(op, DATA / "astronaut.png", {}, Path(tmp) / name.replace(" ", "_"))
            t = time.perf_counter()
            await drive(p, ctx, max_wait=0.1)
            total = time.perf_counter() - t
            await p.aclose()
            await hosting.aclose()
            print(f"Enhancor portrait upscale via {name:15s} {total:6.2f} s "
                  "(emulated processing 0.3 s + offline-engine output)")  # fmt: skip
        if moto is not None:
            moto.stop()
    emu.stop()


async def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request lines
    await retry_figures()
    await receiver_figures()
    await job_figures()


if __name__ == "__main__":
    asyncio.run(main())
