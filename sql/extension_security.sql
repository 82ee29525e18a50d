-- extension_security: the rules PostgreSQL gives for extension scripts and SECURITY DEFINER
-- functions ("Security Considerations for Extension Scripts"), checked on the catalog so that a
-- function added later without them fails here. Every query must return no rows.
-- 1. every SQL or PL/pgSQL function of the extension runs with a fixed search_path (objects
-- planted in a schema on the caller's path are never found)
SELECT p.oid::regprocedure AS function_without_fixed_search_path
  FROM pg_depend d
  JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_language l ON l.oid = p.prolang
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'parallel_material')
   AND l.lanname NOT IN ('c', 'internal')
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
 ORDER BY 1::text;
-- 2. no internal function (named _..., or a trigger or event trigger function) nor SECURITY
-- DEFINER one is executable by PUBLIC. Allowed, and why: _arrangement_state and
-- _arrangement_wanted, which the
-- arrangements view calls with the reader's rights, redacts what the reader may not see.
SELECT p.oid::regprocedure AS internal_function_executable_by_public
  FROM pg_depend d
  JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'parallel_material')
   AND (p.proname LIKE '\_%' OR p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype)
        OR p.prosecdef)
   AND p.oid NOT IN ('parallel_material._arrangement_state()'::regprocedure,
                     'parallel_material._arrangement_wanted()'::regprocedure)
   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
 ORDER BY 1::text;
-- 3. every SECURITY DEFINER function is owned by a superuser and has a fixed search_path
-- (covered by 1 for SQL and PL/pgSQL; C ones must not exist unless listed here)
SELECT p.oid::regprocedure AS security_definer_not_plpgsql
  FROM pg_depend d
  JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
  JOIN pg_language l ON l.oid = p.prolang
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'parallel_material')
   AND p.prosecdef AND l.lanname <> 'plpgsql'
 ORDER BY 1::text;
