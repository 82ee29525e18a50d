-- parallel_material--0.1.sql — objects of the parallel_material extension (schema parallel_material).
\echo Use "CREATE EXTENSION parallel_material" to load this file. \quit

-- The schema is created here, not through the control file, so that it is a member of the
-- extension and DROP EXTENSION removes it.
CREATE SCHEMA parallel_material;
GRANT USAGE ON SCHEMA parallel_material TO PUBLIC;
SET LOCAL search_path = parallel_material, pg_catalog;

CREATE FUNCTION version() RETURNS text
    AS 'MODULE_PATHNAME', 'pm_version' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION version() IS 'version of the loaded parallel_material library';

CREATE FUNCTION stats(
    OUT materializations bigint,
    OUT rows_written bigint,
    OUT bytes_written bigint,
    OUT pages_spilled bigint,
    OUT fallbacks bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pm_stats' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION stats() IS 'cluster-wide counters since server start (needs shared_preload_libraries)';

CREATE VIEW stats AS SELECT * FROM stats();
GRANT SELECT ON stats TO PUBLIC;

-- Diagnostics of the C++/PostgreSQL error boundary; superuser only.
CREATE FUNCTION debug_boundary(mode text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'pm_debug_boundary' LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION debug_boundary(text) FROM PUBLIC;

-- Data versions (docs/shared-results.md): the key version of a relation for the current snapshot,
-- NULL when sharing would be skipped; data_version_info says why.
CREATE FUNCTION data_version(rel regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'pm_data_version' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION data_version(regclass) IS
    'key version of the relation for the current snapshot; NULL when sharing would be skipped';

CREATE FUNCTION data_version_info(
    rel regclass,
    OUT version bigint,
    OUT global_version bigint,
    OUT generation bigint,
    OUT skip_reason text)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pm_data_version_info' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION data_version_info(regclass) IS
    'key of the relation for the current snapshot (its version, the global version, the generation), or why sharing would be skipped';

CREATE FUNCTION reset_data_versions() RETURNS void
    AS 'MODULE_PATHNAME', 'pm_reset_data_versions' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION reset_data_versions() IS
    'forgets every data version and poisoning and starts a new generation (superuser)';
REVOKE ALL ON FUNCTION reset_data_versions() FROM PUBLIC;

-- Test support (superuser only): registers or removes an in-progress committer of a relation.
CREATE FUNCTION debug_set_committer(rel regclass, xid xid8, present boolean) RETURNS void
    AS 'MODULE_PATHNAME', 'pm_debug_set_committer' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION debug_set_committer(regclass, xid8, boolean) FROM PUBLIC;


-- Cross-session sharing verdicts (docs/shared-results.md): plans `query` with the current
-- settings and returns, for every ParallelMaterial node, whether its child could be shared and
-- its fingerprint. For tests and diagnostics.
CREATE FUNCTION share_verdicts(query text, OUT verdict text, OUT fingerprint text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'pm_share_verdicts' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Results shared across sessions (docs/shared-results.md). The registry exists when the library
-- is preloaded and parallel_material.shared_memory > 0; nothing produces entries yet (the
-- executor wire-up is not built), so the view lists what the registry holds, normally nothing.
CREATE FUNCTION shared_results(
    OUT fingerprint text,
    OUT query text,
    OUT relations oid[],
    OUT bytes bigint,
    OUT rows bigint,
    OUT hits bigint,
    OUT readers integer,
    OUT state text,
    OUT age interval,
    OUT producer_pid integer)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'pm_shared_results' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE VIEW shared_results AS SELECT * FROM shared_results();
GRANT SELECT ON shared_results TO PUBLIC;

CREATE FUNCTION reset_shared_results() RETURNS bigint
    AS 'MODULE_PATHNAME', 'pm_reset_shared_results' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION reset_shared_results() IS
    'drops every unpinned shared result and hides pinned ones until released (superuser)';
REVOKE ALL ON FUNCTION reset_shared_results() FROM PUBLIC;

-- Test support (superuser only): registers a ready entry of `rows` records under a test key.
CREATE FUNCTION debug_add_shared_result(tag integer, rows integer) RETURNS text
    AS 'MODULE_PATHNAME', 'pm_debug_add_shared_result' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION debug_add_shared_result(integer, integer) FROM PUBLIC;

-- The registry key each ParallelMaterial node of `query` would look up now: fingerprint,
-- generation, global version and the versions of the scanned relations (in relation-id order),
-- or why it cannot be shared with the current snapshot. For tests and diagnostics.
CREATE FUNCTION share_keys(query text, OUT verdict text, OUT fingerprint text,
                           OUT generation bigint, OUT global_version bigint,
                           OUT versions bigint[], OUT skip_reason text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'pm_share_keys' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
