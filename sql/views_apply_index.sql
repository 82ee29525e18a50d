-- views_apply_index: how maintenance finds the view rows to delete (docs/views.md,
-- "Representation"). create_view makes a btree on the view's output columns that copy a join
-- column; the apply DELETE finds the copies of a row by `=` on an index's columns and rechecks
-- the binary image, so a DELETE of one input row reads a few view rows, not the whole table.
-- Rows with a NULL in the index's columns, and views without such an index, scan.
SET client_min_messages = warning;
CREATE TABLE ai_c (c_key int, c_name text);
CREATE TABLE ai_o (o_key int, o_cust int);
CREATE TABLE ai_l (l_key int, l_n int, l_price numeric);
INSERT INTO ai_c SELECT g, 'c' || (g % 7) FROM generate_series(1, 100) g;
INSERT INTO ai_o SELECT g, g % 100 + 1 FROM generate_series(1, 1000) g;
INSERT INTO ai_l SELECT g % 1000 + 1, g, (g % 10) / 4.0 FROM generate_series(1, 5000) g;
SELECT parallel_material.create_view('ai_v', $$
  SELECT l.l_key, o.o_cust, c.c_name, l.l_price FROM ai_c c
    JOIN ai_o o ON o.o_cust = c.c_key JOIN ai_l l ON l.l_key = o.o_key $$);
-- The key index: the join columns among the outputs (l_key, o_cust).
SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) LIKE '%(l_key, o_cust)' AS on_join_keys
  FROM pg_index WHERE indrelid = 'ai_v'::regclass;
ANALYZE ai_v;
RESET client_min_messages;
SET parallel_material.debug_view_explain = on;
DELETE FROM ai_l WHERE l_n = 17;
UPDATE ai_l SET l_price = 99 WHERE l_n = 18;
DELETE FROM ai_c WHERE c_key = 3;
RESET parallel_material.debug_view_explain;
SELECT count(*) AS wrong FROM parallel_material.view_check('ai_v');

-- Equal by `=`, different by image: numeric 1.0 and 1.00 in a key column. The index finds both
-- candidates; the image recheck deletes the right one.
CREATE TABLE ai_a (k numeric, tag text);
CREATE TABLE ai_b (k numeric);
INSERT INTO ai_a VALUES (1.0, 'one'), (1.00, 'one'), (1.000, 'one'), (2, 'two');
INSERT INTO ai_b VALUES (1), (1), (2);
SET client_min_messages = warning;
SELECT parallel_material.create_view('ai_n', 'SELECT a.k, a.tag FROM ai_a a JOIN ai_b b ON a.k = b.k');
RESET client_min_messages;
-- (a table this small is scanned by cost: no seqscan, to go through the index)
SET enable_seqscan = off;
SET parallel_material.debug_view_explain = on;
DELETE FROM ai_a WHERE k::text = '1.00';
RESET parallel_material.debug_view_explain;
RESET enable_seqscan;
SELECT k::text, tag, count(*) FROM ai_n GROUP BY 1, 2 ORDER BY 1;
-- Duplicates (the two ai_b rows of key 1): one of them goes, one copy of each a row stays.
DELETE FROM ai_b WHERE ctid = (SELECT min(ctid) FROM ai_b WHERE k = 1);
SELECT k::text, tag, count(*) FROM ai_n GROUP BY 1, 2 ORDER BY 1;
SELECT count(*) AS wrong FROM parallel_material.view_check('ai_n');

-- A user's index on a nullable column instead of the key index: rows whose key is NULL are
-- found by a scan, the others through the index.
CREATE TABLE ai_p (id int, parent int, label text);
INSERT INTO ai_p SELECT g, g / 10, CASE WHEN g % 50 = 0 THEN NULL ELSE 'l' || g END FROM generate_series(1, 2000) g;
SET client_min_messages = warning;
SELECT parallel_material.create_view('ai_s', 'SELECT a.label, b.label AS plabel FROM ai_p a JOIN ai_p b ON a.parent = b.id');
RESET client_min_messages;
SELECT count(*) AS key_indexes FROM pg_index WHERE indrelid = 'ai_s'::regclass;
CREATE INDEX ai_s_label ON ai_s (label);
ANALYZE ai_s;
SET parallel_material.debug_view_explain = on;
DELETE FROM ai_p WHERE id = 777;
DELETE FROM ai_p WHERE id = 1000;
RESET parallel_material.debug_view_explain;
SELECT count(*) AS wrong FROM parallel_material.view_check('ai_s');

-- No join column among the outputs: no index, deletes scan, still exact. (ai_v goes first:
-- two views of one input fire in trigger-name order, which depends on the view ids.)
SET client_min_messages = warning;
SELECT parallel_material.drop_view('ai_v');
SELECT parallel_material.create_view('ai_w', 'SELECT c.c_name FROM ai_c c JOIN ai_o o ON o.o_cust = c.c_key');
RESET client_min_messages;
SELECT count(*) AS key_indexes FROM pg_index WHERE indrelid = 'ai_w'::regclass;
SET parallel_material.debug_view_explain = on;
DELETE FROM ai_o WHERE o_key = 5;
RESET parallel_material.debug_view_explain;
SELECT count(*) AS wrong FROM parallel_material.view_check('ai_w');

SET client_min_messages = warning;
SELECT parallel_material.drop_view('ai_n');
SELECT parallel_material.drop_view('ai_s');
SELECT parallel_material.drop_view('ai_w');
DROP TABLE ai_c, ai_o, ai_l, ai_a, ai_b, ai_p;
