"""Runs last: no password, token or key seen by any test appears in any
server log (issue 2, done-when 5)."""
from harness import LOGS, SECRETS, check


def test_no_secret_appears_in_any_server_log():
    check(len(SECRETS) > 20 and len(LOGS) > 5, f"the suite produced {len(SECRETS)} secrets, {len(LOGS)} logs")
    lines = 0
    for path in LOGS:
        try:
            text = open(path, errors="replace").read()
        except FileNotFoundError:
            continue
        lines += text.count("\n")
        for s in SECRETS:
            check(s not in text, f"a secret ({s[:4]}...) appears in {path}")
    check(lines > 100, f"only {lines} log lines were searched")


def test_no_sanitizer_report_in_any_server_log():
    """Under ASan/UBSan a server that hit undefined behaviour, a bad access or
    a leak writes a report; a test that still passed must not hide it."""
    for path in LOGS:
        try:
            text = open(path, errors="replace").read()
        except FileNotFoundError:
            continue
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "BUG at ",
                       "WARNING: ThreadSanitizer"):
            check(marker not in text, f"{marker} in {path}:\n{text[text.find(marker) - 200:][:1500]}")
