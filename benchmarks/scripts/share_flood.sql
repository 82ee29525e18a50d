-- share_overhead, flood of misses: a distinct heavy-enough query in every run (a sequential scan
-- and aggregate of orders filtered by a random price: 75k rows at SF 0.05, 1.5M at SF 1). With
-- sharing on each one is a miss whose result enters the registry (a new entry, its ring of at
-- least 1 MB reserved from parallel_material.shared_memory), pushing other entries out.
\set p random(1000, 400000)
SELECT o_orderpriority, count(*) AS orders, sum(o_totalprice) AS total
  FROM orders WHERE o_totalprice > :p GROUP BY o_orderpriority ORDER BY o_orderpriority;
