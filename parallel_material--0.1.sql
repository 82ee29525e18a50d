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

-- ---------------------------------------------------------------------------------------------
-- Arrangements (docs/arrangements.md): shared, delta-maintained hash indexes on join keys.
-- Internal functions (named _...) are not executable by PUBLIC, except _arrangement_state, which
-- the arrangements view calls with the reader's rights and which redacts by privilege. Every
-- SQL and PL/pgSQL function has a fixed search_path and schema-qualified names and operators
-- (sql/extension_security.sql checks the catalog for it).

-- Definitions. Written only by create/drop_arrangement (which check ownership), readable by all.
CREATE TABLE arrangement_defs (
    defid bigint NOT NULL,
    relid oid NOT NULL,
    key_attnums int2[] NOT NULL,
    attnums int2[] NOT NULL,
    created_at timestamptz NOT NULL
);
COMMENT ON TABLE arrangement_defs IS 'arrangement definitions (relation, key and arranged columns)';
REVOKE ALL ON arrangement_defs FROM PUBLIC;
GRANT SELECT ON arrangement_defs TO PUBLIC;
CREATE SEQUENCE arrangement_defid_seq;
REVOKE ALL ON arrangement_defid_seq FROM PUBLIC;

-- The maintenance trigger: create_arrangement attaches it (as the function's owner), nobody else.
CREATE FUNCTION _arrangement_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pm_arrangement_trigger' LANGUAGE C;
REVOKE ALL ON FUNCTION _arrangement_trigger() FROM PUBLIC;

CREATE FUNCTION create_arrangement(rel regclass, key text[], include text[] DEFAULT NULL)
    RETURNS void AS 'MODULE_PATHNAME', 'pm_create_arrangement' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION create_arrangement(regclass, text[], text[]) IS
    'arrange rel on key, keeping the key and include columns (NULL: all columns)';

CREATE FUNCTION drop_arrangement(rel regclass, key text[] DEFAULT NULL)
    RETURNS void AS 'MODULE_PATHNAME', 'pm_drop_arrangement' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION drop_arrangement(regclass, text[]) IS
    'drop the arrangement of rel on key (NULL: its only arrangement)';

CREATE FUNCTION arrangement_probe(rel regclass, key_values text[], key text[] DEFAULT NULL,
                                  OUT tid tid, OUT row_text text)
    RETURNS SETOF record AS 'MODULE_PATHNAME', 'pm_arrangement_probe' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION arrangement_probe(regclass, text[], text[]) IS
    'rows of rel whose key equals key_values, read through the arrangement under the current snapshot';

CREATE FUNCTION arrangement_rows(rel regclass, key text[] DEFAULT NULL,
                                 OUT tid tid, OUT row_text text)
    RETURNS SETOF record AS 'MODULE_PATHNAME', 'pm_arrangement_rows' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION arrangement_rows(regclass, text[]) IS
    'every row of rel visible to the current snapshot, read through the arrangement';

CREATE FUNCTION arrangement_check(rel regclass, key text[] DEFAULT NULL)
    RETURNS TABLE (side text, tid tid, row_text text)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n bigint;
    cols text;
BEGIN
    -- The arranged columns (quoted, in attribute order) of the definition arrangement_rows picks.
    SELECT pg_catalog.count(*), pg_catalog.min(c.list) INTO n, cols
      FROM (SELECT (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname::pg_catalog.text),
                                                 ', ' ORDER BY a.attnum)
                      FROM pg_catalog.pg_attribute a
                     WHERE a.attrelid OPERATOR(pg_catalog.=) d.relid
                       AND a.attnum OPERATOR(pg_catalog.=) ANY (d.attnums)) AS list
              FROM parallel_material.arrangement_defs d
             WHERE d.relid OPERATOR(pg_catalog.=) rel::pg_catalog.oid
               AND (key IS NULL OR d.key_attnums OPERATOR(pg_catalog.=) ARRAY(
                     SELECT a.attnum
                       FROM pg_catalog.unnest(key) WITH ORDINALITY k(name, i)
                       JOIN pg_catalog.pg_attribute a
                         ON a.attrelid OPERATOR(pg_catalog.=) rel::pg_catalog.oid
                        AND a.attname OPERATOR(pg_catalog.=) k.name::pg_catalog.name
                        AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                      ORDER BY k.i))) c;
    IF n OPERATOR(pg_catalog.<>) 1 THEN
        -- no single definition: arrangement_rows raises the error (no such table, column or
        -- arrangement, several arrangements, no privilege)
        PERFORM parallel_material.arrangement_rows(rel, key);
        RAISE EXCEPTION 'no single arrangement of % on that key', rel;
    END IF;
    -- One statement, so one snapshot, for both sides.
    RETURN QUERY EXECUTE pg_catalog.format(
        $q$WITH a AS (SELECT r.tid, r.row_text FROM parallel_material.arrangement_rows(%1$L::pg_catalog.regclass, %3$L::pg_catalog.text[]) r),
                h AS (SELECT t.ctid AS tid, ROW(%2$s)::pg_catalog.text AS row_text FROM %1$s t)
           SELECT 'arrangement only'::pg_catalog.text, x.tid, x.row_text
             FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM h) x
           UNION ALL
           SELECT 'heap only'::pg_catalog.text, y.tid, y.row_text
             FROM (SELECT * FROM h EXCEPT ALL SELECT * FROM a) y
           ORDER BY 2, 1$q$,
        rel, cols, key);
END
$fn$;
COMMENT ON FUNCTION arrangement_check(regclass, text[]) IS
    'differences between the arrangement and a heap scan under the same snapshot (none: exact)';

CREATE FUNCTION arrangement_reclaim(rel regclass, key text[] DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'pm_arrangement_reclaim' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION arrangement_reclaim(regclass, text[]) IS
    'unlink versions dead to every snapshot (freed after readers leave); returns how many';

CREATE FUNCTION _arrangement_age_for_test(rel regclass, key text[], xid_source text) RETURNS xid
    AS 'MODULE_PATHNAME', 'pm_arrangement_age_for_test' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION _arrangement_age_for_test(regclass, text[], text) FROM PUBLIC;
COMMENT ON FUNCTION _arrangement_age_for_test(regclass, text[], text) IS
    'test aid: fake an arrangement holding an xid just before relfrozenxid or the commit log horizon';

-- Counts, bytes and the xid bound are NULL for a role that may not SELECT the table (they follow
-- other transactions' writes, uncommitted ones included), unless it has pg_read_all_stats.
CREATE FUNCTION _arrangement_state(
    OUT defid bigint, OUT state text, OUT live_versions bigint, OUT dead_versions bigint,
    OUT bytes bigint, OUT deltas_applied bigint, OUT last_reclaim timestamptz,
    OUT relfilenode oid, OUT oldest_xid xid)
    RETURNS SETOF record AS 'MODULE_PATHNAME', 'pm_arrangement_state' LANGUAGE C VOLATILE;

CREATE VIEW arrangements AS
SELECT d.relid::pg_catalog.regclass AS relation,
       ARRAY(SELECT a.attname::pg_catalog.text
               FROM pg_catalog.unnest(d.key_attnums) WITH ORDINALITY k(n, i)
               JOIN pg_catalog.pg_attribute a
                 ON a.attrelid OPERATOR(pg_catalog.=) d.relid AND a.attnum OPERATOR(pg_catalog.=) k.n
              ORDER BY k.i) AS key,
       ARRAY(SELECT a.attname::pg_catalog.text
               FROM pg_catalog.unnest(d.attnums) WITH ORDINALITY k(n, i)
               JOIN pg_catalog.pg_attribute a
                 ON a.attrelid OPERATOR(pg_catalog.=) d.relid AND a.attnum OPERATOR(pg_catalog.=) k.n
              ORDER BY k.i) AS columns,
       -- a heap rewritten since the build (VACUUM FULL, CLUSTER...) makes it invalid until rebuilt
       CASE WHEN s.relfilenode IS DISTINCT FROM pg_catalog.pg_relation_filenode(d.relid)
            THEN 'invalid' ELSE s.state END AS state,
       -- not built: 0; redacted for the reader: NULL
       CASE WHEN s.defid IS NULL THEN 0 ELSE s.live_versions END AS live_versions,
       CASE WHEN s.defid IS NULL THEN 0 ELSE s.dead_versions END AS dead_versions,
       CASE WHEN s.defid IS NULL THEN 0 ELSE s.bytes END AS bytes,
       CASE WHEN s.defid IS NULL THEN 0 ELSE s.deltas_applied END AS deltas_applied,
       s.last_reclaim,
       -- a lower bound of the xids its versions hold; rebuilt before it precedes relfrozenxid
       s.oldest_xid
  FROM parallel_material.arrangement_defs d
  LEFT JOIN parallel_material._arrangement_state() s ON s.defid OPERATOR(pg_catalog.=) d.defid;
GRANT SELECT ON arrangements TO PUBLIC;

-- Builds in progress (create_arrangement and lazy rebuilds), one row per building backend. They
-- are reported as PROGRESS_COMMAND_CREATE_INDEX (so pg_stat_progress_create_index lists them
-- too, with a NULL command) and told apart by a marker in parameter 18 (0x504d41).
CREATE VIEW arrangement_build_progress AS
SELECT p.pid,
       p.datid,
       p.relid::pg_catalog.regclass AS relation,
       NULLIF(p.param19, 0) AS defid,
       CASE p.param10 WHEN 1 THEN 'waiting for writers'
                      WHEN 2 THEN 'scanning table' END AS phase,
       p.param16 AS blocks_total,
       p.param17 AS blocks_done,
       p.param12 AS tuples_estimate,
       p.param13 AS versions_stored
  FROM pg_catalog.pg_stat_get_progress_info('CREATE INDEX') p
 WHERE p.param18 OPERATOR(pg_catalog.=) 5262657
   AND p.datid OPERATOR(pg_catalog.=) (SELECT db.oid FROM pg_catalog.pg_database db
                                        WHERE db.datname OPERATOR(pg_catalog.=) pg_catalog.current_database());
GRANT SELECT ON arrangement_build_progress TO PUBLIC;

-- DROP TABLE removes the arrangements of the table (its triggers go with it). The event trigger
-- functions run as the extension's owner (they call internal functions no other role may call)
-- with a fixed search_path; the C functions act only on what the catalog confirms (a relation
-- that no longer exists, a column that is dropped).
CREATE FUNCTION _arrangement_forget(relid oid) RETURNS void
    AS 'MODULE_PATHNAME', 'pm_arrangement_forget' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION _arrangement_forget(oid) FROM PUBLIC;
CREATE FUNCTION _arrangement_on_sql_drop() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    PERFORM parallel_material._arrangement_forget(o.objid)
       FROM pg_catalog.pg_event_trigger_dropped_objects() o
      WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid
        AND o.objsubid OPERATOR(pg_catalog.=) 0
        AND o.object_type OPERATOR(pg_catalog.=) 'table'::pg_catalog.text
        AND EXISTS (SELECT 1 FROM parallel_material.arrangement_defs d
                     WHERE d.relid OPERATOR(pg_catalog.=) o.objid);
END
$fn$;
REVOKE ALL ON FUNCTION _arrangement_on_sql_drop() FROM PUBLIC;
CREATE EVENT TRIGGER parallel_material_arrangement_drop ON sql_drop
    EXECUTE FUNCTION _arrangement_on_sql_drop();
-- ---------------------------------------------------------------------------------------------
-- Results shared across sessions (docs/shared-results.md).

-- Data versions: the key version of a relation for the current snapshot,
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
-- is preloaded and parallel_material.shared_memory > 0. Readable by everyone, as
-- pg_stat_activity: the statement, key and relations of another role's entry only with
-- pg_read_all_stats (or that role's privileges), other databases' entries not at all.
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
    OUT producer_pid integer,
    OUT spilled_bytes bigint,
    OUT spill_file text,
    OUT producer_role oid)
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

-- The digest of this session's settings that is part of every registry key (hex SHA-256), and
-- whether a setting is in it (docs/shared-results.md, "Settings in the key").
CREATE FUNCTION share_settings_digest() RETURNS text
    AS 'MODULE_PATHNAME', 'pm_share_settings_digest' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION share_setting_in_key(name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'pm_share_setting_in_key' LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- ALTER TABLE ... DROP COLUMN drops the arrangements holding the column (as it drops the indexes
-- on it); ALTER COLUMN ... TYPE re-checks key columns (an unfit key type fails the ALTER) and
-- invalidates the arrangements holding the column (rebuilt on their next use).
CREATE FUNCTION _arrangement_column_dropped(relid oid, attnum int, colname text) RETURNS void
    AS 'MODULE_PATHNAME', 'pm_arrangement_column_dropped' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION _arrangement_column_dropped(oid, int, text) FROM PUBLIC;
CREATE FUNCTION _arrangement_on_column_drop() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    PERFORM parallel_material._arrangement_column_dropped(o.objid, o.objsubid,
                o.address_names[pg_catalog.array_upper(o.address_names, 1)])
       FROM pg_catalog.pg_event_trigger_dropped_objects() o
      WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid
        AND o.objsubid OPERATOR(pg_catalog.>) 0
        AND o.object_type OPERATOR(pg_catalog.=) 'table column'::pg_catalog.text
        AND EXISTS (SELECT 1 FROM parallel_material.arrangement_defs d
                     WHERE d.relid OPERATOR(pg_catalog.=) o.objid
                       AND o.objsubid OPERATOR(pg_catalog.=) ANY (d.attnums));
END
$fn$;
REVOKE ALL ON FUNCTION _arrangement_on_column_drop() FROM PUBLIC;
CREATE EVENT TRIGGER parallel_material_arrangement_column_drop ON sql_drop
    WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION _arrangement_on_column_drop();
-- (a pg_ddl_command comes only from pg_event_trigger_ddl_commands(), inside an event trigger)
CREATE FUNCTION _arrangement_altered(cmd pg_ddl_command) RETURNS void
    AS 'MODULE_PATHNAME', 'pm_arrangement_altered' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION _arrangement_altered(pg_ddl_command) FROM PUBLIC;
CREATE FUNCTION _arrangement_on_alter() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM parallel_material.arrangement_defs) THEN
        PERFORM parallel_material._arrangement_altered(c.command)
           FROM pg_catalog.pg_event_trigger_ddl_commands() c
          WHERE c.command_tag OPERATOR(pg_catalog.=) 'ALTER TABLE'::pg_catalog.text;
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION _arrangement_on_alter() FROM PUBLIC;
CREATE EVENT TRIGGER parallel_material_arrangement_alter ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION _arrangement_on_alter();
