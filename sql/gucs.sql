-- gucs: every parallel_material.* setting, its default, valid values and clear errors.
SELECT name, setting, unit, vartype, context, min_val, max_val, enumvals, boot_val
  FROM pg_settings WHERE name LIKE 'parallel_material.%' ORDER BY name;
SHOW parallel_material.enable;
SHOW parallel_material.memory_limit;
SET parallel_material.enable = on;
SHOW parallel_material.enable;
SET parallel_material.max_producers = 0;
SET parallel_material.max_producers = 64;
SET parallel_material.memory_limit = '256MB';
SHOW parallel_material.memory_limit;
SET parallel_material.memory_limit = -1;
SET parallel_material.memory_limit = '64kB';
SET parallel_material.spill_io = 'sync';
SET parallel_material.spill_io = 'io_uring';
SET parallel_material.spill_io = 'auto';
-- out of range and invalid values: PostgreSQL's normal errors
SET parallel_material.max_producers = -1;
SET parallel_material.max_producers = 65;
SET parallel_material.memory_limit = '10kB';
SET parallel_material.memory_limit = 0;
SET parallel_material.memory_limit = '3 parsecs';
SET parallel_material.spill_io = 'mmap';
SET parallel_material.enable = 'perhaps';
-- arrangement_memory is fixed at server start
SET parallel_material.arrangement_memory = '1MB';
-- the prefix is reserved: a misspelt setting is an error, not a silent placeholder
SET parallel_material.enabel = on;
RESET ALL;
SHOW parallel_material.enable;
