-- bench.view_action = refresh: REFRESH MATERIALIZED VIEW q3_mv (the same query as the maintained
-- view); anything else: one single-row INSERT into lineitem (as view_insert_lineitem.sql).
\set orderkey random(1, :n_orders)
\set qty random(1, 50)
SELECT CASE WHEN current_setting('bench.view_action', true) = 'refresh' THEN 1 ELSE 0 END AS refresh \gset
\if :refresh
REFRESH MATERIALIZED VIEW q3_mv;
\else
INSERT INTO lineitem (l_orderkey, l_partkey, l_suppkey, l_linenumber, l_quantity, l_extendedprice,
                      l_discount, l_tax, l_returnflag, l_linestatus, l_shipdate, l_commitdate,
                      l_receiptdate, l_shipinstruct, l_shipmode, l_comment)
VALUES (:orderkey, 1, 1, nextval('bench.new_orderkey'), :qty, :qty * 1000.0, 0.05, 0.02,
        'N', 'O', date '1996-02-01', date '1996-02-15', date '1996-02-20', 'DELIVER IN PERSON', 'AIR',
        'benchmark insert');
\endif
