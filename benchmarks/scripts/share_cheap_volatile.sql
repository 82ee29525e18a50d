-- share_overhead, phase cheap_unshareable: a cheap point query the sharing verdict refuses (now()
-- is a stable function: `volatile or stable function`), so with share_across_sessions on the
-- plan must stay stock's (no whole-result node) and cost what it costs with sharing off.
-- One order's revenue "as of now", by a random key: an index scan of lineitem(l_orderkey), 1-7 rows.
\set k random(1, :n_orders)
SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, now() AS as_of
  FROM lineitem WHERE l_orderkey = :k GROUP BY l_orderkey;
