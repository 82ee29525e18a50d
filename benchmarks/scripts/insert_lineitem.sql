-- One single-row INSERT into lineitem: an order key from bench.new_orderkey (>= 1e9, removed
-- after each measurement by the scenario's reset), shipped inside Q1's and Q15's date ranges.
\set partkey random(1, :n_supplier)
\set suppkey random(1, :n_supplier)
\set qty random(1, 50)
INSERT INTO lineitem (l_orderkey, l_partkey, l_suppkey, l_linenumber, l_quantity, l_extendedprice,
                      l_discount, l_tax, l_returnflag, l_linestatus, l_shipdate, l_commitdate,
                      l_receiptdate, l_shipinstruct, l_shipmode, l_comment)
VALUES (nextval('bench.new_orderkey'), :partkey, :suppkey, 1, :qty, :qty * 1000.0, 0.05, 0.02, 'N', 'O',
        date '1996-02-01', date '1996-02-15', date '1996-02-20', 'DELIVER IN PERSON', 'AIR',
        'benchmark insert');
