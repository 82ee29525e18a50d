-- Stale-row check of Q1 (q1.sql, same text: same plan, same shared entries): in ONE
-- REPEATABLE READ transaction (one snapshot), run it with the session's settings (sharing on in
-- the extension variant: a hit, an attach or a production) and then with the extension off, and
-- record how many rows differ (EXCEPT ALL both ways) in bench.stale_checks (shared_results.json).
-- Closed loop, one client: a check 1 s into the phase, then one every 2 s after the last ends.
\sleep 1 s
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT bench.stale_rows_check('q1.sql', $pmq$
SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price,
       sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
       sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge, avg(l_quantity) AS avg_qty,
       avg(l_extendedprice) AS avg_price, avg(l_discount) AS avg_disc, count(*) AS count_order
FROM lineitem WHERE l_shipdate <= date '1998-12-01' - interval '90 days'
GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus
$pmq$, 'l_returnflag bpchar, l_linestatus bpchar, sum_qty numeric, sum_base_price numeric, sum_disc_price numeric, sum_charge numeric, avg_qty numeric, avg_price numeric, avg_disc numeric, count_order bigint');
COMMIT;
\sleep 1 s
