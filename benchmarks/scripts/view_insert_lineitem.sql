-- One single-row INSERT into lineitem, into an existing order (about one in ten such rows meets
-- the Q3 join view's filters and adds a view row); l_linenumber from bench.new_orderkey (>= 1e9)
-- keeps the primary key unique and marks the row for the scenario's reset.
\set orderkey random(1, :n_orders)
\set partkey random(1, :n_part)
\set suppkey random(1, :n_supplier)
\set qty random(1, 50)
INSERT INTO lineitem (l_orderkey, l_partkey, l_suppkey, l_linenumber, l_quantity, l_extendedprice,
                      l_discount, l_tax, l_returnflag, l_linestatus, l_shipdate, l_commitdate,
                      l_receiptdate, l_shipinstruct, l_shipmode, l_comment)
VALUES (:orderkey, :partkey, :suppkey, nextval('bench.new_orderkey'), :qty, :qty * 1000.0, 0.05, 0.02,
        'N', 'O', date '1996-02-01', date '1996-02-15', date '1996-02-20', 'DELIVER IN PERSON', 'AIR',
        'benchmark insert');
