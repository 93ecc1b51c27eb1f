#!/usr/bin/env python3
"""Mutation check of the test suite (issue 10, item 22): each mutation below
is one plausible bug in core logic. It is applied alone in a scratch copy of
the tree, the scratch build is rebuilt, and the tests named for it run; the
mutation is "killed" when a test fails. Prints one line per mutation and the
kill rate. Not part of CI (about 20 minutes on 2 cores).

Usage: scripts/mutate.sh [-k SUBSTRING]   (only mutations whose name has it)"""
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, file, text, replacement, tests ("unit:NAME" runs build/tests/test_NAME,
# "api:PATTERN" runs the API tests whose name holds PATTERN)
MUTATIONS = [
    ("policy: a summary grant shown in full", "src/policy/policy.c",
     "acc.view = g->level == LEVEL_FULL ? VIEW_FULL : VIEW_SUMMARY;", "acc.view = VIEW_FULL;",
     ["unit:policy", "api:pseudonyms_are_stable"]),
    ("policy: a summary grant shown in full (positions)", "src/policy/policy.c",
     "acc.view = g->level == LEVEL_FULL ? VIEW_FULL : VIEW_SUMMARY;", "acc.view = VIEW_FULL;",
     ["api:spatial_questions_and_partner_summary"]),
    ("policy: a summary grant shown in full (the stream)", "src/policy/policy.c",
     "acc.view = g->level == LEVEL_FULL ? VIEW_FULL : VIEW_SUMMARY;", "acc.view = VIEW_FULL;",
     ["api:stream_delivers_by_access"]),
    ("policy: a grant's condition taken as met (positions matrix)", "src/policy/policy.c",
     "if (g->cond != COND_ALWAYS &&", "if ((int)g->cond < 0 &&",
     ["api:positions_every_query_form"]),
    ("stream: summary positions streamed live", "src/http/stream.c",
     "       acc.view != VIEW_SUMMARY;", "       acc.view != (enum view)99;",
     ["api:positions_every_query_form"]),
    ("sharing: a pseudonym resolved for any partner", "src/sharing/sharing.c",
     '"SELECT person_id FROM pseudonyms WHERE code = ?1 AND partner_id = ?2"',
     '"SELECT person_id FROM pseudonyms WHERE code = ?1 AND ?2 IS NOT NULL"',
     ["api:mutation_check"]),
    ("sharing: a suspended side's grants still in force", "src/sharing/sharing.c",
     "(a.org_id = g.org_id AND a.a_state = 'active')", "(a.org_id = g.org_id)",
     ["api:revoke_suspend_resume"]),
    ("audit: the entry hash skips the request id", "src/audit/audit.c",
     "for (unsigned i = 0; i < 9; i++)", "for (unsigned i = 0; i < 8; i++)", ["api:every_byte"]),
    ("evidence: a purged row's time not checked against the cutoffs", "src/audit/evidence.c",
     "if (t >= x->max_cutoff_ms)", "if (t > INT64_MAX - 1)", ["api:history_is_evidence"]),
    ("evidence: the commit's digest skips its last row", "src/audit/evidence.c",
     "for (size_t i = 0; i < n; i++)\n\t\tcrypto_generichash_update(&h, r[i].h, HLEN);",
     "for (size_t i = 0; i + 1 < n; i++)\n\t\tcrypto_generichash_update(&h, r[i].h, HLEN);",
     ["api:history_is_evidence"]),
    ("evidence: a partition marked dropped without a retention entry accepted", "src/audit/evidence.c",
     "if (!was_dropped(x, parts[i].id))", "if (0 && !was_dropped(x, parts[i].id))", ["api:history_is_evidence"]),
    ("history: partitions read newest first", "src/pipeline/parts.c",
     '" AND t0 < t1 ORDER BY t0"', '" AND t0 < t1 ORDER BY t0 DESC"', ["unit:parts", "api:history_spans_partitions"]),
    ("history: a new partition not cut where the next begins", "src/pipeline/parts.c",
     "if (next_start < hi)", "if (next_start < hi && 0)", ["unit:parts"]),
    ("retention: a partition holding a pinned report dropped", "src/pipeline/pipeline.c",
     "else if (pinned == DB_DONE && ", "else if ((pinned == DB_DONE || 1) && ",
     ["api:retention_purges_old_history"]),
    ("rebuild: a device's move to a newer partition not noted", "src/pipeline/pipeline.c",
     "if (prev && (t <= prev_t || prev_t >= part->t0))", "if (prev && (t <= prev_t || prev_t >= INT64_MIN))",
     ["api:history_spans_partitions"]),
    ("evidence: geofence events left out of the seal", "src/pipeline/pipeline.c",
     "returning(st, EVIDENCE_EVENT, &p->sealed)", "returning(st, EVIDENCE_EVENT, &(struct evidence){0})",
     ["api:history_is_evidence"]),
    ("audit: the row hash skips the stored bytes", "src/audit/audit.c",
     "crypto_hash_sha256_update(&h, p, len);", "(void)p;", ["api:every_byte", "api:audit_verify_names"]),
    ("pipeline: a duplicate counted as new", "src/pipeline/pipeline.c",
     "j->inserted = rc == 0 && db_changes(db) > 0;", "j->inserted = rc == 0;",
     ["api:mutation_check", "api:duplicates_are_stored_once"]),
    ("pipeline: the enrolled protocol not enforced", "src/pipeline/pipeline.c",
     "if (r->protocol && !str_eq(r->protocol, protocol)) {", "if (false) {", ["api:devices_speak"]),
    ("pipeline: the attributes' byte bound ignored", "src/pipeline/pipeline.c",
     "used + sz > (size_t)max_bytes", "false", ["api:fill_the_disk"]),
    ("registry: update without the organisation check", "src/registry/resource.c",
     'if (rc == SG_ENOTFOUND || (rc == 0 && !str_eq(json_string_value(json_object_get(rec, "org_id")), org_id))) {',
     'if (rc == SG_ENOTFOUND || (rc == 0 && !str_eq(json_string_value(json_object_get(rec, "org_id")), org_id) && false)) {',
     ["unit:resource"], 0),
    ("registry: delete without the organisation check", "src/registry/resource.c",
     'if (rc == SG_ENOTFOUND || (rc == 0 && !str_eq(json_string_value(json_object_get(rec, "org_id")), org_id))) {',
     'if (rc == SG_ENOTFOUND || (rc == 0 && !str_eq(json_string_value(json_object_get(rec, "org_id")), org_id) && false)) {',
     ["unit:resource"], 1),
    ("registry: a reference to another organisation accepted", "src/registry/resource.c",
     "bool ok = rc == DB_ROW && str_eq(db_col_text(st, 0), org);",
     "bool ok = rc == DB_ROW && (str_eq(db_col_text(st, 0), org) || true);",
     ["api:mutation_check"]),
    ("registry: a password reset keeps the sessions", "src/registry/resources.c",
     'if (!json_object_get(changes, "password") && !json_is_true(dis))', "if (true)",
     ["api:follow_the_account"]),
    ("registry: a write on an invisible record answers 403", "src/http/api/registry.c",
     "if (seen == DECIDE_ALLOW && (a.view == VIEW_SUMMARY && str_eq(res->name, \"people\")) != by_pseudonym)\n\t\tseen = DECIDE_HIDE;",
     "if (act == ACT_READ && seen == DECIDE_ALLOW && (a.view == VIEW_SUMMARY && str_eq(res->name, \"people\")) != by_pseudonym)\n\t\tseen = DECIDE_HIDE;",
     ["api:answer_404"]),
    ("store: the WAL buffer not synced", "src/store/walbuf.c",
     "return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);", "(void)flags;\n\treturn rc;",
     ["unit:store", "unit:walbuf"]),
    ("store: a failed commit does not mark the store broken", "src/store/store.c",
     "st->broken |= !full;", "st->broken |= false && !full;",
     ["unit:faults"]),
    ("store: a full disk breaks the store for good", "src/store/store.c",
     "bool full = (!began && began_rc == SG_ENOSPC) || commit_rc == SG_ENOSPC;",
     "bool full = false && ((!began && began_rc == SG_ENOSPC) || commit_rc == SG_ENOSPC);",
     ["api:full_disk"]),
    ("store: idle readers beyond the few kept are never closed", "src/store/store.c",
     "if (st->nreaders > READERS_IDLE &&", "if (st->nreaders > READER_POOL_MAX &&",
     ["unit:store", "api:leave_nothing_behind"]),
    ("cursor: not bound to the caller", "src/http/cursor.c",
     'return xasprintf("%s\\n%s\\n%s\\n%s", r->actor.id, r->actor.org_id,', 'return xasprintf("%s\\n%s\\n%s\\n%s", "", "",',
     ["api:cursors_reveal"]),
    ("stream: sleeping readers woken only by the tick, not by events", "src/http/stream.c",
     "		if (rd->seen[b->dirty[i]] != 2)", "		if (rd->seen[b->dirty[i]] == 99)",
     ["api:sleeping_reader"]),
    ("stream: a new role does not end the stream", "src/http/stream.c",
     "role_parse(s.who.role) == (int)rd->actor.role &&", "true &&", ["api:follow_the_account"]),
    ("stream: the policy's answer ignored for partners", "src/http/stream.c",
     "return policy_decide(&rd->actor, ACT_READ, category, org, NULL, &acc) == DECIDE_ALLOW &&",
     "return (policy_decide(&rd->actor, ACT_READ, category, org, NULL, &acc) == DECIDE_ALLOW || true) &&",
     ["api:last_event_id_resumes", "api:stream_delivers_by_access"]),
    ("auth: a disabled user's session still opens", "src/registry/accounts.c",
     "WHERE s.token_hash = ?1 AND u.disabled = 0\"", "WHERE s.token_hash = ?1\"",
     ["api:disabling", "api:lockout_is_kept"]),
    ("auth: the CSRF token not checked", "src/http/auth.c",
     "if (!safe && (!sent || !str_ct_eq(sent, s.csrf)))", "if (!safe && (!sent || !str_ct_eq(sent, s.csrf)) && false)",
     ["api:cookie"]),
    ("login: the client address's failures not counted", "src/http/api/session.c",
     "throttle_failure(r->env->throttle, ikey, now);\n\t\tif (found)", "if (found)",
     ["api:throttl", "api:lockout_is_kept"]),
    ("login: the account lockout forgotten", "src/registry/lockout.c",
     "wait = until > now_ms ? until - now_ms : 0;", "wait = until > now_ms ? 0 : 0;", ["api:lockout_is_kept"]),
    ("passwords: the word inside not checked", "src/registry/password.c",
     "== PWQ_ERROR_CRACKLIB_CHECK)\n\t\trc = PWQ_ERROR_CRACKLIB_CHECK;", "== 12345)\n\t\trc = PWQ_ERROR_CRACKLIB_CHECK;",
     ["unit:password", "api:weak_passwords"]),
    ("csv: formulas not neutralised", "src/core/util.c",
     'bool formula = text && s[0] && strchr("=+-@\\t\\r", s[0]);', "bool formula = false;",
     ["api:exports_are_safe"]),
    ("text: noncharacters accepted", "src/core/util.c",
     "if ((c & 0xFFFE) == 0xFFFE)\n\t\treturn false;", "if (c < 0)\n\t\treturn false;", ["api:exports_are_safe"]),
    ("osmand: 2^31 and above read as milliseconds", "src/ingest/osmand.c",
     "*out_ms = d >= 1e12 ?", "*out_ms = d >= 2147483648.0 ?", ["unit:ingest", "api:devices_speak"]),
    ("osmand: speed taken as m/s, not knots", "src/ingest/osmand.c",
     "out->speed_mps = isnan(d) ? (double)NAN : d * KNOTS_TO_MPS;", "out->speed_mps = isnan(d) ? (double)NAN : d;",
     ["unit:ingest", "api:real_client_requests"]),
    ("owntracks: -1 not read as unknown", "src/ingest/owntracks.c",
     'if (json_is_number(v) && d == -1 && !str_eq(k, "alt"))', "if (false)", ["unit:ingest", "api:devices_speak"]),
    ("fence: a point in a hole counted inside", "src/geo/fence.c",
     "\t\tinside ^= c;\n", "\t\tinside |= c;\n", ["unit:fence", "api:exactly_once"]),
    ("live: an older report replaces the latest", "src/geo/live.c",
     "if (time_ms <= r->time_ms) {", "if (time_ms < 0) {", ["unit:live"]),
    ("live: a box scan ignores the organisation filter", "src/geo/live.c",
     "if (c->f && !c->f(c->fctx, (uint16_t)tl->pt[k].org))", "if (c->f && !c->f(c->fctx, (uint16_t)tl->pt[k].org) && false)",
     ["unit:live"]),
    ("http: a 405 without Allow", "src/http/reply.c",
     "if (status == 405 && r->allow[0])", "if (false)", ["api:name_methods"]),
    ("http: no header deadline", "src/http/server.c",
     "watch_set(cls, conn, HEADERS);", "watch_set(cls, conn, BUSY);", ["api:slow_clients"]),
    ("rate limit: the burst not enforced", "src/pipeline/pipeline.c",
     "if (!rate_ok(p, res.device_id, now_ms)) {", "if (!rate_ok(p, res.device_id, now_ms) && false) {", ["api:refused_reports"]),
]


def run(cmd, cwd, timeout=900, env=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def main():
    only = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "-k" else None
    scratch = "/tmp/sg-mutate"
    if os.path.exists(scratch):
        shutil.rmtree(scratch)
    shutil.copytree(ROOT, scratch, ignore=shutil.ignore_patterns("build", "build-asan", ".git", "node_modules"))
    if run(["meson", "setup", "build"], scratch).returncode:
        sys.exit("meson setup failed")
    if run(["ninja", "-C", "build"], scratch).returncode:
        sys.exit("the unmutated tree does not build")
    killed = survived = 0
    for name, path, text, repl, tests, *which in MUTATIONS:
        if only and only not in name:
            continue
        f = os.path.join(scratch, path)
        orig = open(f).read()
        n = orig.count(text)
        if (not which and n != 1) or (which and n <= which[0]):
            print(f"STALE    {name}: the text to mutate is not in {path} as expected")
            survived += 1
            continue
        at = -1
        for _ in range((which[0] if which else 0) + 1):
            at = orig.index(text, at + 1)
        open(f, "w").write(orig[:at] + repl + orig[at + len(text):])
        t0 = time.time()
        try:
            b = run(["ninja", "-C", "build"], scratch)
            if b.returncode:
                verdict, why = "STALE", "the mutant does not build: " + b.stdout[-300:]
            else:
                verdict, why = "SURVIVED", "every named test passed"
                for t in tests:
                    kind, arg = t.split(":", 1)
                    if kind == "unit":
                        r = run([f"build/tests/test_{arg}"], scratch)
                    else:
                        env = dict(os.environ, SAFEGUARD_BIN=os.path.join(scratch, "build", "safeguard"))
                        r = run(["python3", "tests/api/run.py", "-k", arg], scratch, env=env)
                        if "0 passed, 0 failed" in r.stdout:
                            verdict, why = "STALE", f"no API test matches {arg}"
                            break
                    if r.returncode:
                        verdict, why = "killed", t
                        break
        finally:
            open(f, "w").write(orig)
        if verdict == "killed":
            killed += 1
        else:
            survived += 1  # a stale mutation counts against the rate: fix it
        print(f"{verdict:8} {name} ({why}, {time.time() - t0:.0f} s)", flush=True)
    run(["ninja", "-C", "build"], scratch)
    total = killed + survived
    print(f"kill rate: {killed}/{total} = {100.0 * killed / max(total, 1):.0f} %")
    return 0 if killed == total else 1


if __name__ == "__main__":
    sys.exit(main())
