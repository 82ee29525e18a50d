-- Parallel scan of lineitem whose filter holds a SubPlan over 75k orders rows: a Materialize in
-- every participant (in PostgreSQL 15 parallel workers get no REWIND flag, so their Materialize
-- re-runs its child on every rescan instead of keeping the rows). About 72-300 lineitem rows reach
-- the SubPlan, whatever the scale factor; each compares against all 75k materialized rows.
SELECT count(*) FROM lineitem
WHERE l_orderkey % 4000 = 0 AND l_orderkey <= 300000
  AND l_quantity > ALL (SELECT -o_totalprice FROM orders WHERE o_orderkey <= 75000);
