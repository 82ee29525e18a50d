-- Stale-row check of the Q15-style query (q15_cte.sql, same text: same plan, same shared entries): in ONE
-- REPEATABLE READ transaction (one snapshot), run it with the session's settings (sharing on in
-- the extension variant: a hit, an attach or a production) and then with the extension off, and
-- record how many rows differ (EXCEPT ALL both ways) in bench.stale_checks (shared_results.json).
-- Closed loop, one client: a check 1 s into the phase, then one every 2 s after the last ends.
\sleep 1 s
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT bench.stale_rows_check('q15_cte.sql', $pmq$
WITH revenue AS MATERIALIZED (
  SELECT l_suppkey AS supplier_no, sum(l_extendedprice * (1 - l_discount)) AS total_revenue
    FROM lineitem
   WHERE l_shipdate >= date '1996-01-01' AND l_shipdate < date '1996-01-01' + interval '3 months'
   GROUP BY l_suppkey)
SELECT s_suppkey, s_name, s_address, s_phone, total_revenue
  FROM supplier, revenue
 WHERE s_suppkey = supplier_no AND total_revenue = (SELECT max(total_revenue) FROM revenue)
 ORDER BY s_suppkey
$pmq$, 's_suppkey int, s_name bpchar, s_address varchar, s_phone bpchar, total_revenue numeric');
COMMIT;
\sleep 1 s
