-- pgbench: read one person by primary key.
SELECT * FROM people WHERE id = 'per_read';
