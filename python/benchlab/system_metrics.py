"""PromQL beyond the report's catalogue (benchlab.metrics): the generator's latency histogram,
the systems' own exporters and the JVMs. The Grafana dashboards (benchlab.dashboards) draw
these and benchlab.metrics' RANGE_QUERIES / INCREASE_QUERIES; each figure is written once.

name -> PromQL; {rate} (benchlab.metrics.RATE) is the rate window. Metric names are those the
lab's exporters actually export:
- the generator: benchlab.loadgen.runner.LoadgenMetrics;
- PostgreSQL: Debian's prometheus-postgres-exporter 0.11 (bookworm). It exports no WAL
  figure for a server without replicas (no pg_stat_wal collector; the pg_stat_replication
  LSNs need a standby), so WAL pressure is shown by what it does export: checkpoints (a
  requested one means the WAL reached max_wal_size) and the bytes they write;
- Kafka, HDFS, Spark: the JMX exporter rules in roles/{kafka,hdfs,spark}/templates/
  jmx-exporter.yml.j2, and the exporter agent's own jvm_* figures (every JMX job has them).
"""

from __future__ import annotations

from benchlab.metrics import RATE


def _latency(quantile: float) -> str:
    return (
        f"histogram_quantile({quantile}, sum by (target, le) "
        f"(rate(benchlab_loadgen_ack_latency_seconds_bucket[{RATE}])))"
    )


def _per_s(metric: str, by: str = "host") -> str:
    return f"sum by ({by}) (rate({metric}[{RATE}]))"


SYSTEM_QUERIES: dict[str, str] = {
    # -- the generator (acknowledgement latency from the scheduled time, as the report's)
    "loadgen_batches_late_per_s": _per_s("benchlab_loadgen_batches_late_total", "target"),
    "loadgen_ack_latency_p50_seconds": _latency(0.5),
    "loadgen_ack_latency_p95_seconds": _latency(0.95),
    "loadgen_ack_latency_p99_seconds": _latency(0.99),
    # -- PostgreSQL
    "postgresql_commits_per_s": _per_s("pg_stat_database_xact_commit", "host, datname"),
    "postgresql_rollbacks_per_s": _per_s("pg_stat_database_xact_rollback", "host, datname"),
    "postgresql_rows_inserted_per_s": _per_s("pg_stat_database_tup_inserted", "host, datname"),
    "postgresql_database_bytes": "sum by (host, datname) (pg_database_size_bytes)",
    "postgresql_checkpoints_timed_per_s": _per_s("pg_stat_bgwriter_checkpoints_timed_total"),
    "postgresql_checkpoints_requested_per_s": _per_s("pg_stat_bgwriter_checkpoints_req_total"),
    "postgresql_checkpoint_write_bytes_per_s": (
        f"{_per_s('pg_stat_bgwriter_buffers_checkpoint_total')}"
        " * on (host) max by (host) (pg_settings_block_size)"
    ),
    "postgresql_backend_write_bytes_per_s": (
        f"{_per_s('pg_stat_bgwriter_buffers_backend_total')}"
        " * on (host) max by (host) (pg_settings_block_size)"
    ),
    # -- Kafka (job kafka_jmx)
    "kafka_messages_in_per_s": _per_s("kafka_server_brokertopicmetrics_messagesinpersec_total"),
    "kafka_bytes_in_per_s": _per_s("kafka_server_brokertopicmetrics_bytesinpersec_total"),
    "kafka_bytes_out_per_s": _per_s("kafka_server_brokertopicmetrics_bytesoutpersec_total"),
    "kafka_failed_produce_per_s": _per_s(
        "kafka_server_brokertopicmetrics_failedproducerequestspersec_total"
    ),
    "kafka_produce_time_ms": (
        'max by (host, quantile) (kafka_network_requestmetrics_totaltimems{request="Produce",'
        'quantile=~"50thPercentile|99thPercentile"})'
    ),
    "kafka_under_replicated_partitions": (
        "sum by (host) (kafka_server_replicamanager_underreplicatedpartitions)"
    ),
    "kafka_request_queue": "sum by (host) (kafka_network_requestchannel_requestqueuesize)",
    "kafka_log_bytes": "sum by (host, topic) (kafka_log_size_bytes)",
    # -- HDFS (jobs hdfs_namenode_jmx, hdfs_datanode_jmx)
    "hdfs_datanode_written_bytes_per_s": _per_s("hadoop_datanode_byteswritten"),
    "hdfs_datanode_write_block_avg_ms": "max by (host) (hadoop_datanode_writeblockopavgtime)",
    "hdfs_namenode_capacity_used_bytes": "max by (host) (hadoop_namenode_capacityused)",
    "hdfs_namenode_capacity_remaining_bytes": "max by (host) (hadoop_namenode_capacityremaining)",
    "hdfs_namenode_live_datanodes": "max by (host) (hadoop_namenode_numlivedatanodes)",
    "hdfs_namenode_dead_datanodes": "max by (host) (hadoop_namenode_numdeaddatanodes)",
    "hdfs_namenode_files": "max by (host) (hadoop_namenode_filestotal)",
    "hdfs_namenode_blocks": "max by (host) (hadoop_namenode_blockstotal)",
    "hdfs_namenode_under_replicated_blocks": (
        "max by (host) (hadoop_namenode_underreplicatedblocks)"
    ),
    "hdfs_namenode_rpc_processing_avg_ms": (
        "max by (host) (hadoop_namenode_rpc_rpcprocessingtimeavgtime)"
    ),
    # -- Spark standalone (jobs spark_master_jmx, spark_worker_jmx)
    "spark_master_alive_workers": "max by (host) (spark_master_aliveworkers)",
    "spark_master_apps": "max by (host) (spark_master_apps)",
    "spark_master_waiting_apps": "max by (host) (spark_master_waitingapps)",
    "spark_worker_cores_used": "sum by (host) (spark_worker_coresused)",
    "spark_worker_cores_free": "sum by (host) (spark_worker_coresfree)",
    "spark_worker_memory_used_bytes": "sum by (host) (spark_worker_memused_mb) * 1048576",
    "spark_worker_executors": "sum by (host) (spark_worker_executors)",
    # -- every JVM with a JMX exporter agent (Kafka, NameNode, DataNodes, Spark daemons)
    "jvm_heap_used_bytes": 'sum by (job, host) (jvm_memory_used_bytes{area="heap"})',
    "jvm_heap_max_bytes": 'sum by (job, host) (jvm_memory_max_bytes{area="heap"})',
    "jvm_gc_seconds_per_s": _per_s("jvm_gc_collection_seconds_sum", "job, host"),
    "jvm_threads": "sum by (job, host) (jvm_threads_current)",
}
