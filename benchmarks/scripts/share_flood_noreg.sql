-- share_overhead, control of the flood: the same queries as share_flood.sql, but this session
-- turns share_across_sessions off first, so the stream costs the same CPU and enters nothing
-- into the registry. The shared workload beside it measures what the CPU alone costs it; the
-- difference to the phase with share_flood.sql is what the registry's admission and eviction cost.
\set p random(1000, 400000)
SET parallel_material.share_across_sessions = off;
SELECT o_orderpriority, count(*) AS orders, sum(o_totalprice) AS total
  FROM orders WHERE o_totalprice > :p GROUP BY o_orderpriority ORDER BY o_orderpriority;
