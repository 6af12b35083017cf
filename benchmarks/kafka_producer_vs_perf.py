#!/usr/bin/env python3
"""The kit's Kafka sink vs Kafka's ProducerPerformance, same broker, same records, steady state.

One after the other on the same broker and topic (by default a temporary topic with the
partitions and replication of the kit's topic, deleted at the end):

* reference: ``org.apache.kafka.tools.ProducerPerformance`` (kafka-producer-perf-test) from the
  kafka-tools jar, unthrottled, acks=all, idempotent, the linger.ms, batch.size, compression
  and max in-flight of the kit's producer (benchlab.sinks.kafka.DEFAULT_PRODUCER_CONFIG), its
  payloads a file of the kit's own encoded records (same bytes, same compressibility);
* kit: benchlab.loadgen's run_load with N worker processes, each a KafkaSink (librdkafka, the
  kit's producer settings), driven closed-loop at full speed: the schedule offers far more
  than the broker takes, so each worker generates, encodes and produces its next batch at
  once. Only the producer's buffer is set like the reference's (``--queue-kbytes``, Java's
  buffer.memory default of 32 MiB): unbounded, a full speed run would queue a million records
  per process and time them out (delivery.timeout.ms), which the kit's open-loop runs never do.

Each side is warmed ``--warmup`` seconds (left out; the JVM's JIT and the producers' first
batches) and then timed ``--seconds`` at steady state: the reference from its 5-second window
lines after the warm-up (the process is stopped once enough are in), the kit from its
acknowledgements per second after the warm-up. Goal: kit >= 0.8 x reference.

    .venv/bin/python benchmarks/kafka_producer_vs_perf.py [--processes 1,2] [--warmup 10]
        [--seconds 30] [--record-bytes 300]
"""

from __future__ import annotations

import argparse
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlab.config import LoadConfig
from benchlab.loadgen.runner import run_load
from benchlab.records import RecordFactory
from benchlab.sinks import SinkSpec
from benchlab.sinks.kafka import DEFAULT_PRODUCER_CONFIG, KafkaSink, KafkaSinkConfig, encode_row

EXIT_UNREACHABLE = 3
OVERLOAD_INTERVAL_S = 0.001  # batches due far faster than any broker here takes them
JAVA_BUFFER_KBYTES = 32768  # ProducerPerformance's producer: buffer.memory default, 32 MiB
WINDOW_RE = re.compile(r"^(\d+) records sent, ([0-9.]+) records/sec")


@dataclass(frozen=True)
class Window:
    start_s: float  # since the reference's first window began
    seconds: float
    records: int


@dataclass(frozen=True)
class Result:
    name: str
    rate: float  # acknowledged records per second over the timed window
    window_s: float
    errors: int
    note: str = ""


def parse_window(line: str) -> tuple[int, float] | None:
    """A ProducerPerformance window line -> (records, records/s); None for any other line."""
    m = WINDOW_RE.match(line.strip())
    return (int(m.group(1)), float(m.group(2))) if m else None


def windows_of(lines: list[str]) -> list[Window]:
    """The window lines with their start times (each lasts records / rate seconds)."""
    out: list[Window] = []
    t = 0.0
    for line in lines:
        parsed = parse_window(line)
        if parsed is None:
            continue
        records, rate = parsed
        seconds = records / rate if rate > 0 else 0.0
        out.append(Window(t, seconds, records))
        t += seconds
    return out


def steady(windows: list[Window], warmup: float, seconds: float) -> list[Window] | None:
    """The windows that start after the warm-up, as many as cover ``seconds``; None if too few."""
    picked: list[Window] = []
    for w in windows:
        if w.start_s >= warmup - 0.25:
            picked.append(w)
            if sum(p.seconds for p in picked) >= seconds - 0.25:
                return picked
    return None


def payload_file(path: Path, record_bytes: int, count: int) -> int:
    """The kit's encoded records, one per line (they hold no newline); their mean size."""
    rows = RecordFactory(f"perf-{uuid.uuid4().hex[:8]}", record_bytes).rows(
        0, count, datetime.now(UTC), 0.0001
    )
    values = [encode_row(r) for r in rows]
    path.write_bytes(b"\n".join(values) + b"\n")
    return round(sum(map(len, values)) / len(values))


def run_reference(args: argparse.Namespace, topic: str, tmp: Path) -> Result:
    size = payload_file(tmp / "payloads.txt", args.record_bytes, args.payloads)
    props = [
        f"bootstrap.servers={args.bootstrap}",
        "acks=all",
        "enable.idempotence=true",
        f"linger.ms={DEFAULT_PRODUCER_CONFIG['linger.ms']}",
        f"batch.size={DEFAULT_PRODUCER_CONFIG['batch.size']}",
        f"compression.type={DEFAULT_PRODUCER_CONFIG['compression.type']}",
        "max.in.flight.requests.per.connection="
        f"{DEFAULT_PRODUCER_CONFIG['max.in.flight.requests.per.connection']}",
        f"buffer.memory={JAVA_BUFFER_KBYTES * 1024}",
    ]
    cmd = [
        args.java, "-Xmx512m", f"-Dlog4j.configuration=file:{args.log4j}",
        "-cp", f"{args.kafka_jars}/*", "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topic, "--num-records", "1000000000", "--throughput", "-1",
        "--payload-file", str(tmp / "payloads.txt"), "--producer-props", *props,
    ]  # fmt: skip
    stderr = (tmp / "perf.stderr").open("w")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    seen: list[str] = []
    picked = None
    deadline = time.monotonic() + args.warmup + args.seconds + 60
    try:
        while picked is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            picked = steady(windows_of(seen), args.warmup, args.seconds)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()
    if picked is None:
        err = (tmp / "perf.stderr").read_text().strip().splitlines()
        tail = err[-1] if err else (seen[-1].strip() if seen else "no output")
        raise RuntimeError(f"ProducerPerformance gave no steady window: {tail}")
    span = sum(w.seconds for w in picked)
    records = sum(w.records for w in picked)
    errors = sum(
        1 for line in (tmp / "perf.stderr").read_text().splitlines() if "Exception" in line
    )
    return Result(
        "ProducerPerformance (1 JVM producer)",
        records / span,
        span,
        errors,
        f"{len(picked)} windows from {picked[0].start_s:.1f} s; value {size} bytes",
    )


def run_kit(args: argparse.Namespace, topic: str, processes: int) -> Result:
    producer: dict[str, Any] = {}
    if args.queue_kbytes:
        producer["queue.buffering.max.kbytes"] = args.queue_kbytes
    host, port = args.bootstrap.rsplit(":", 1)
    spec = SinkSpec(
        KafkaSink, KafkaSinkConfig(host=host, port=int(port), topic=topic, producer=producer)
    )
    load = LoadConfig(
        batch_size=args.batch_size,
        interval_s=OVERLOAD_INTERVAL_S,
        duration_s=args.warmup + args.seconds,
        record_bytes=args.record_bytes,
        processes=processes,
        drain_s=0.0,
        warmup_s=args.warmup,
    )
    run_id = f"perf-kit-{uuid.uuid4().hex[:8]}-p{processes}"
    s = run_load(f"kit-{processes}", run_id, load, spec).summary()
    st = s["steady"]
    # failed batches inside the window are errors; what was still queued at the stop is not
    warnings = [w for w in s["warnings"] if "unacknowledged at the end" not in w]
    note = f"{s['batches_sent']} batches of {args.batch_size}"
    if warnings:
        note += "; " + "; ".join(warnings)[:160]
    return Result(
        f"kit KafkaSink x {processes} process{'es' if processes > 1 else ''}",
        st["acked_per_s"],
        st["window_s"],
        s["errors_total"],
        note,
    )


def topic_shape(meta: Any, name: str) -> tuple[int, int]:
    """(partitions, replication) of an existing topic, or the kit's defaults (6, 1)."""
    t = meta.topics.get(name)
    if t is None or t.error is not None or not t.partitions:
        return 6, 1
    return len(t.partitions), len(next(iter(t.partitions.values())).replicas)


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--topic", default="", help="an existing topic (default: a temporary one)")
    p.add_argument("--like-topic", default="benchlab-events", help="shape of the temporary topic")
    p.add_argument("--processes", default="1,2", help="comma list of kit worker processes")
    p.add_argument("--batch-size", type=int, default=5000, help="kit records per batch")
    p.add_argument("--record-bytes", type=int, default=300)
    p.add_argument("--warmup", type=float, default=10.0, help="seconds left out, each side")
    p.add_argument("--seconds", type=float, default=30.0, help="timed seconds, each side")
    p.add_argument("--queue-kbytes", type=int, default=JAVA_BUFFER_KBYTES, help="0: kit default")
    p.add_argument("--payloads", type=int, default=10000, help="distinct reference payloads")
    p.add_argument("--no-reference", action="store_true", help="only the kit's side")
    p.add_argument("--java", default=shutil.which("java") or "java")
    p.add_argument("--kafka-jars", default="/opt/benchlab/jars/kafka")
    p.add_argument("--log4j", default="/etc/benchlab/kafka/tools-log4j.properties")
    args = p.parse_args()
    host = args.bootstrap.rsplit(":", 1)[0]
    if not host.startswith("127.") and host != "localhost":
        print("refusing a non-loopback broker in a benchmark script", file=sys.stderr)
        return 2
    if args.warmup < 10 or args.seconds < 30:
        print("warning: below the 10 s warm-up / 30 s timed window", file=sys.stderr)
    if not args.no_reference:
        if not any(Path(args.kafka_jars).glob("kafka-tools-*.jar")):
            print(f"no kafka-tools jar in {args.kafka_jars}", file=sys.stderr)
            return 2
        if not shutil.which(args.java):
            print(f"java not found ({args.java})", file=sys.stderr)
            return 2
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": args.bootstrap, "log_level": 0})
    try:
        meta = admin.list_topics(timeout=5)
    except KafkaException as exc:
        print(f"Kafka at {args.bootstrap} unreachable: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    topic, temporary = args.topic, not args.topic
    if temporary:
        partitions, replication = topic_shape(meta, args.like_topic)
        topic = f"benchlab-bench-{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(topic, partitions, replication)])[topic].result(30)
        time.sleep(2)  # leaders elected before the first producer asks
    else:
        partitions, replication = topic_shape(meta, topic)
    cfg = DEFAULT_PRODUCER_CONFIG
    print(
        f"broker {args.bootstrap}, topic {topic} ({partitions} partitions, replication "
        f"{replication}{', temporary' if temporary else ''}); acks=all, idempotent, linger.ms "
        f"{cfg['linger.ms']}, batch.size {cfg['batch.size']}, {cfg['compression.type']}, "
        f"max in flight {cfg['max.in.flight.requests.per.connection']}; producer buffer "
        f"{args.queue_kbytes or 'kit default'} KiB; warm-up {args.warmup:g} s, timed "
        f"{args.seconds:g} s",
        flush=True,
    )
    results: list[Result] = []
    tmp = Path(tempfile.mkdtemp(prefix="benchlab-perf-"))
    try:
        if not args.no_reference:
            results.append(run_reference(args, topic, tmp))
            print(f"  {results[-1].name}: {results[-1].rate:,.0f} records/s", flush=True)
        for n in [int(x) for x in args.processes.split(",") if x.strip()]:
            results.append(run_kit(args, topic, n))
            print(f"  {results[-1].name}: {results[-1].rate:,.0f} records/s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if temporary:
            try:
                admin.delete_topics([topic])[topic].result(30)
            except Exception as exc:  # report it, the figures still stand
                print(f"could not delete topic {topic}: {exc}", file=sys.stderr)
    ref = None if args.no_reference else results[0]
    width = max(len(r.name) for r in results) + 2
    print()
    print(f"{'producer':<{width}}{'records/s':>11}  {'vs reference':>12}  {'errors':>6}  notes")
    for r in results:
        vs = f"{r.rate / ref.rate:.2f}" if ref else "-"
        print(f"{r.name:<{width}}{r.rate:>11,.0f}  {vs:>12}  {r.errors:>6}  {r.note}")
    kits = [r for r in results if r is not ref]
    if ref and kits:
        best = max(kits, key=lambda r: r.rate)
        verdict = "MET" if best.rate >= 0.8 * ref.rate else "NOT MET"
        print(f"best kit: {best.name}; goal kit >= 0.8 x reference: {verdict}")
        print(f"ratio kit/reference: {best.rate / ref.rate:.2f}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
