-- share_overhead, phase cheap_distinct: a cheap shareable-looking query whose text differs in
-- every run: pgbench's default simple protocol puts :k into the text as a literal, so each
-- query has its own fingerprint. With share_across_sessions on each is a registry miss that
-- computes a key, claims an entry, produces and publishes it (and, once the registry's memory
-- or slots are used up, evicts the least recently used entry): the per-query cost of sharing
-- where it never pays back. Same shape as share_cheap_volatile.sql without now().
\set k random(1, :n_orders)
SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue
  FROM lineitem WHERE l_orderkey = :k GROUP BY l_orderkey;
