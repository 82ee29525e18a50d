-- stats: the cluster-wide counters are readable when the library is preloaded (it is here).
SELECT count(*) AS rows FROM parallel_material.stats;
SELECT materializations >= 0 AND rows_written >= 0 AND pages_spilled >= 0 AS sane
  FROM parallel_material.stats;
