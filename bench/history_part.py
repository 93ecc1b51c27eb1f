#!/usr/bin/env python3
"""Prints the SQL that makes one history partition as the server lays them
out (src/pipeline/parts.c): its catalog row and its table, for benchmarks
that write history straight into SQLite.
Usage: bench/history_part.py ID T0_MS T1_MS"""
import sys

pid, t0, t1 = (int(a) for a in sys.argv[1:4])
tbl = f"positions_p{pid}"
print(f"INSERT INTO history_parts (id, tbl, t0, t1) VALUES ({pid}, '{tbl}', {t0}, {t1});")
print(f"CREATE TABLE {tbl} (device_id TEXT NOT NULL, time_ms INTEGER NOT NULL, org_id TEXT NOT NULL,"
      " lat REAL NOT NULL, lon REAL NOT NULL, speed_mps REAL, course_deg REAL, altitude_m REAL,"
      " accuracy_m REAL, battery_pct INTEGER, charging INTEGER, attrs TEXT NOT NULL,"
      " received_ms INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0,"
      " batch INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (device_id, time_ms)) STRICT, WITHOUT ROWID;")
