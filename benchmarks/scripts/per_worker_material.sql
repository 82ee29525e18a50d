-- Non-equi join whose inner side (an aggregate of lineitem, 20 price bands) is materialized:
-- PostgreSQL 18 plans it as a parallel Nested Loop with a Materialize per participant
-- (per_worker_material.json says under which settings).
SELECT count(*) FROM orders o
JOIN (SELECT l_suppkey % 20 AS k, min(l_extendedprice) AS x, max(l_extendedprice) AS y
      FROM lineitem GROUP BY 1) a ON o.o_totalprice BETWEEN a.x AND a.y;
