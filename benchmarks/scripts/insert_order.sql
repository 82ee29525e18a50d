-- One single-row INSERT into orders: a new key from bench.new_orderkey (>= 1e9, removed after each
-- measurement by the scenario's reset), a random existing customer (:n_customer comes from -D).
\set custkey random(1, :n_customer)
\set price random(100, 50000000)
INSERT INTO orders (o_orderkey, o_custkey, o_orderstatus, o_totalprice, o_orderdate, o_orderpriority,
                    o_clerk, o_shippriority, o_comment)
VALUES (nextval('bench.new_orderkey'), :custkey, 'O', :price / 100.0, date '1998-08-02', '3-MEDIUM',
        'Clerk#000000001', 0, 'benchmark insert');
