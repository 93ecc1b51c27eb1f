-- pgbench: zones containing a random point over Pakistan (GiST index).
\set lat random(24000000, 37000000)
\set lon random(61000000, 77000000)
SELECT id FROM zones WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:lon / 1e6, :lat / 1e6), 4326));
