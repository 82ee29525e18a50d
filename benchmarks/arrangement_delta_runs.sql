-- benchmarks/arrangement_delta_runs.sql — bytes per row of lineitem(l_orderkey) with 4 columns after
-- about 20,000 single-row INSERTs, before and after reclaim passes (issue 15: reclaim groups them into
-- runs). Two cases: 'sequential' inserts each order's lineitems one after the other (20,000 rows);
-- 'interleaved' inserts them round-robin over 5,000 orders (line 1 of every order, then line 2, ...:
-- 19,997 rows), so the versions of one key are not adjacent in their chain (1,024 buckets: about 5
-- orders per chain).
-- Run: tools/with-cluster bash -c 'psql -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -f benchmarks/arrangement_delta_runs.sql'
CREATE EXTENSION IF NOT EXISTS parallel_material;
DROP TABLE IF EXISTS li;
DROP TABLE IF EXISTS li_rr;
CREATE TABLE li (l_orderkey bigint, l_partkey bigint, l_quantity numeric(15,2),
                 l_extendedprice numeric(15,2), l_discount numeric(15,2), l_shipdate date,
                 l_comment varchar(44));
CREATE TABLE li_rr (LIKE li);
SELECT parallel_material.create_arrangement('li'::regclass, '{l_orderkey}',
                                            '{l_extendedprice, l_discount, l_shipdate}');
SELECT parallel_material.create_arrangement('li_rr'::regclass, '{l_orderkey}',
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
DO $$
DECLARE n int := 0;
BEGIN
    FOR j IN 1..7 LOOP
        FOR o IN 1..5000 LOOP
            CONTINUE WHEN j > 1 + o % 7;
            INSERT INTO li_rr VALUES (o, n, j, 1000 + n % 97 * 10.5, (n % 11) / 100.0,
                                      date '1995-01-01' + n % 2000, 'comment ' || n);
            n := n + 1;
        END LOOP;
    END LOOP;
END $$;
SELECT 'before reclaim' AS at, CASE relation WHEN 'li'::regclass THEN 'sequential' ELSE 'interleaved' END AS inserts,
       live_versions, bytes, round(bytes::numeric / live_versions, 1) AS bytes_per_row
  FROM parallel_material.arrangements WHERE relation IN ('li'::regclass, 'li_rr'::regclass) ORDER BY 2 DESC;
DO $$
DECLARE b0 bigint; b1 bigint;
BEGIN
    FOR i IN 1..100 LOOP
        SELECT sum(bytes) INTO b0 FROM parallel_material.arrangements
         WHERE relation IN ('li'::regclass, 'li_rr'::regclass);
        PERFORM parallel_material.arrangement_reclaim('li');
        PERFORM parallel_material.arrangement_reclaim('li_rr');
        PERFORM pg_sleep(0.2);
        SELECT sum(bytes) INTO b1 FROM parallel_material.arrangements
         WHERE relation IN ('li'::regclass, 'li_rr'::regclass);
        EXIT WHEN b1 = b0 AND i > 3;
    END LOOP;
END $$;
SELECT 'after reclaim' AS at, CASE relation WHEN 'li'::regclass THEN 'sequential' ELSE 'interleaved' END AS inserts,
       live_versions, bytes, round(bytes::numeric / live_versions, 1) AS bytes_per_row
  FROM parallel_material.arrangements WHERE relation IN ('li'::regclass, 'li_rr'::regclass) ORDER BY 2 DESC;
SELECT count(*) AS check_rows FROM parallel_material.arrangement_check('li');
SELECT count(*) AS check_rows_interleaved FROM parallel_material.arrangement_check('li_rr');
