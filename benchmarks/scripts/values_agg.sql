-- Reference for share_hits (issue 15): a 4-row VALUES aggregate, no table, no extension code
-- (its cost is below share_min_cost: no sharing node). What a hit could cost at best, and,
-- stock at 64 against 8 clients, the machine's own penalty for 64 clients on its cores.
SELECT x, count(*) FROM (VALUES (1), (2), (3), (4)) v(x) GROUP BY x ORDER BY x;
