-- pgbench: the row a Safeguard position report commits (synchronous_commit = on).
\set d random(1, 1000)
\set t random(1, 2000000000)
INSERT INTO positions (device_id, time_ms, org_id, lat, lon, speed_mps, attrs, received_ms)
  VALUES ('dev_' || :d, :t::bigint * 1000 + :client_id, 'org', 24.5, 67.1, 3.2, '{}', 0)
  ON CONFLICT DO NOTHING;
