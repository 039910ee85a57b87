"""Behind a real load balancer: docs/DEPLOY.md's nginx configuration in front of two
`feedpub serve` instances on one PostgreSQL store, all on 127.0.0.1.

A reader polls a feed through nginx (with and without its ETag) while one instance is
killed with SIGKILL and started again: every poll is answered 200 or 304, never an error.
nginx runs as a user other than root, with a prefix of its own in a temporary folder; its
access log shows the request it passed on to the other instance, and the restarted instance
taking requests again once its fail_timeout is over.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from .conftest import free_port
from .harness import Served, stop_all, wait_for

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "DEPLOY.md"
BASE_URL = "https://okes.example"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if os.access(path, os.X_OK)), None)
    if found is None:
        reason = "nginx is not installed (apt-get install nginx); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {reason}")
        pytest.skip(reason)
    return found


def deploy_config(first: int, second: int, listen: int) -> str:
    """The nginx block of docs/DEPLOY.md, with this machine's addresses in place of the doc's."""
    block = re.search(r"```nginx\n(.*?)```", DEPLOY.read_text(encoding="utf-8"), re.S).group(1)
    for old, new in (("10.0.0.11:8080", f"127.0.0.1:{first}"), ("10.0.0.12:8080", f"127.0.0.1:{second}"),
                     ("listen 80;", f"listen 127.0.0.1:{listen};")):
        assert old in block, f"docs/DEPLOY.md's nginx block no longer says {old!r}"
        block = block.replace(old, new)
    return block


class Nginx:
    """nginx in the foreground with a prefix of its own, as a user other than root."""

    def __init__(self, http_block: str):
        self.prefix = Path(tempfile.mkdtemp(prefix="feedpub-nginx-"))
        temp = "\n".join(f"    {kind}_temp_path {self.prefix / kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (self.prefix / "nginx.conf").write_text(
            f"worker_processes 1;\ndaemon off;\npid {self.prefix / 'nginx.pid'};\n"
            f"error_log {self.prefix / 'error.log'} warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n{temp}\n    log_format balanced '$status $upstream_addr $upstream_status';\n"
            f"    access_log {self.prefix / 'access.log'} balanced;\n{http_block}}}\n", encoding="utf-8")
        user = {}
        if os.geteuid() == 0:   # never as root: as nobody, who owns the prefix
            nobody = pwd.getpwnam("nobody")
            for path in (self.prefix, *self.prefix.iterdir()):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        self.process = subprocess.Popen(
            [nginx_binary(), "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
             "-e", str(self.prefix / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **user)

    def access_log(self) -> list[str]:
        return (self.prefix / "access.log").read_text().splitlines()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)   # graceful
        try:
            self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            shutil.rmtree(self.prefix, ignore_errors=True)


def site_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "feedpub.toml").write_text(
        f'[site]\nbase_url = "{BASE_URL}"\n[schedule]\nrebuild_minutes = 60\n[server]\nworkers = 1\n'
        f'[output]\npath = "{folder / "public"}"\n[store]\npath = "{folder / "data" / "feedpub.sqlite3"}"\n',
        encoding="utf-8")
    return folder


class Reader:
    """Polls /atom.xml through nginx without pause, every other time with the ETag it has."""

    def __init__(self, url: str):
        self.url = url
        self.answers: list[int] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        etag = None
        with requests.Session() as session:
            while not self._stop.is_set():
                headers = {"If-None-Match": etag} if etag and len(self.answers) % 2 else {}
                try:
                    response = session.get(self.url + "/atom.xml", headers=headers, timeout=30)
                except requests.RequestException as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                self.answers.append(response.status_code)
                if response.status_code == 200 and b"<feed" in response.content:
                    etag = response.headers.get("ETag")
                elif response.status_code != 304:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
                time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=40)


def test_polls_through_nginx_never_fail_while_an_instance_is_killed_and_restarted(postgres_url, tmp_path,
                                                                                   monkeypatch):
    nginx_binary()   # skip (or fail under CI) before starting anything
    monkeypatch.setenv("FEEDPUB_STORE_URL", postgres_url)
    folders = [site_folder(tmp_path / name) for name in ("a", "b")]
    ports = [free_port(), free_port()]
    instances = [Served(folder, port=port, wait=False, log=folder / "serve.log")
                 for folder, port in zip(folders, ports)]
    nginx = reader = None
    try:
        for served in instances:
            served.wait_until_serving()
        listen = free_port()
        nginx = Nginx(deploy_config(ports[0], ports[1], listen))
        front = f"http://127.0.0.1:{listen}"
        wait_for(lambda: _answers(front))
        reader = Reader(front)
        time.sleep(1)

        first = instances[0]
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        time.sleep(3)   # its server workers end within a second of it: connections are refused after
        killed_at = len(nginx.access_log())
        instances[0] = Served(folders[0], port=ports[0], log=folders[0] / "serve.log")
        time.sleep(7)   # past fail_timeout (5 s): nginx tries it again and keeps it
        reader.stop()

        assert not reader.failures, reader.failures[:5]
        assert set(reader.answers) <= {200, 304} and 304 in reader.answers
        log = nginx.access_log()
        a, b = f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"
        # A request nginx sent to the killed instance was answered by the other ...
        assert any(line.split(" ", 1)[1].startswith(f"{a}, {b}") for line in log), log[-20:]
        # ... and once it was back, the restarted instance answered again.
        assert any(line.split(" ", 1)[1].startswith(a) and b not in line for line in log[killed_at:]), log[-20:]
    finally:
        if reader is not None:
            reader.stop()
        if nginx is not None:
            nginx.stop()
        stop_all(instances)


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/atom.xml", timeout=5).status_code == 200
    except requests.RequestException:
        return False
