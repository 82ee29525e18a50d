-- benchmarks/arrangement_delta_runs.sql — bytes per row of lineitem(l_orderkey) with 4 columns after
-- 20,000 single-row INSERTs, before and after reclaim passes (issue 15: reclaim groups them into runs).
-- Run: tools/with-cluster bash -c 'psql -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -f benchmarks/arrangement_delta_runs.sql'
CREATE EXTENSION IF NOT EXISTS parallel_material;
DROP TABLE IF EXISTS li;
CREATE TABLE li (l_orderkey bigint, l_partkey bigint, l_quantity numeric(15,2),
                 l_extendedprice numeric(15,2), l_discount numeric(15,2), l_shipdate date,
                 l_comment varchar(44));
SELECT parallel_material.create_arrangement('li'::regclass, '{l_orderkey}',
                                            '{l_extendedprice, l_discount, l_shipdate}');
DO $$
DECLARE o bigint := 1; n int := 0;
BEGIN
    WHILE n < 20000 LOOP
        FOR j IN 1..(1 + o % 7) LOOP
            EXIT WHEN n >= 20000;
            INSERT INTO li VALUES (o, n, j, 1000 + n % 97 * 10.5, (n % 11) / 100.0,
                                   date '1995-01-01' + n % 2000, 'comment ' || n);
            n := n + 1;
        END LOOP;
        o := o + 1;
    END LOOP;
END $$;
SELECT 'before reclaim' AS at, live_versions, bytes, round(bytes::numeric / live_versions, 1) AS bytes_per_row
  FROM parallel_material.arrangements WHERE relation = 'li'::regclass;
DO $$
DECLARE b0 bigint; b1 bigint;
BEGIN
    FOR i IN 1..100 LOOP
        SELECT bytes INTO b0 FROM parallel_material.arrangements WHERE relation = 'li'::regclass;
        PERFORM parallel_material.arrangement_reclaim('li');
        PERFORM pg_sleep(0.2);
        SELECT bytes INTO b1 FROM parallel_material.arrangements WHERE relation = 'li'::regclass;
        EXIT WHEN b1 = b0 AND i > 3;
    END LOOP;
END $$;
SELECT 'after reclaim' AS at, live_versions, bytes, round(bytes::numeric / live_versions, 1) AS bytes_per_row
  FROM parallel_material.arrangements WHERE relation = 'li'::regclass;
SELECT count(*) AS check_rows FROM parallel_material.arrangement_check('li');
