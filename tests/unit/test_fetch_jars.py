"""roles/artifacts/files/fetch_jars.py against a loopback HTTP mirror: parallel downloads,
sha256 verification before a jar gets its final name, the cache kept, check mode."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles/artifacts/files/fetch_jars.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_jars", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fetch_jars"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


fetch_jars = _load()


@dataclass
class Mirror:
    url: str
    files: dict[str, bytes]
    delay: float = 0.0
    requests: list[tuple[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    """A Maven-layout mirror on 127.0.0.1 serving `files` (path -> bytes), `delay` s per GET."""
    state = Mirror(url="", files={})

    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self, body: bool) -> None:
            path = self.path.removeprefix("/maven2/")
            with state.lock:
                state.requests.append((self.command, path))
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                if body:
                    time.sleep(state.delay)
                data = state.files.get(path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def do_GET(self) -> None:
            self._serve(body=True)

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/maven2"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def entry(name: str, data: bytes, jar_set: str = "kafka") -> dict[str, str]:
    return {
        "set": jar_set,
        "gav": f"org.example:{name}:1.0",
        "path": f"org/example/{name}/1.0/{name}-1.0.jar",
        "file": f"{name}-1.0.jar",
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def publish(mirror: Mirror, name: str, data: bytes, jar_set: str = "kafka") -> dict[str, str]:
    jar = entry(name, data, jar_set)
    mirror.files[jar["path"]] = data
    return jar


def cli(
    mirror: Mirror, cache: Path, jars: list[dict[str, str]], *args: str
) -> subprocess.CompletedProcess[str]:
    argv = [f"--mirror={mirror.url}", f"--cache-dir={cache}", "--retry-delay=0", *args]
    return subprocess.run(
        [sys.executable, str(SCRIPT), *argv],
        input=json.dumps(jars),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob(".*.part"))


def test_downloads_in_parallel_and_reports_changed(mirror: Mirror, tmp_path: Path) -> None:
    mirror.delay = 0.3
    jars = [publish(mirror, f"lib{i}", f"jar {i}".encode() * 1000, "hadoop") for i in range(8)]
    jars.append(publish(mirror, "agent", b"jmx agent", "jmx"))
    start = time.monotonic()
    done = cli(mirror, tmp_path, jars, "--parallelism=4")
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["changed"] is True and summary["failed"] == []
    assert sorted(summary["downloaded"]) == sorted(f"{j['set']}/{j['file']}" for j in jars)
    for jar in jars:
        path = tmp_path / jar["set"] / jar["file"]
        assert path.read_bytes() == mirror.files[jar["path"]]
        assert path.stat().st_mode & 0o777 == 0o644
    assert mirror.max_in_flight == 4
    assert elapsed < 9 * 0.3, "no faster than one at a time"
    assert leftovers(tmp_path) == []


def test_sha256_mismatch_fails_with_one_line_and_leaves_no_file(
    mirror: Mirror, tmp_path: Path
) -> None:
    good = publish(mirror, "good", b"good bytes")
    bad = publish(mirror, "tampered", b"pinned bytes")
    mirror.files[bad["path"]] = b"other bytes"
    done = cli(mirror, tmp_path, [good, bad], "--retries=1")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith("fetch_jars: FAILED kafka: org.example:tampered:1.0: ")
    assert f"{mirror.url}/{bad['path']}" in line
    assert f"sha256 mismatch: got {hashlib.sha256(b'other bytes').hexdigest()}" in line
    assert f"manifest pins {bad['sha256']}" in line
    assert "(2 attempts); fix: check artifacts_mirror_url" in line
    assert "scripts/resolve-jars.sh" in line
    assert json.loads(done.stdout)["failed"] == [line.removeprefix("fetch_jars: FAILED ")]
    assert not (tmp_path / "kafka" / bad["file"]).exists()
    assert (tmp_path / "kafka" / good["file"]).read_bytes() == b"good bytes"
    assert mirror.requests.count(("GET", bad["path"])) == 2  # retried once, as asked
    assert leftovers(tmp_path) == []


def test_a_missing_jar_is_not_retried(mirror: Mirror, tmp_path: Path) -> None:
    jar = entry("gone", b"never published")
    done = cli(mirror, tmp_path, [jar])
    assert done.returncode == 1
    assert (
        "HTTP 404" in done.stderr and "(1 attempt); fix: check artifacts_mirror_url" in done.stderr
    )
    assert mirror.requests == [("GET", jar["path"])]
    assert leftovers(tmp_path) == []


def test_a_correct_cached_jar_is_kept_and_a_wrong_one_replaced(
    mirror: Mirror, tmp_path: Path
) -> None:
    kept = publish(mirror, "kept", b"kept bytes")
    fixed = publish(mirror, "fixed", b"right bytes")
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / kept["file"]).write_bytes(b"kept bytes")
    (tmp_path / "kafka" / fixed["file"]).write_bytes(b"stale bytes")
    summary = fetch_jars.run(
        fetch_jars.parse_jars([kept, fixed]), mirror.url, tmp_path, delay=0, parallelism=2
    )
    assert summary["cached"] == [f"kafka/{kept['file']}"]
    assert summary["downloaded"] == [f"kafka/{fixed['file']}"]
    assert mirror.requests == [("GET", fixed["path"])]
    assert (tmp_path / "kafka" / fixed["file"]).read_bytes() == b"right bytes"

    again = fetch_jars.run(fetch_jars.parse_jars([kept, fixed]), mirror.url, tmp_path)
    assert again["changed"] is False and len(again["cached"]) == 2
    assert len(mirror.requests) == 1


def test_check_mode_asks_the_mirror_and_writes_nothing(mirror: Mirror, tmp_path: Path) -> None:
    jar = publish(mirror, "new", b"new bytes")
    cache = tmp_path / "cache"
    done = cli(mirror, cache, [jar], "--mode=check")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["changed"] is True and summary["would_download"] == [f"kafka/{jar['file']}"]
    assert mirror.requests == [("HEAD", jar["path"])]
    assert not cache.exists()

    missing = cli(mirror, cache, [entry("gone", b"x")], "--mode=check")
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


@pytest.mark.parametrize(
    ("field_name", "value"), [("file", "../escape.jar"), ("set", ".."), ("sha256", "ABC")]
)
def test_refuses_entries_that_could_escape_the_cache_or_are_unpinned(
    mirror: Mirror, tmp_path: Path, field_name: str, value: str
) -> None:
    jar = entry("lib", b"bytes") | {field_name: value}
    done = cli(mirror, tmp_path, [jar])
    assert done.returncode == 2 and done.stderr.startswith("fetch_jars: ")
    assert mirror.requests == [] and list(tmp_path.iterdir()) == []
