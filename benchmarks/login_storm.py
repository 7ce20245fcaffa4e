"""Benchmark: a signed-in reviewer keeps working while 40 wrong passwords arrive at once.

Target (issue 7): the reviewer's p95 latency stays under 500 ms during the storm on a
2-core machine. Starts the real app (uvicorn in a subprocess, a SQLite file database, one
reviewer, one targeted user and 200 calls), signs the reviewer in, and has them load
/calls and /api/calls in a loop: first alone (baseline), then while 40 concurrent wrong
sign-ins for one username arrive at /login from one client. Prints the reviewer's request
count, median, p95 and worst latency in both phases, and the storm's status codes.

    python benchmarks/login_storm.py [--storm 40] [--baseline 3] [--repo PATH]

`--repo` runs another checkout of the code (e.g. `git worktree add /tmp/old <commit>`) with
this venv, to measure the code before a change the same way.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

PASSWORD = "correct-horse-1"
SECRET = "benchmark-secret-0123456789abcdef0123"

SETUP = """
import sys
from sqlmodel import SQLModel
import qm.models
from qm import migrate
from qm.db import make_engine, session_scope
from qm.models import Role
from tests.factories import make_call, make_user
engine = make_engine(sys.argv[1])
SQLModel.metadata.create_all(engine)
migrate.stamp_head(engine)
with session_scope(engine) as s:
    make_user(s, "rita", Role.REVIEWER)
    make_user(s, "ada", Role.ADMIN)
    for i in range(200):
        make_call(s, f"c-{i:04d}", agent_id=f"a-{i % 20}")
engine.dispose()
"""

SERVE = """
import sys
import uvicorn
import qm
from qm.app import create_app
from qm.settings import Settings
print("serving", qm.__file__, flush=True)
settings = Settings(database_url=sys.argv[1], secret_key=sys.argv[3], _env_file=None)
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def csrf(client: httpx.Client) -> str:
    """GET /login so that the client holds a CSRF cookie; the token is the cookie's value."""
    client.get("/login")
    return str(client.cookies["csrftoken"])


def sign_in(client: httpx.Client, username: str, password: str) -> None:
    token = csrf(client)
    response = client.post(
        "/login", data={"username": username, "password": password, "_csrf_token": token}
    )
    if response.status_code != 303:
        raise SystemExit(f"sign-in as {username} failed: HTTP {response.status_code}")


def browse(base: str, stop: threading.Event, samples: list[tuple[float, float, int]]) -> None:
    """The reviewer: /calls and /api/calls, one after the other, until told to stop."""
    with httpx.Client(base_url=base, timeout=300, follow_redirects=False) as client:
        sign_in(client, "rita", PASSWORD)
        paths = ("/calls", "/api/calls")
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            response = client.get(paths[n % 2])
            samples.append((started, time.perf_counter() - started, response.status_code))
            n += 1


def storm(base: str, size: int) -> tuple[Counter[int], float]:
    """`size` wrong passwords for "ada" at once from one client; status codes and duration."""
    with httpx.Client(base_url=base, timeout=300) as client:
        token = csrf(client)
    cookies = {"csrftoken": token}
    form = {"username": "ada", "password": "wrong-password", "_csrf_token": token}
    barrier = threading.Barrier(size)

    def one(_: int) -> int:
        with httpx.Client(base_url=base, timeout=300, cookies=cookies) as client:
            barrier.wait()
            return client.post("/login", data=form).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(size) as pool:
        codes = Counter(pool.map(one, range(size)))
    return codes, time.perf_counter() - started


def describe(label: str, latencies: list[float]) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) >= 2 else ms[0]
    print(
        f"{label}: {len(ms)} requests, median {statistics.median(ms):.0f} ms, "
        f"p95 {p95:.0f} ms, worst {ms[-1]:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storm", type=int, default=40, help="concurrent wrong sign-ins")
    parser.add_argument("--baseline", type=float, default=3.0, help="seconds browsing alone")
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    repo = args.repo.resolve()
    env = {**os.environ, "PYTHONPATH": str(repo)}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'qm.db'}"
        subprocess.run([sys.executable, "-c", SETUP, url], cwd=repo, env=env, check=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, url, str(port), SECRET],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            assert server.stdout is not None
            print(server.stdout.readline().strip())
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            samples: list[tuple[float, float, int]] = []
            stop = threading.Event()
            reviewer = threading.Thread(target=browse, args=(base, stop, samples))
            reviewer.start()
            time.sleep(args.baseline)
            storm_start = time.perf_counter()
            codes, duration = storm(base, args.storm)
            storm_end = storm_start + duration
            stop.set()
            reviewer.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    during = [t for start, t, _ in samples if storm_start <= start < storm_end]
    # The hashing happens in the storm's first moments; the rest is throttle delays.
    first = [t for start, t, _ in samples if storm_start <= start < storm_start + 2]
    before = [t for start, t, _ in samples if start < storm_start]
    bad = Counter(code for _, _, code in samples if code != 200)
    print(f"code: {repo}, {os.cpu_count()} CPUs")
    describe("reviewer alone      ", before)
    if during:
        describe("reviewer during storm", during)
        describe("  its first 2 s      ", first)
    else:
        print("reviewer during storm: no request finished starting inside the storm")
    print(f"reviewer non-200 answers: {dict(bad) or 'none'}")
    print(
        f"storm: {args.storm} wrong sign-ins in {duration:.1f} s, status codes "
        + ", ".join(f"{code} x{n}" for code, n in sorted(codes.items()))
    )


if __name__ == "__main__":
    main()
