-- 0015: covering indexes for the recipient search of a large alert (issue
-- 14): an organisation's devices with their people, and its people with
-- their names, each read in one pass over an index, in id order, without a
-- lookup per row. They replace the (org_id, id) indexes, which they cover.
DROP INDEX devices_org;
CREATE INDEX devices_org ON devices(org_id, id, person_id);
DROP INDEX people_org;
CREATE INDEX people_org ON people(org_id, id, name);
