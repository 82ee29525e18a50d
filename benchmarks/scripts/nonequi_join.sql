-- Non-equi join: a nested loop whose inner side is materialized and rescanned per outer row.
SELECT count(*) FROM orders o
JOIN (SELECT l_suppkey % 100 AS k, min(l_extendedprice) AS x, max(l_extendedprice) AS y
      FROM lineitem GROUP BY 1) a ON o.o_totalprice BETWEEN a.x AND a.y;
