-- One single-row INSERT into orders (as insert_order.sql), committed, then the next statement
-- checks that the new order is visible through the same join Q3 makes (customer -> orders on
-- o_custkey: through the arrangement on orders(o_custkey) when the extension's join is on),
-- touching only columns that arrangement holds. A row not visible raises an error, which
-- aborts the pgbench client: the harness counts it in the action's "errors".
\set custkey random(1, :n_customer)
\set price random(100, 50000000)
INSERT INTO orders (o_orderkey, o_custkey, o_orderstatus, o_totalprice, o_orderdate, o_orderpriority,
                    o_clerk, o_shippriority, o_comment)
VALUES (nextval('bench.new_orderkey'), :custkey, 'O', :price / 100.0, date '1998-08-02', '3-MEDIUM',
        'Clerk#000000001', 0, 'benchmark insert')
RETURNING o_orderkey AS new_key \gset
SELECT CASE WHEN count(*) = 1 THEN 1
            ELSE ('committed order ' || :new_key || ' not visible to the next statement: '
                  || count(*) || ' rows')::int END AS visible
FROM customer JOIN orders ON o_custkey = c_custkey
WHERE c_custkey = :custkey AND o_orderkey = :new_key AND o_orderdate = date '1998-08-02';
