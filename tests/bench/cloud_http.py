"""Figures of the cloud layer: the app's engine against a raw client, retries, receiver.

Run: ``.venv/bin/python -m tests.bench.cloud_http`` (prints figures; no assertions), or only
the ratio with ``--wire [--pairs 5] [--photos 10] [--result .png|.jpg]``.

**Wire speed** (``--wire``): 10 photos through Enhancor's protocol at 0.1 s polling, once
through the app (``build_runtime`` as ``retouchdesk run`` builds it, the key in the
environment, the engine's batch, results written next to the photos) and once by a raw httpx
client speaking the same protocol (host the photo, ``/queue``, ``/status`` every 0.1 s, GET
the result, write its bytes), four jobs at once in both, against the same emulator running in
its own process. The two runs alternate; the median of the pairs' ratios is printed.

Both timed windows hold their arm's setup and teardown, so neither is timed without its own:
the app's ``build_runtime`` (about 5 ms: settings, catalogue, job database), its engine start,
its API client (httpx builds an SSL context, about 30 ms, in both arms) and ``aclose``; the
raw client's file server and its ``AsyncClient``. What only the app does is its job and is
timed: checking that each photo decodes before it is sent, proving each result whole before
writing it with the photo's metadata, durable job rows, and atomic, fsynced result files.

The other figures use the loopback emulators, the local receiver and, for S3, moto's server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
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
            assert moto._server is not None  # set by start()
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


# -- wire speed: the app's engine against a raw httpx client ---------------------------------

KEY = "bench-key-5d1e9c0a"
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png")
ENDPOINT = "/api/upscaler/v1"
AT_ONCE = 4  # Enhancor's declared concurrency; the raw client gets the same


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(result_suffix: str) -> tuple[subprocess.Popen, str]:
    """The Enhancor emulator in its own process (its image work never shares our GIL)."""
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.emulators", "enhancor", "--port", str(port),
         "--set", f"api_key={KEY}", "--set", "time_scale=0.1",
         "--set", f"result_suffix={result_suffix}", "--set", "reuse_renders=true"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "gui"), str(root)])},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            return proc, url
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the emulator did not start")


def make_photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        name = PHOTOS[i % len(PHOTOS)]
        dest = folder / f"{i:02d}_{name}"
        shutil.copyfile(DATA / name, dest)
        out.append(dest)
    return out


async def _serve_files(folder: Path) -> asyncio.Server:
    """The raw client's hosting, on the same loop: GET a photo by name; POST (the webhook)
    is answered 200. HTTP/1.1 with one request per connection, as the emulator asks."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            body = b""
            if method == "GET":
                path = folder / target.lstrip("/")
                body = path.read_bytes() if path.is_file() else b""
            status = "200 OK" if body or method == "POST" else "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def raw_batch(url: str, photos: list[Path], out_dir: Path) -> float:
    """The same protocol by hand: host, queue, poll every 0.1 s, download, write the bytes."""
    t0 = time.perf_counter()
    server = await _serve_files(photos[0].parent)
    host = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    slots = asyncio.Semaphore(AT_ONCE)
    headers = {"x-api-key": KEY}

    async def one(client: httpx.AsyncClient, photo: Path) -> None:
        async with slots:
            body = {"img_url": f"{host}/{photo.name}", "webhookUrl": f"{host}/hook",
                    "mode": "fast"}  # fmt: skip
            r = await client.post(f"{url}{ENDPOINT}/queue", json=body, headers=headers)
            request_id = r.json()["requestId"]
            while True:
                r = await client.post(f"{url}{ENDPOINT}/status", headers=headers,
                                      json={"request_id": request_id})  # fmt: skip
                status = r.json()
                if status["status"] == "COMPLETED" and status.get("result"):
                    break
                await asyncio.sleep(0.1)
            data = (await client.get(status["result"])).content
            suffix = Path(httpx.URL(status["result"]).path).suffix or ".png"
            (out_dir / f"{photo.stem}_enhancor{suffix}").write_bytes(data)

    async with httpx.AsyncClient(timeout=30.0) as client:
        await asyncio.gather(*(one(client, p) for p in photos))
    server.close()
    await server.wait_closed()
    return time.perf_counter() - t0


async def engine_batch(url: str, photos: list[Path], out_dir: Path, home: Path) -> float:
    """The app's way: the runtime ``retouchdesk run`` builds, one batch through the engine."""
    env = {
        "RETOUCHDESK_HOME": str(home),
        "RETOUCHDESK_ENHANCOR_API_KEY": KEY,
        "RETOUCHDESK_ENHANCOR_BASE_URL": url,
        "RETOUCHDESK_ENHANCOR_POLL_INTERVAL": "0.1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from retouchdesk.services.engine import JobRequest
        from retouchdesk.services.runtime import build_runtime

        t0 = time.perf_counter()
        rt = build_runtime(lazy_secrets=True)
        try:
            rt.engine.start(resume=False)
            requests = [
                JobRequest("enhancor", "portrait_upscale", p, {"mode": "fast"}, output_dir=out_dir)
                for p in photos
            ]
            batch = rt.engine.submit_batch(requests)
            jobs = await rt.engine.wait([j.id for j in rt.engine.batch_jobs(batch)], timeout=120)
        finally:
            await rt.aclose()
        elapsed = time.perf_counter() - t0
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    failed = [j.error for j in jobs if j.state.value != "done"]
    if failed:
        raise RuntimeError(f"engine jobs failed: {failed[:2]}")
    return elapsed


def _cpu() -> float:
    """CPU seconds of this process, all threads (the emulator runs in its own process)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def wire_figures(pairs: int = 5, count: int = 10, result_suffix: str = ".png") -> float:
    """Alternate raw and engine batches; print each pair and the median ratio.

    Wall time is the figure the target is about; the CPU seconds of each arm are printed
    too, because on a loaded machine they are the steadier measure of the client's work.
    """
    proc, url = start_emulator(result_suffix)
    ratios: list[float] = []
    wall: dict[str, list[float]] = {"raw": [], "app": []}
    cpu: dict[str, list[float]] = {"raw": [], "app": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            photos = make_photos(root / "photos", count)
            await raw_batch(url, photos[:3], root / "warm_raw")  # every render, first connections
            await engine_batch(url, photos[:2], root / "warm_app", root / "warm_home")
            for i in range(pairs):
                order = ("raw", "app") if i % 2 == 0 else ("app", "raw")
                for arm in order:
                    c = _cpu()
                    if arm == "raw":
                        t = await raw_batch(url, photos, root / f"raw{i}")
                    else:
                        t = await engine_batch(url, photos, root / f"app{i}", root / f"h{i}")
                    wall[arm].append(t)
                    cpu[arm].append(_cpu() - c)
                ratios.append(wall["app"][-1] / wall["raw"][-1])
                print(f"pair {i + 1}: app {wall['app'][-1]:5.2f} s ({cpu['app'][-1]:4.2f} s CPU), "
                      f"raw httpx {wall['raw'][-1]:5.2f} s ({cpu['raw'][-1]:4.2f} s CPU), "
                      f"ratio {ratios[-1]:.2f}x", flush=True)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
    med = statistics.median
    ratio = med(ratios)
    print(f"Enhancor, {count} photos, 0.1 s polling, {result_suffix} results: "
          f"app {med(wall['app']):.2f} s, raw httpx {med(wall['raw']):.2f} s, "
          f"median ratio {ratio:.2f}x over {pairs} pairs (target <= 1.10x); "
          f"CPU app {med(cpu['app']):.2f} s, raw {med(cpu['raw']):.2f} s")  # fmt: skip
    return ratio


async def main() -> None:
    import logging

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--wire", action="store_true", help="only the engine/raw ratio")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--result", default=".png", help="the emulator's result container")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request lines
    await wire_figures(args.pairs, args.photos, args.result)
    if args.wire:
        return
    await retry_figures()
    await receiver_figures()
    await job_figures()


if __name__ == "__main__":
    asyncio.run(main())
