-- One single-row INSERT into lineitem for an order that meets Q3's filters (bench.q3_orders, made
-- by the view_read scenario's setup), committed; the next statement checks that the new row is
-- in Q3's answer: in the view q3_lines (bench.q3_source = view), in the aggregate view q3_rev (agg:
-- the order's group counts every Q3-qualifying lineitem row of the order) or through Q3's join. A row not
-- visible raises an error, which aborts the pgbench client (the action's "errors").
\set r random(1, 1000000000)
INSERT INTO lineitem (l_orderkey, l_partkey, l_suppkey, l_linenumber, l_quantity, l_extendedprice,
                      l_discount, l_tax, l_returnflag, l_linestatus, l_shipdate, l_commitdate,
                      l_receiptdate, l_shipinstruct, l_shipmode, l_comment)
SELECT o_orderkey, 1, 1, nextval('bench.new_orderkey'), 1, 1000.0, 0.05, 0.02, 'N', 'O',
       date '1996-02-01', date '1996-02-15', date '1996-02-20', 'DELIVER IN PERSON', 'AIR', 'benchmark insert'
FROM bench.q3_orders WHERE n = 1 + :r % (SELECT max(n) FROM bench.q3_orders)
RETURNING l_orderkey AS k, l_linenumber AS ln \gset
SELECT current_setting('bench.q3_source', true) = 'view' AS from_view,
       current_setting('bench.q3_source', true) = 'agg' AS from_agg \gset
\if :from_view
SELECT CASE WHEN count(*) = 1 THEN 1
            ELSE ('committed lineitem ' || :k || '/' || :ln || ' not in the view: ' || count(*) || ' rows')::int END
FROM q3_lines WHERE l_orderkey = :k AND l_linenumber = :ln;
\elif :from_agg
SELECT CASE WHEN v = q THEN 1
            ELSE ('committed lineitem ' || :k || '/' || :ln || ' not in the aggregate view: ' || v || ' of ' || q || ' rows')::int END
FROM (SELECT coalesce((SELECT __pm_count FROM q3_rev WHERE l_orderkey = :k), 0) AS v,
             (SELECT count(*) FROM lineitem WHERE l_orderkey = :k AND l_shipdate > date '1995-03-15') AS q) c;
\else
SELECT CASE WHEN count(*) = 1 THEN 1
            ELSE ('committed lineitem ' || :k || '/' || :ln || ' not in Q3: ' || count(*) || ' rows')::int END
FROM customer, orders, lineitem
WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
  AND o_orderdate < date '1995-03-15' AND l_shipdate > date '1995-03-15'
  AND l_orderkey = :k AND l_linenumber = :ln;
\endif
