"""What an idle page (nothing in the window) costs the eBay sandbox, in CPU per request.

    uv run python scripts/bench_sandbox.py [--requests 300] [--profile-seconds 0]

Starts the sandbox as ``ebaysync up`` does (``uvicorn ebay_sandbox.app:create_app``, its own
process, one ``tiny`` seller), connects the seller through the consent page and the code grant,
then sends ``--requests`` idle requests per endpoint over one keep-alive connection, each with a
window of its own (as every run's window is new, the page cache never answers them), and reads the
sandbox process's CPU time (``/proc/<pid>/stat``) before and after. ``--profile-seconds`` also
samples the sandbox with py-spy (if on PATH) during a further round and prints its top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_profile
from embedded_servers import find_free_port

from common.ebay.scopes import SCOPE_STRING
from ebay_sandbox.consent import approve_consent
from ebaysync.supervisor import wait_for_http

CLIENT_ID, CLIENT_SECRET, RU_NAME = "bench-SBX-client", "bench-secret", "bench-RuName"
RECORD_KEYS = ("orders", "transactions", "paymentDisputeSummaries")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Request for an idle page of each measured endpoint: path and query for a window [start, end).
Build = Callable[[datetime, datetime], tuple[str, dict[str, str], dict[str, str]]]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def orders(start: datetime, end: datetime) -> tuple[str, dict[str, str], dict[str, str]]:
    return (
        "/sell/fulfillment/v1/order",
        {"filter": f"lastmodifieddate:[{iso(start)}..{iso(end)}]", "limit": "200"},
        {},
    )


def transactions(start: datetime, end: datetime) -> tuple[str, dict[str, str], dict[str, str]]:
    return (
        "/sell/finances/v1/transaction",
        {"filter": f"transactionDate:[{iso(start)}..{iso(end)}]", "limit": "200"},
        {},
    )


def payment_disputes(start: datetime, end: datetime) -> tuple[str, dict[str, str], dict[str, str]]:
    return (
        "/sell/fulfillment/v1/payment_dispute_summary",
        {"open_date_from": iso(start), "open_date_to": iso(end), "limit": "200"},
        {},
    )


ENDPOINTS: dict[str, Build] = {
    "getOrders": orders,
    "getTransactions": transactions,
    "getPaymentDisputeSummaries": payment_disputes,
}


def cpu_ticks(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


@contextlib.asynccontextmanager
async def sandbox_process() -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    port = find_free_port()
    env = {
        **os.environ,  # noqa: TID251  # passing the environment through to the child
        "SANDBOX_SELLERS": "1",
        "SANDBOX_PROFILE": "tiny",
        "SANDBOX_CLIENT_ID": CLIENT_ID,
        "SANDBOX_CLIENT_SECRET": CLIENT_SECRET,
        "SANDBOX_RU_NAME": RU_NAME,
    }
    argv = [sys.executable, "-m", "uvicorn", "ebay_sandbox.app:create_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_for_http(f"{url}/sandbox/clock", within=60)
        yield url, process
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def user_token(http: httpx.AsyncClient) -> str:
    seller = (await http.get("/sandbox/sellers")).json()[0]
    code = await approve_consent(
        http, username=seller["username"], client_id=CLIENT_ID, ru_name=RU_NAME, scopes=SCOPE_STRING
    )
    response = await http.post(
        "/identity/v1/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": RU_NAME},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def idle_round(
    http: httpx.AsyncClient, build: Build, requests: int, offset: int
) -> tuple[int, int]:
    """``requests`` idle pages, each a one-second window of its own; (requests, records seen)."""
    base = datetime.now(UTC) - timedelta(hours=2)
    records = 0
    for number in range(requests):
        start = base + timedelta(seconds=offset + number)
        path, params, headers = build(start, start + timedelta(milliseconds=900))
        response = await http.get(path, params=params, headers=headers)
        response.raise_for_status()
        body = response.json() if response.content else {}
        records += sum(len(body.get(key) or []) for key in RECORD_KEYS)
    return requests, records


def profile(pid: int, seconds: float) -> subprocess.Popen[bytes] | None:
    binary = shutil.which("py-spy")
    if binary is None or seconds <= 0:
        return None
    out = Path(tempfile.gettempdir()) / f"sandbox-idle-{pid}.collapsed"
    argv = [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    argv += ["--gil", "--nonblocking", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run_idle_bench(requests: int = 300, profile_seconds: float = 0) -> dict[str, Any]:
    result: dict[str, Any] = {"requests_per_endpoint": requests, "endpoints": {}}
    async with (
        sandbox_process() as (url, process),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        token = await user_token(http)
        http.headers["Authorization"] = f"Bearer {token}"
        # Warm up: the seller's world is generated on first use.
        for build in ENDPOINTS.values():
            await idle_round(http, build, 5, offset=-100)
        offset = 0
        total_ticks = total_requests = 0
        for name, build in ENDPOINTS.items():
            before = cpu_ticks(process.pid)
            started = time.perf_counter()
            done, records = await idle_round(http, build, requests, offset)
            wall = time.perf_counter() - started
            used = cpu_ticks(process.pid) - before
            offset += requests
            total_ticks += used
            total_requests += done
            result["endpoints"][name] = {
                "cpu_ms_per_request": round(1000 * used / CLOCK_TICKS / done, 3),
                "wall_ms_per_request": round(1000 * wall / done, 3),
                "records": records,
            }
        result["cpu_ms_per_idle_page"] = round(1000 * total_ticks / CLOCK_TICKS / total_requests, 3)
        sampler = profile(process.pid, profile_seconds)
        if sampler is not None:
            deadline = time.monotonic() + profile_seconds
            while time.monotonic() < deadline:
                for build in ENDPOINTS.values():
                    await idle_round(http, build, 20, offset)
                    offset += 20
            await asyncio.to_thread(sampler.wait)
            out = Path(tempfile.gettempdir()) / f"sandbox-idle-{process.pid}.collapsed"
            if out.exists():
                result["profile"] = bench_profile.top_functions(out.read_text(), limit=25)
    return result


def summary(result: dict[str, Any]) -> str:
    parts = ", ".join(
        f"{name} {v['cpu_ms_per_request']:.2f}" for name, v in result["endpoints"].items()
    )
    return (
        f"sandbox idle page: {result['cpu_ms_per_idle_page']:.2f} ms CPU (target <= 2 ms; {parts})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile-seconds", type=float, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(run_idle_bench(args.requests, args.profile_seconds))
    print(json.dumps(result, indent=2) if args.json else summary(result))  # noqa: T201
    if not args.json and "profile" in result:
        for kind in ("self", "inclusive"):
            print(f"{kind}:")  # noqa: T201
            for function, share in result["profile"][kind].items():
                print(f"  {share:5.1f}%  {function}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
