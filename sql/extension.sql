-- extension: CREATE/DROP EXTENSION create and remove every object in schema parallel_material.
SELECT extname, extversion, extrelocatable
  FROM pg_extension
 WHERE extname = 'parallel_material';
SELECT parallel_material.version();
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'parallel_material' ORDER BY 1, 2;
SELECT c.relname, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'parallel_material' ORDER BY 1;
DROP EXTENSION parallel_material;
SELECT count(*) AS schemas_left FROM pg_namespace WHERE nspname = 'parallel_material';
SELECT count(*) AS functions_left FROM pg_proc WHERE proname IN ('debug_boundary', 'stats')
   AND pronamespace::regnamespace::text = 'parallel_material';
CREATE EXTENSION parallel_material;
SELECT parallel_material.version();
-- only superusers may call the boundary diagnostics
CREATE ROLE pm_regress_user;
SET ROLE pm_regress_user;
SELECT parallel_material.debug_boundary('ok');
RESET ROLE;
DROP ROLE pm_regress_user;
