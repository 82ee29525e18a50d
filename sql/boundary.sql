-- boundary: a PostgreSQL error inside C++ and a C++ exception at an entry point both end in a
-- clean ERROR with the right SQLSTATE, C++ destructors run, and the session keeps working.
\set VERBOSITY sqlstate
SELECT parallel_material.debug_boundary('ok');
SELECT parallel_material.debug_boundary('destructors');
-- PostgreSQL error (division_by_zero, 22012) raised under a C++ frame owning a destructor
SELECT parallel_material.debug_boundary('pg_error');
SELECT parallel_material.debug_boundary('destructors');
SELECT parallel_material.debug_boundary('pg_error');
SELECT parallel_material.debug_boundary('destructors');
-- C++ exceptions: internal_error, invalid_parameter_value, out_of_memory
SELECT parallel_material.debug_boundary('cxx_error');
SELECT parallel_material.debug_boundary('core_error');
SELECT parallel_material.debug_boundary('bad_alloc');
SELECT parallel_material.debug_boundary('no such mode');
\set VERBOSITY default
SELECT parallel_material.debug_boundary('cxx_error');
-- caught in PL/pgSQL like any error, inside a subtransaction
DO $$
BEGIN
  PERFORM parallel_material.debug_boundary('pg_error');
EXCEPTION WHEN division_by_zero THEN
  RAISE NOTICE 'caught %: %', SQLSTATE, SQLERRM;
END $$;
DO $$
BEGIN
  PERFORM parallel_material.debug_boundary('core_error');
EXCEPTION WHEN invalid_parameter_value THEN
  RAISE NOTICE 'caught %: %', SQLSTATE, SQLERRM;
END $$;
-- a transaction survives through a savepoint
BEGIN;
SAVEPOINT a;
SELECT parallel_material.debug_boundary('cxx_error');
ROLLBACK TO a;
SELECT parallel_material.debug_boundary('ok');
COMMIT;
SELECT 1 AS still_working;
