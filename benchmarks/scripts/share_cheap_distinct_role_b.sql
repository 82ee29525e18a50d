-- share_overhead: share_cheap_distinct.sql run as the non-superuser role share_bench_b (SET ROLE),
-- a flood of cheap misses from another role than the shared workload's.
\set k random(1, :n_orders)
SET ROLE share_bench_b;
SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue
  FROM lineitem WHERE l_orderkey = :k GROUP BY l_orderkey;
