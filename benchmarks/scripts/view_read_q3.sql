-- TPC-H Q3's answer: from the maintained join view q3_lines (setting bench.q3_source = view: the
-- view holds Q3's join rows, the grouping and top 10 run on them), from the maintained aggregate
-- view q3_rev (bench.q3_source = agg: one row per order, the top 10 sorts them) or by running Q3
-- itself (any other value).
SELECT current_setting('bench.q3_source', true) = 'view' AS from_view,
       current_setting('bench.q3_source', true) = 'agg' AS from_agg \gset
\if :from_view
SELECT l_orderkey, sum(revenue) AS revenue, o_orderdate, o_shippriority
FROM q3_lines GROUP BY l_orderkey, o_orderdate, o_shippriority ORDER BY revenue DESC, o_orderdate LIMIT 10;
\elif :from_agg
SELECT l_orderkey, revenue, o_orderdate, o_shippriority
FROM q3_rev ORDER BY revenue DESC, o_orderdate LIMIT 10;
\else
SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority
FROM customer, orders, lineitem
WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
  AND o_orderdate < date '1995-03-15' AND l_shipdate > date '1995-03-15'
GROUP BY l_orderkey, o_orderdate, o_shippriority ORDER BY revenue DESC, o_orderdate LIMIT 10;
\endif
