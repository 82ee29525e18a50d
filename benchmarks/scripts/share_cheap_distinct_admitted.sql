-- share_overhead: share_cheap_distinct.sql with parallel_material.share_min_cost = 0 in its
-- session, so that every cheap distinct query is admitted to the registry again (each a
-- miss that claims an entry nobody reads): a flood of one-shot entries that only the eviction
-- policy (segmented LRU, rings sized from the estimate) keeps from evicting a reused entry.
\set k random(1, :n_orders)
SET parallel_material.share_min_cost = 0;
SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue
  FROM lineitem WHERE l_orderkey = :k GROUP BY l_orderkey;
