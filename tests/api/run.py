#!/usr/bin/env python3
"""Runs the API tests: every test_* function of the modules below, in order,
each against the real binary. Prints one line per test and closes with
'N passed, N failed'. Usage: run.py [-k SUBSTRING[,SUBSTRING...]]"""
import importlib
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
MODULES = ["test_registry", "test_hardening", "test_access", "test_sharing", "test_positions", "test_geofence", "test_incidents", "test_alarms", "test_alerts", "test_delivery", "test_rollcalls", "test_stream", "test_input", "test_auth", "test_durability",
           "test_audit", "test_ops", "test_logs"]


def main():
    pattern = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "-k" else None
    passed = failed = 0
    for name in MODULES:
        mod = importlib.import_module(name)
        for fn_name in [n for n in dir(mod) if n.startswith("test_")]:
            fn = getattr(mod, fn_name)
            if getattr(fn, "__module__", None) != name or not callable(fn):
                continue
            if pattern and not any(p in fn_name for p in pattern.split(",")):
                continue
            t0 = time.time()
            try:
                fn()
                passed += 1
                print(f"ok    {name}.{fn_name} ({time.time() - t0:.1f}s)", flush=True)
            except Exception:  # noqa: BLE001 - report and go on
                failed += 1
                print(f"FAIL  {name}.{fn_name}", flush=True)
                traceback.print_exc()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
