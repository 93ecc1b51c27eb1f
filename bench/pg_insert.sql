-- pgbench: the same rows a Safeguard registry write commits: the person and
-- its audit entry, in one transaction (synchronous_commit = on).
\set n random(1, 1000000000)
BEGIN;
INSERT INTO people (id, org_id, name, kind, job, nationality, phone, email, status, created_at, updated_at)
  VALUES ('per_' || :n || '_' || :client_id || '_' || nextval('seq'), 'org_bench', 'Bench Person ' || :n, 'staff',
          'Surveyor', 'CN', '+92 300 1234567', 'bench' || :n || '@example.com', 'in_country', now()::text, now()::text);
INSERT INTO audit (at, actor, org_id, action, object_type, object_id, changes, row_hash, request_id, prev_hash, hash)
  VALUES (now()::text, 'usr_bench', 'org_bench', 'create', 'person', 'per_' || :n,
          '{"name":"Bench Person"}', md5(:n::text), 'req', md5('prev'), md5(:n::text || 'h'));
COMMIT;
