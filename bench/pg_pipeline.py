"""What psycopg's pipeline mode would save a transition's writes (issue 23, fifth round): a transaction of
five single-row UPDATEs by key, prepared, sent one round trip each and then all in one pipeline, with the
CPU each costs this process and its PostgreSQL backend (from /proc) and the wall time, per transaction.

    .venv/bin/python bench/pg_pipeline.py [--dsn postgresql://postgres@127.0.0.1:5432/postgres] [--n 3000]

A temporary table only; nothing of the app's is read or written."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--statements", type=int, default=5)
    args = parser.parse_args()
    conn = psycopg.connect(args.dsn, autocommit=True)
    cur = conn.cursor()
    cur.execute("CREATE TEMP TABLE t (id int PRIMARY KEY, v int)")
    cur.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 100) g")
    stat = f"/proc/{conn.info.backend_pid}/stat"

    def backend_cpu() -> float:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def run(pipelined: bool) -> tuple[float, float, float]:
        cpu, backend, wall = time.process_time(), backend_cpu(), time.perf_counter()
        for _ in range(args.n):
            with conn.transaction():
                if pipelined:
                    with conn.pipeline():
                        for k in range(args.statements):
                            cur.execute("UPDATE t SET v = v + 1 WHERE id = %s", (k + 1,), prepare=True)
                else:
                    for k in range(args.statements):
                        cur.execute("UPDATE t SET v = v + 1 WHERE id = %s", (k + 1,), prepare=True)
        per = 1000 / args.n
        return (time.process_time() - cpu) * per, (backend_cpu() - backend) * per, (time.perf_counter() - wall) * per

    for pipelined in (False, True, False, True):
        client, server, wall = run(pipelined)
        print(
            f"{'pipeline ' if pipelined else 'one by one'}  client {client:.3f} ms  "
            f"backend {server:.3f} ms  wall {wall:.3f} ms per transaction of {args.statements} UPDATEs"
        )


if __name__ == "__main__":
    main()
