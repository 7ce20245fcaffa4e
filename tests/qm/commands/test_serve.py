"""`qm serve --workers N`: several web processes answer as one site (sessions and sign-in
live in the database, so a request may land on any worker)."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from tests.conftest import TEST_SECRET
from tests.qm.commands.subprocess_qm import QM, run_qm

PASSWORD = "correct-horse-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name is in parentheses and may hold spaces: split after it.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_two_workers_serve_one_signed_in_session(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qm.db'}"
    run_qm("init", db_url=url, cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    env |= {"QM_DATABASE_URL": url, "QM_SECRET_KEY": TEST_SECRET, "QM_NEW_PASSWORD": PASSWORD}
    subprocess.run(
        [QM, "users", "add", "rita", "--role", "reviewer"], env=env, cwd=tmp_path, check=True
    )
    port = _free_port()
    server = subprocess.Popen(
        [QM, "serve", "--workers", "2", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "the server did not start in 60 s"
            time.sleep(0.3)
        # Two worker processes under the one uvicorn supervisor (started by
        # multiprocessing's spawn; its resource tracker is a child too, but not a worker).
        workers = [
            p
            for p in _children(server.pid)
            if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        assert len(workers) == 2

        with httpx.Client(base_url=base) as browser:
            page = BeautifulSoup(browser.get("/login").text, "html.parser")
            field = page.select_one('input[name="_csrf_token"]')
            assert field is not None
            signed_in = browser.post(
                "/login",
                data={"username": "rita", "password": PASSWORD, "_csrf_token": field["value"]},
            )
            assert signed_in.status_code in (200, 303)
        cookies = browser.cookies
        # Every request on a new connection: the kernel spreads them over the workers,
        # and each must know the session.
        for _ in range(12):
            with httpx.Client(base_url=base, cookies=cookies) as fresh:
                response = fresh.get("/calls", follow_redirects=False)
                assert response.status_code == 200, response.headers.get("location")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
