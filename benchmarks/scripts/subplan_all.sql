-- SubPlan shape: an uncorrelated ALL subquery whose result Materialize keeps and rescans per outer row.
SELECT count(*) FROM orders WHERE o_orderdate >= date '1995-01-01'
  AND o_totalprice < ALL (SELECT avg(l_extendedprice) * 4 FROM lineitem GROUP BY l_suppkey % 1000);
