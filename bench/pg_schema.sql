CREATE SEQUENCE seq;
CREATE TABLE people (id text PRIMARY KEY, org_id text NOT NULL, name text NOT NULL, kind text NOT NULL,
  job text, nationality text, phone text, email text, emergency_contact text, home_site_id text,
  status text NOT NULL, notes text, created_at text NOT NULL, updated_at text NOT NULL);
CREATE INDEX people_org ON people (org_id, id);
CREATE TABLE audit (seq bigserial PRIMARY KEY, at text NOT NULL, actor text NOT NULL, org_id text,
  action text NOT NULL, object_type text NOT NULL, object_id text, changes text NOT NULL, row_hash text,
  request_id text, prev_hash text NOT NULL, hash text NOT NULL);
INSERT INTO people (id, org_id, name, kind, status, created_at, updated_at)
  VALUES ('per_read', 'org_bench', 'Read Me', 'staff', 'in_country', 'x', 'x');
