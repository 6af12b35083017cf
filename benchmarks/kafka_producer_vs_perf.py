"""The kit's Kafka sink vs Kafka's own ProducerPerformance, same broker, same record size, acks=all.

Runs, one after the other on the same topic, (1) Kafka's
``org.apache.kafka.tools.ProducerPerformance`` from the kafka-tools jar (idempotent, acks=all,
same linger/batch/compression as the sink) and (2) :class:`benchlab.sinks.kafka.KafkaSink`
pushing the same number of records of the same size as fast as it can (batches submitted
back to back, delivery reports polled), and prints records/s of each and the ratio (goal >= 0.8).

    .venv/bin/python benchmarks/kafka_producer_vs_perf.py [--records 300000] [--record-bytes 300]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from benchlab.config import SinkConfig
from benchlab.records import RecordFactory
from benchlab.sinks.base import Ack, Batch
from benchlab.sinks.kafka import DEFAULT_PRODUCER_CONFIG, KafkaSink, encode_row


def run_perf(args: argparse.Namespace, record_bytes: int) -> float:
    props = [
        f"bootstrap.servers={args.bootstrap}",
        "acks=all",
        "enable.idempotence=true",
        f"linger.ms={DEFAULT_PRODUCER_CONFIG['linger.ms']}",
        "batch.size=1000000",
        f"compression.type={DEFAULT_PRODUCER_CONFIG['compression.type']}",
        "max.in.flight.requests.per.connection=5",
    ]
    cmd = [
        "java", "-Xmx512m", f"-Dlog4j.configuration=file:{args.log4j}",
        "-cp", f"{args.kafka_jars}/*", "org.apache.kafka.tools.ProducerPerformance",
        "--topic", args.topic, "--num-records", str(args.records),
        "--record-size", str(record_bytes), "--throughput", "-1",
        "--producer-props", *props,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600).stdout
    last = out.strip().splitlines()[-1]
    print(f"ProducerPerformance: {last}")
    m = re.search(r"([0-9.]+) records/sec", last)
    if not m:
        raise RuntimeError(f"cannot parse ProducerPerformance output: {out[-500:]}")
    return float(m.group(1))


def run_sink(args: argparse.Namespace) -> tuple[float, int, int]:
    config = SinkConfig(
        kind="kafka",
        host=args.bootstrap.split(":")[0],
        port=int(args.bootstrap.split(":")[1]),
        extra={"topic": args.topic},
    )
    sink = KafkaSink(config, name="bench")
    factory = RecordFactory(f"bench-{int(time.time())}", args.record_bytes)
    acked = 0
    failed = 0

    def on_ack(ack: Ack) -> None:
        nonlocal acked, failed
        acked += ack.acked
        if not ack.ok:
            failed += ack.count

    sink.open()
    batch_size = args.batch_size
    now = datetime.now(UTC)
    # Encoding is done ahead of time in the load generator (prepare); do it here too.
    batches = []
    for i in range(0, args.records, batch_size):
        rows = factory.rows(i, min(batch_size, args.records - i), now)
        batches.append(Batch(i // batch_size, i, rows, sink.prepare(rows)))
    start = time.perf_counter()
    for batch in batches:
        sink.submit(batch, on_ack)
        sink.poll(0)
    pending = sink.flush(120)
    elapsed = time.perf_counter() - start
    sink.close()
    if pending:
        raise RuntimeError(f"{pending} batches unacknowledged")
    return acked / elapsed, acked, failed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--topic", default="benchlab-events")
    p.add_argument("--records", type=int, default=300_000)
    p.add_argument("--record-bytes", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--kafka-jars", default="/opt/benchlab/jars/kafka")
    p.add_argument("--log4j", default="/etc/benchlab/kafka/tools-log4j.properties")
    args = p.parse_args()
    # Same record size on the wire: the sink's encoded value length.
    sample = RecordFactory("bench-size", args.record_bytes).rows(0, 200, datetime.now(UTC))
    size = round(sum(len(encode_row(r)) for r in sample) / len(sample))
    print(f"records={args.records} value_bytes={size} acks=all idempotent=true "
          f"topic={args.topic} bootstrap={args.bootstrap}")  # fmt: skip
    perf = run_perf(args, size)
    kit, acked, failed = run_sink(args)
    print(f"benchlab KafkaSink: {acked} records acked, {failed} failed, {kit:.1f} records/sec")
    ratio = kit / perf
    print(f"ProducerPerformance {perf:.1f} rec/s | KafkaSink {kit:.1f} rec/s | ratio {ratio:.2f} "
          f"(goal >= 0.8: {'MET' if ratio >= 0.8 else 'NOT MET'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
