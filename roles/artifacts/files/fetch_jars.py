#!/usr/bin/env python3
"""Download pinned jars into the controller cache in parallel, verifying each sha256.

Run by roles/artifacts (tasks/install.yml) with the playbook's Python; stdlib only.
stdin: a JSON list of manifest entries {set, gav, path, file, sha256}; each lands in
<cache-dir>/<set>/<file>, fetched from <mirror>/<path>. A jar is written under a temporary
name in its final directory and renamed only once its sha256 matches, so the final name
never holds unverified bytes. A file already there with the right sha256 is kept.

--mode=check downloads and writes nothing: it asks the mirror for each missing jar (HEAD),
like get_url in check mode.

stdout: one JSON summary, {"changed": ..., "downloaded": [...], ...}. stderr: one line per
failed jar (which jar, URL, what went wrong, the fix). Exit status 1 if any jar failed, 2 on
bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
USER_AGENT = "benchlab-fetch-jars/1"
SHA256 = re.compile(r"[0-9a-f]{64}")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
FIX_MANIFEST = "regenerate the manifest with scripts/resolve-jars.sh"
FIX_MIRROR = "check artifacts_mirror_url (Maven Central or a faithful mirror of it)"


@dataclass(frozen=True)
class Jar:
    set: str
    gav: str
    path: str
    file: str
    sha256: str


class FetchError(Exception):
    """A failed attempt: what went wrong, the fix, and whether another attempt may help."""

    def __init__(self, what: str, fix: str, *, transient: bool) -> None:
        super().__init__(what)
        self.what, self.fix, self.transient = what, fix, transient


def parse_jars(data: object) -> list[Jar]:
    """Manifest entries, refusing anything that could write outside the cache."""
    if not isinstance(data, list):
        raise ValueError("stdin must be a JSON list of manifest entries")
    jars = []
    for entry in data:
        try:
            jar = Jar(**{k: entry[k] for k in ("set", "gav", "path", "file", "sha256")})
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"manifest entry {entry!r} needs set, gav, path, file, sha256"
            ) from exc
        if not (NAME.fullmatch(jar.set) and NAME.fullmatch(jar.file)):
            raise ValueError(f"bad set or file name in {entry!r}")
        if not SHA256.fullmatch(jar.sha256):
            raise ValueError(f"{jar.gav}: sha256 {jar.sha256!r} is not 64 lowercase hex digits")
        jars.append(jar)
    return jars


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


_system_getaddrinfo = socket.getaddrinfo


@cache
def _getaddrinfo_once(*args: Any, **kwargs: Any) -> list[Any]:
    # One lookup per mirror host, not one per jar: a slow or flaky resolver otherwise
    # costs a retry delay on a few jars of every run. Failures are not cached.
    return _system_getaddrinfo(*args, **kwargs)


@cache
def _opener() -> urllib.request.OpenerDirector:
    # One TLS context for every request: urlopen loads the CA bundle again per connection
    # (~25 ms of CPU each, more than the downloads' own CPU).
    https = urllib.request.HTTPSHandler(context=ssl.create_default_context())
    return urllib.request.build_opener(https)  # keeps the *_proxy environment, like get_url


def _request(url: str, method: str, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    try:
        return _opener().open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        # 408/429/5xx may pass on a later attempt; any other status will not.
        transient = exc.code in (408, 429) or exc.code >= 500
        fix = "retry later, or " + FIX_MIRROR if transient else FIX_MIRROR + " or " + FIX_MANIFEST
        raise FetchError(f"HTTP {exc.code} {exc.reason}", fix, transient=transient) from exc
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        reason = getattr(exc, "reason", exc)
        raise FetchError(
            f"no answer ({reason})",
            "check the controller's network or proxy access to the mirror, "
            "or raise artifacts_download_timeout",
            transient=True,
        ) from exc


def _download(jar: Jar, url: str, dest: Path, timeout: float) -> None:
    """One attempt: stream to a temporary file next to dest, rename it if the sha256 matches."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{jar.file}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise FetchError(
            f"cannot write to {dest.parent} ({exc})",
            "make artifacts_cache_dir writable by the controller user",
            transient=False,
        ) from exc
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, _request(url, "GET", timeout) as response:
            try:
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            except (OSError, http.client.HTTPException) as exc:  # timeout, reset, short read
                raise FetchError(
                    f"transfer broken ({exc})",
                    "check the controller's network, or raise artifacts_download_timeout",
                    transient=True,
                ) from exc
        got = digest.hexdigest()
        if got != jar.sha256:
            # Retried: a corrupted transfer passes next time, a different file will not.
            raise FetchError(
                f"sha256 mismatch: got {got}, manifest pins {jar.sha256}",
                f"{FIX_MIRROR}; if the version changed on purpose, {FIX_MANIFEST}",
                transient=True,
            )
        tmp.chmod(0o644)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(
    jar: Jar,
    mirror: str,
    cache_dir: Path,
    *,
    check: bool,
    timeout: float,
    attempts: int,
    delay: float,
) -> tuple[str, str]:
    """('cached' | 'downloaded' | 'would_download' | 'failed', failure line)."""
    dest = cache_dir / jar.set / jar.file
    url = f"{mirror.rstrip('/')}/{jar.path.lstrip('/')}"
    if dest.is_file() and sha256_of(dest) == jar.sha256:
        return "cached", ""
    for attempt in range(1, attempts + 1):
        try:
            if check:
                _request(url, "HEAD", timeout).close()
                return "would_download", ""
            _download(jar, url, dest, timeout)
            return "downloaded", ""
        except FetchError as exc:
            if not exc.transient or attempt == attempts:
                tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                return (
                    "failed",
                    f"{jar.set}: {jar.gav}: {url}: {exc.what} ({tries}); fix: {exc.fix}",
                )
            time.sleep(delay)
    raise AssertionError("unreachable")


def run(
    jars: list[Jar],
    mirror: str,
    cache_dir: Path,
    *,
    check: bool = False,
    parallelism: int = 8,
    timeout: float = 120,
    attempts: int = 4,
    delay: float = 5,
) -> dict[str, Any]:
    """Fetch every jar with `parallelism` workers; the summary printed on stdout."""
    start = time.monotonic()
    _opener()  # built before the workers start
    one = partial(
        fetch,
        mirror=mirror,
        cache_dir=cache_dir,
        check=check,
        timeout=timeout,
        attempts=attempts,
        delay=delay,
    )
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        results = list(zip(jars, pool.map(one, jars), strict=True))
    summary: dict[str, Any] = {
        key: [f"{jar.set}/{jar.file}" for jar, (status, _) in results if status == key]
        for key in ("downloaded", "would_download", "cached")
    }
    summary["failed"] = [line for _, (status, line) in results if status == "failed"]
    summary["changed"] = bool(summary["downloaded"] or summary["would_download"])
    summary["seconds"] = round(time.monotonic() - start, 2)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", required=True, help="Maven repository root URL")
    parser.add_argument("--cache-dir", required=True, type=Path, help="<cache>/<set>/<file>")
    parser.add_argument("--mode", choices=("download", "check"), default="download")
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per network operation")
    parser.add_argument("--retries", type=int, default=3, help="extra attempts per jar")
    parser.add_argument("--retry-delay", type=float, default=5, help="seconds between attempts")
    args = parser.parse_args(argv)
    socket.getaddrinfo = _getaddrinfo_once  # this process only talks to the mirror
    if args.parallelism < 1 or args.retries < 0 or args.timeout <= 0:
        parser.error("--parallelism must be >= 1, --retries >= 0 and --timeout > 0")
    try:
        jars = parse_jars(json.load(sys.stdin))
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        print(f"fetch_jars: {exc}", file=sys.stderr)
        return 2
    summary = run(
        jars,
        args.mirror,
        args.cache_dir,
        check=args.mode == "check",
        parallelism=args.parallelism,
        timeout=args.timeout,
        attempts=args.retries + 1,
        delay=args.retry_delay,
    )
    json.dump(summary, sys.stdout)
    print()
    for line in summary["failed"]:
        print(f"fetch_jars: FAILED {line}", file=sys.stderr)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
