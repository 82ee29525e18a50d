-- arrangements_middle_cut: key columns that do not lead the arranged columns are stored once
-- (issue 15, docs/arrangements.md "Storage", "Key columns stored once"): when every arranged
-- column before them has a fixed length, their offsets in a bare tuple's data are fixed, and the
-- bytes from the end of the column before them to the end of the last of them (padding
-- included) are left out and written back from the key. Reads stay exact: arrangement_check
-- compares every version with the heap, probes give the heap's row text, joins the stock
-- plan's rows, for versions stored by the build and by the maintenance triggers.
CREATE TABLE mc_a (id bigint, k bigint, x bigint);
CREATE TABLE mc_b (s smallint, k bigint, y bigint, t text);
CREATE TABLE mc_c (id int, a bigint, b int, t text);
CREATE TABLE mc_d (t text, k int, x bigint);
CREATE TABLE mc_e (id int, k int, x bigint);
INSERT INTO mc_a SELECT g, g * 3, -g FROM generate_series(1, 300) g;
INSERT INTO mc_b SELECT g % 100, g * 3, CASE WHEN g % 10 <> 0 THEN g END, 'r' || g
  FROM generate_series(1, 300) g;
INSERT INTO mc_c SELECT g, g * 5, g % 50, CASE WHEN g % 7 <> 0 THEN 't' || g END
  FROM generate_series(1, 300) g;
INSERT INTO mc_d SELECT 'v' || g, g, g * 2 FROM generate_series(1, 300) g;
INSERT INTO mc_e SELECT g, g * 3, g * 7 FROM generate_series(1, 300) g;
-- mc_a{k}: data (id, k, x) 24 bytes, k's 8 cut: 32 + 16 + 9 = 57 -> 64 bytes (80 with k).
-- mc_b{k}: s (2 bytes) kept, then 6 bytes of padding and k cut: 32 + 2 + 8 + 5 (t) + 9 = 56 -> 64
-- (with y NULL the tuple keeps its header and k: 32 + 16 + 2 + 6 + 8 + 5 + 9 = 78 -> 80).
-- mc_c{b,a}: id kept, a and b (and the padding before a) cut, t after them.
-- mc_d{k}: a text column before k: nothing cut (k's offset varies with t's length).
-- mc_e{k}: id kept, k cut (data bytes 4 to 8: a cut of 8 bytes' end that does not start the data).
SELECT parallel_material.create_arrangement('mc_a', '{k}');
SELECT parallel_material.create_arrangement('mc_b', '{k}');
SELECT parallel_material.create_arrangement('mc_c', '{b, a}');
SELECT parallel_material.create_arrangement('mc_d', '{k}');
SELECT parallel_material.create_arrangement('mc_e', '{k}');
SELECT relation, live_versions, bytes FROM parallel_material.arrangements
 WHERE relation::text LIKE 'mc\__' ORDER BY relation::text;
-- deltas: the maintenance triggers store new versions cut the same way
INSERT INTO mc_a SELECT g, g * 3, -g FROM generate_series(301, 400) g;
INSERT INTO mc_b SELECT g % 100, g * 3, CASE WHEN g % 10 <> 0 THEN g END, 'r' || g
  FROM generate_series(301, 400) g;
INSERT INTO mc_c SELECT g, g * 5, g % 50, CASE WHEN g % 7 <> 0 THEN 't' || g END
  FROM generate_series(301, 400) g;
INSERT INTO mc_d SELECT 'v' || g, g, g * 2 FROM generate_series(301, 400) g;
INSERT INTO mc_e SELECT g, g * 3, g * 7 FROM generate_series(301, 400) g;
UPDATE mc_a SET x = x - 1 WHERE id % 9 = 0;
UPDATE mc_b SET y = NULL WHERE k % 7 = 0;
UPDATE mc_b SET y = 1 WHERE k % 11 = 0;
UPDATE mc_c SET a = a + 1 WHERE id % 13 = 0;
DELETE FROM mc_c WHERE id % 17 = 0;
SELECT count(*) FROM parallel_material.arrangement_check('mc_a');
SELECT count(*) FROM parallel_material.arrangement_check('mc_b');
SELECT count(*) FROM parallel_material.arrangement_check('mc_c');
SELECT count(*) FROM parallel_material.arrangement_check('mc_d');
SELECT count(*) FROM parallel_material.arrangement_check('mc_e');
SELECT w.id, p.row_text = w::text AS same
  FROM mc_e w, parallel_material.arrangement_probe('mc_e', ARRAY[w.k::text]) p
 WHERE w.id IN (1, 2, 300, 301, 400) ORDER BY w.id;
SELECT relation, live_versions FROM parallel_material.arrangements
 WHERE relation::text LIKE 'mc\__' ORDER BY relation::text;
SELECT w.k, p.row_text = w::text AS same
  FROM mc_b w, parallel_material.arrangement_probe('mc_b', ARRAY[w.k::text]) p
 WHERE w.k IN (3, 21, 30, 33, 900, 1200) ORDER BY w.k;
SELECT w.id, p.row_text = w::text AS same
  FROM mc_c w, parallel_material.arrangement_probe('mc_c', ARRAY[w.b::text, w.a::text], '{b,a}') p
 WHERE w.id IN (1, 7, 13, 26, 350, 399) ORDER BY w.id;
-- joins through the arrangements (stock's joins off, so that the arrangement's plan is taken)
-- against the stock plan
CREATE TABLE mc_o AS SELECT g::bigint AS g, g % 50 AS h FROM generate_series(1, 2100) g;
ANALYZE mc_o, mc_a, mc_b, mc_c, mc_e;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SET parallel_material.enable_arrangement_join = on;
EXPLAIN (COSTS OFF) SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_b m ON m.k = o.g;
EXPLAIN (COSTS OFF) SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_c m ON m.a = o.g AND m.b = o.h;
CREATE TEMP TABLE mc_res_e AS SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_e m ON m.k = o.h;
CREATE TEMP TABLE mc_res_a AS SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_a m ON m.k = o.g;
CREATE TEMP TABLE mc_res_b AS SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_b m ON m.k = o.g;
CREATE TEMP TABLE mc_res_c AS
  SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_c m ON m.a = o.g AND m.b = o.h;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_nestloop;
SET parallel_material.enable_arrangement_join = off;
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM mc_res_a EXCEPT ALL
                              SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_a m ON m.k = o.g) x) AS differ,
       (SELECT count(*) FROM (SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_a m ON m.k = o.g EXCEPT ALL
                              SELECT * FROM mc_res_a) x) AS missing
  FROM mc_res_a;
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM mc_res_b EXCEPT ALL
                              SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_b m ON m.k = o.g) x) AS differ,
       (SELECT count(*) FROM (SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_b m ON m.k = o.g EXCEPT ALL
                              SELECT * FROM mc_res_b) x) AS missing
  FROM mc_res_b;
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM mc_res_c EXCEPT ALL
                              SELECT o.g, o.h, m.* FROM mc_o o
                                JOIN mc_c m ON m.a = o.g AND m.b = o.h) x) AS differ,
       (SELECT count(*) FROM (SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_c m ON m.a = o.g AND m.b = o.h
                              EXCEPT ALL SELECT * FROM mc_res_c) x) AS missing
  FROM mc_res_c;
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM mc_res_e EXCEPT ALL
                              SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_e m ON m.k = o.h) x) AS differ,
       (SELECT count(*) FROM (SELECT o.g, o.h, m.* FROM mc_o o JOIN mc_e m ON m.k = o.h EXCEPT ALL
                              SELECT * FROM mc_res_e) x) AS missing
  FROM mc_res_e;
RESET parallel_material.enable_arrangement_join;
DROP TABLE mc_o;
DROP TABLE mc_a, mc_b, mc_c, mc_d, mc_e;
