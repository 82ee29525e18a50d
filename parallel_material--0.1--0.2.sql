-- parallel_material--0.1--0.2.sql — what version 0.2 adds to 0.1 (ALTER EXTENSION parallel_material UPDATE).
-- 0.1's script is frozen: every object added or changed since goes here. A fresh CREATE EXTENSION
-- of 0.2 runs 0.1's script and then this one (PostgreSQL follows the update path when no full
-- script of the target version exists), so a fresh install and an upgrade run the same SQL.
-- The rules of 0.1's script hold here too: every function SET search_path = pg_catalog, pg_temp,
-- names qualified, internal functions revoked from PUBLIC.

\echo Use "ALTER EXTENSION parallel_material UPDATE TO '0.2'" to load this file. \quit

SET LOCAL search_path = parallel_material, pg_catalog;

-- ---------------------------------------------------------------------------------------------
-- Maintained views (issue 13; docs/views.md): create_view, drop_view, refresh_view, view_check,
-- the views view. A view is an ordinary heap table kept equal to its query by statement-level
-- triggers joining each input's changes against the shared arrangements of the other inputs.

-- One row per view. Written only by create_view/drop_view (after their ownership checks, as this
-- table's owner), readable by everyone like pg_views.
CREATE TABLE view_defs (
    viewid bigint PRIMARY KEY,
    viewrel oid NOT NULL UNIQUE,
    definition text NOT NULL,
    query_sql text NOT NULL,
    query_tree text NOT NULL,
    base_relids oid[] NOT NULL,
    arrangements bigint[] NOT NULL,
    created_arrangements bigint[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now());
COMMENT ON TABLE view_defs IS 'maintained views: table, query, inputs and arrangements used';
REVOKE ALL ON view_defs FROM PUBLIC;
GRANT SELECT ON view_defs TO PUBLIC;
CREATE SEQUENCE view_id_seq;
REVOKE ALL ON view_id_seq FROM PUBLIC;

-- The maintenance trigger: create_view attaches it (as the function's owner), nobody else.
CREATE FUNCTION _view_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pm_view_trigger' LANGUAGE C;
REVOKE ALL ON FUNCTION _view_trigger() FROM PUBLIC;
-- Maintained views under logical replication (view_row_changes.cpp): the row trigger, ENABLE
-- REPLICA, that collects the rows an apply worker writes; create_view attaches it, nobody else.
CREATE FUNCTION _view_row_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'pm_view_row_trigger' LANGUAGE C;
REVOKE ALL ON FUNCTION _view_row_trigger() FROM PUBLIC;

CREATE FUNCTION create_view(name text, query text) RETURNS regclass
    AS 'MODULE_PATHNAME', 'pm_create_view' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION create_view(text, text) IS
    'create table name filled from query (inner equi-joins, filters, projections) and keep it equal to query';

CREATE FUNCTION drop_view(name regclass) RETURNS void
    AS 'MODULE_PATHNAME', 'pm_drop_view' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION drop_view(regclass) IS
    'drop a maintained view: its table, triggers, and the arrangements it created that no other view uses';

CREATE FUNCTION refresh_view(name regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'pm_refresh_view' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION refresh_view(regclass) IS
    'recompute a maintained view from its query (repair); returns its rows';

CREATE FUNCTION view_query(name regclass) RETURNS text
    AS 'MODULE_PATHNAME', 'pm_view_query' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION view_query(regclass) IS
    'a maintained view''s query as SQL, with the names its tables and columns have now';

-- Aggregate and DISTINCT views (issue 13, aggregate slice; docs/views.md): the table of a GROUP BY
-- or DISTINCT view holds hidden columns after the query's (__pm_count, __pm_key_<i>, __pm_nn_<j>,
-- __pm_sum_<j>; output names starting with __pm are reserved), so view_check compares only the
-- query's columns.
CREATE FUNCTION view_check(name regclass)
    RETURNS TABLE (side text, row_text text, copies bigint)
    LANGUAGE plpgsql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
    -- the settings maintenance pins (docs/views.md, "Security"): the caller's cannot make an
    -- exact view look different from its query, or a wrong one look exact
    SET extra_float_digits = 1 SET bytea_output = 'hex' SET standard_conforming_strings = on
    SET DateStyle = 'ISO, MDY' SET IntervalStyle = 'postgres' SET array_nulls = on AS $f$
DECLARE
    q text;
    cols text;
BEGIN
    q := parallel_material.view_query(name);  -- raises 42809 for a table that is not a view
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
      INTO cols
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) name AND a.attnum OPERATOR(pg_catalog.>) 0
       AND NOT a.attisdropped AND a.attname::pg_catalog.text NOT LIKE '\_\_pm%';
    -- One statement, hence one snapshot; rows compared by their text (1.0 and 1.00 differ).
    -- The rows' alias __pm_row: no view column can be named so (names starting with __pm are
    -- refused), while a column named like the alias (x) would be read instead of the row.
    RETURN QUERY EXECUTE pg_catalog.format(
        $q$WITH vc AS (SELECT __pm_row::pg_catalog.text AS r, pg_catalog.count(*) AS n
                         FROM (SELECT %s FROM ONLY %s) __pm_row GROUP BY 1),
               qc AS (SELECT __pm_row::pg_catalog.text AS r, pg_catalog.count(*) AS n
                         FROM (%s) __pm_row GROUP BY 1)
           SELECT CASE WHEN COALESCE(vc.n, 0) OPERATOR(pg_catalog.>) COALESCE(qc.n, 0)
                       THEN 'view only' ELSE 'query only' END,
                  COALESCE(vc.r, qc.r),
                  pg_catalog.abs(COALESCE(vc.n, 0) OPERATOR(pg_catalog.-) COALESCE(qc.n, 0))
             FROM vc FULL JOIN qc ON vc.r OPERATOR(pg_catalog.=) qc.r
            WHERE vc.n IS DISTINCT FROM qc.n
            ORDER BY 2, 1$q$, cols, name, q);
END
$f$;
COMMENT ON FUNCTION view_check(regclass) IS
    'differences between a maintained view''s table and its query under one snapshot (none: exact)';

CREATE FUNCTION view_maintenance_stats(
    OUT viewid bigint, OUT statements bigint, OUT rows_changed bigint, OUT total_us bigint,
    OUT last_maintenance timestamptz)
    RETURNS SETOF record AS 'MODULE_PATHNAME', 'pm_view_stats' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION view_maintenance_stats() IS
    'maintenance counters of this database''s views since server start (the views view)';

-- Rows of a view table, NULL for a role that may not read it (the views view).
CREATE FUNCTION view_rows(rel regclass) RETURNS bigint
    LANGUAGE plpgsql VOLATILE STRICT SET search_path = pg_catalog, pg_temp AS $f$
DECLARE
    n bigint;
BEGIN
    IF NOT pg_catalog.has_table_privilege(rel, 'SELECT') THEN
        RETURN NULL;
    END IF;
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM ONLY %s', rel) INTO n;
    RETURN n;
END
$f$;
COMMENT ON FUNCTION view_rows(regclass) IS 'rows of a table, NULL without SELECT on it';

CREATE VIEW views AS
SELECT d.viewrel::pg_catalog.regclass AS name,
       d.definition,
       ARRAY(SELECT r::pg_catalog.regclass FROM pg_catalog.unnest(d.base_relids) r) AS base_relations,
       ARRAY(SELECT pg_catalog.format('%s(%s)', ad.relid::pg_catalog.regclass,
                     (SELECT pg_catalog.string_agg(a.attname::pg_catalog.text, ', ' ORDER BY k.i)
                        FROM pg_catalog.unnest(ad.key_attnums) WITH ORDINALITY k(n, i)
                        JOIN pg_catalog.pg_attribute a
                          ON a.attrelid OPERATOR(pg_catalog.=) ad.relid
                         AND a.attnum OPERATOR(pg_catalog.=) k.n))
               FROM parallel_material.arrangement_defs ad
              WHERE ad.defid OPERATOR(pg_catalog.=) ANY (d.arrangements)
              ORDER BY ad.defid) AS arrangements,
       parallel_material.view_rows(d.viewrel::pg_catalog.regclass) AS rows,
       COALESCE(s.statements, 0) AS deltas_applied,
       COALESCE(s.rows_changed, 0) AS rows_changed,
       s.last_maintenance,
       CASE WHEN s.statements OPERATOR(pg_catalog.>) 0
            THEN s.total_us::pg_catalog.float8 OPERATOR(pg_catalog./) s.statements::pg_catalog.float8
                 OPERATOR(pg_catalog./) 1000.0::pg_catalog.float8 END AS maintenance_ms_per_statement,
       -- what the view holds beyond its table: nothing (docs/views.md, "Memory")
       0::pg_catalog.int8 AS memory_bytes,
       -- the shared arrangements it probes (other views and queries use them too)
       (SELECT pg_catalog.sum(st.bytes) FROM parallel_material._arrangement_state() st
         WHERE st.defid OPERATOR(pg_catalog.=) ANY (d.arrangements))::pg_catalog.int8 AS arrangement_bytes
  FROM parallel_material.view_defs d
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.viewrel
  LEFT JOIN parallel_material.view_maintenance_stats() s ON s.viewid OPERATOR(pg_catalog.=) d.viewid;
GRANT SELECT ON views TO PUBLIC;

-- A view's inputs must stay outside inheritance and partition hierarchies: statement triggers
-- on a child or partition do not fire for writes made through its parent, and a parent's do not
-- see its children's rows. create_view refuses such inputs; this refuses the DDL that would
-- later put an input into one (CREATE TABLE ... INHERITS / PARTITION OF, ALTER TABLE ... INHERIT
-- / ATTACH PARTITION).
CREATE FUNCTION _views_on_ddl_end() RETURNS event_trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
DECLARE
    bad text;
BEGIN
    SELECT pg_catalog.format('%s (input of maintained view %s)', r.relid::pg_catalog.regclass,
                             d.viewrel::pg_catalog.regclass)
      INTO bad
      FROM parallel_material.view_defs d
      CROSS JOIN LATERAL pg_catalog.unnest(d.base_relids) r(relid)
      JOIN pg_catalog.pg_class v ON v.oid OPERATOR(pg_catalog.=) d.viewrel
     WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
                    WHERE i.inhparent OPERATOR(pg_catalog.=) r.relid
                       OR i.inhrelid OPERATOR(pg_catalog.=) r.relid)
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'table % cannot be part of an inheritance or partition hierarchy', bad
            USING ERRCODE = '0A000',
                  HINT = 'Statement triggers do not see writes made through a parent. Drop the view first (parallel_material.drop_view).';
    END IF;
END
$f$;
REVOKE ALL ON FUNCTION _views_on_ddl_end() FROM PUBLIC;
CREATE EVENT TRIGGER parallel_material_views_ddl ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION _views_on_ddl_end();


-- ---------------------------------------------------------------------------------------------
-- Maintained views across pg_dump and restore (issue 13, views-scalar slice; docs/views.md,
-- "pg_dump and restore"). view_defs names relation OIDs, which a restore changes, so it is not
-- dumped; this table is (an extension configuration table): each view's id, its table's name
-- when created and its definition. In a restored database the views' triggers refuse every write
-- of an input (never a silently stale view) until the owner runs restore_view, which binds the
-- definition to the restored table again and refills it.
CREATE TABLE view_restore_defs (
    viewid bigint PRIMARY KEY,
    view_schema text NOT NULL,
    view_name text NOT NULL,
    definition text NOT NULL);
COMMENT ON TABLE view_restore_defs IS
    'maintained views'' definitions by table name, carried by pg_dump (restore_view binds them again)';
REVOKE ALL ON view_restore_defs FROM PUBLIC;
GRANT SELECT ON view_restore_defs TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('parallel_material.view_restore_defs', '');
-- views made before this table existed (an earlier build of 0.2)
INSERT INTO view_restore_defs
SELECT d.viewid, n.nspname, c.relname, d.definition
  FROM view_defs d
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.viewrel
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace;

CREATE FUNCTION restore_view(name regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'pm_restore_view' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION restore_view(regclass) IS
    'bind a maintained view''s table restored from a dump to its dumped definition again, and refill it';

-- ---------------------------------------------------------------------------------------------
-- Arrangements across pg_dump and restore (issue 16, arr-restore slice; docs/arrangements.md,
-- "pg_dump and restore"). arrangement_defs names relation OIDs and column numbers, which a
-- restore changes, so it is not dumped; this table is (an extension configuration table): each
-- definition's id, its table's schema and name and its key and arranged columns by name, written
-- with arrangement_defs (heapam, by create_arrangement, drop_arrangement and the DDL event
-- triggers only; no index, as arrangement_defs). In a restored database a maintenance trigger
-- whose definition id names a dumped definition of its own table does nothing (no arrangement
-- exists, none is read) until the owner runs restore_arrangements. The id sequence is dumped
-- too, so that ids made after a restore never meet a restored trigger's.
CREATE TABLE arrangement_restore_defs (
    defid bigint NOT NULL,
    rel_schema text NOT NULL,
    rel_name text NOT NULL,
    key_columns text[] NOT NULL,
    columns text[] NOT NULL);
COMMENT ON TABLE arrangement_restore_defs IS
    'arrangement definitions by table and column names, carried by pg_dump (restore_arrangements re-creates them)';
REVOKE ALL ON arrangement_restore_defs FROM PUBLIC;
GRANT SELECT ON arrangement_restore_defs TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('parallel_material.arrangement_restore_defs', '');
SELECT pg_catalog.pg_extension_config_dump('parallel_material.arrangement_defid_seq', '');
-- definitions made before this table existed (version 0.1, an earlier build of 0.2)
INSERT INTO arrangement_restore_defs
SELECT d.defid, n.nspname, c.relname,
       ARRAY(SELECT a.attname::pg_catalog.text
               FROM pg_catalog.unnest(d.key_attnums) WITH ORDINALITY k(attnum, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) d.relid
                                             AND a.attnum OPERATOR(pg_catalog.=) k.attnum
              ORDER BY k.i),
       ARRAY(SELECT a.attname::pg_catalog.text
               FROM pg_catalog.unnest(d.attnums) WITH ORDINALITY k(attnum, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) d.relid
                                             AND a.attnum OPERATOR(pg_catalog.=) k.attnum
              ORDER BY k.i)
  FROM arrangement_defs d
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.relid
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace;

CREATE FUNCTION restore_arrangements(rel regclass DEFAULT NULL)
    RETURNS TABLE (relation regclass, key text[], dumped_defid bigint, defid bigint)
    AS 'MODULE_PATHNAME', 'pm_restore_arrangements' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION restore_arrangements(regclass) IS
    're-create the arrangements a dump carried, of rel or of every table the caller owns';

-- ---------------------------------------------------------------------------------------------
-- Learnt columns (issue 15 item 3, arr-learn slice; docs/arrangements.md, "Learnt columns").
-- The planner records, per arrangement, the columns that joins on its key read and it lacks (as
-- far as the query's role may read them); the arrangements view shows them (wanted_columns, NULL
-- to a role that may not read the table, as its counts) and widen_arrangement rebuilds the
-- arrangement with its columns plus the learnt ones.
CREATE FUNCTION _arrangement_wanted(OUT defid bigint, OUT wanted_columns text[])
    RETURNS SETOF record AS 'MODULE_PATHNAME', 'pm_arrangement_wanted' LANGUAGE C VOLATILE;
-- Executable by PUBLIC as _arrangement_state: the view calls it with the reader's rights and it
-- redacts (NULL) what the reader may not see.

CREATE OR REPLACE VIEW arrangements AS
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
       s.oldest_xid,
       -- columns joins on its key read and it lacks (learnt); redacted for the reader: NULL
       w.wanted_columns
  FROM parallel_material.arrangement_defs d
  LEFT JOIN parallel_material._arrangement_state() s ON s.defid OPERATOR(pg_catalog.=) d.defid
  LEFT JOIN parallel_material._arrangement_wanted() w ON w.defid OPERATOR(pg_catalog.=) d.defid;

CREATE FUNCTION widen_arrangement(rel regclass, key text[] DEFAULT NULL)
    RETURNS text[] LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    def parallel_material.arrangement_defs;
    key_names text[];
    cols text[];
    wanted text[];
    n int;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'rel must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- owner only, as create/drop_arrangement (checked again by them)
    IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
                                    WHERE c.oid OPERATOR(pg_catalog.=) rel), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', rel USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT pg_catalog.count(*) INTO n FROM parallel_material.arrangement_defs d
     WHERE d.relid OPERATOR(pg_catalog.=) rel
       AND (key IS NULL OR d.key_attnums OPERATOR(pg_catalog.=) ARRAY(
            SELECT a.attnum FROM pg_catalog.unnest(key) WITH ORDINALITY k(name, i)
              JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) rel
                                            AND a.attname OPERATOR(pg_catalog.=) k.name
             ORDER BY k.i));
    IF n OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'table % has no arrangement%', rel,
              CASE WHEN key IS NULL THEN '' ELSE ' on that key' END
              USING ERRCODE = 'undefined_object';
    ELSIF n OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'table % has % arrangements', rel, n
              USING ERRCODE = 'ambiguous_parameter', HINT = 'Name the key columns.';
    END IF;
    SELECT d.* INTO def FROM parallel_material.arrangement_defs d
     WHERE d.relid OPERATOR(pg_catalog.=) rel
       AND (key IS NULL OR d.key_attnums OPERATOR(pg_catalog.=) ARRAY(
            SELECT a.attnum FROM pg_catalog.unnest(key) WITH ORDINALITY k(name, i)
              JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) rel
                                            AND a.attname OPERATOR(pg_catalog.=) k.name
             ORDER BY k.i));
    -- an arrangement a maintained view uses: drop_arrangement below refuses (hint: drop_view)
    SELECT ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(def.key_attnums) WITH ORDINALITY k(n, i)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) rel
                                                 AND a.attnum OPERATOR(pg_catalog.=) k.n
                  ORDER BY k.i) INTO key_names;
    SELECT w.wanted_columns INTO wanted FROM parallel_material._arrangement_wanted() w
     WHERE w.defid OPERATOR(pg_catalog.=) def.defid;
    IF wanted IS NULL OR pg_catalog.cardinality(wanted) OPERATOR(pg_catalog.=) 0 THEN
        RETURN '{}'::text[];  -- nothing learnt (or not visible to the caller): nothing to do
    END IF;
    SELECT ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(def.attnums) k(n)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) rel
                                                 AND a.attnum OPERATOR(pg_catalog.=) k.n)
           OPERATOR(pg_catalog.||) wanted INTO cols;
    PERFORM parallel_material.drop_arrangement(rel, key_names);
    PERFORM parallel_material.create_arrangement(rel, key_names, cols);
    RETURN wanted;
END;
$$;
REVOKE ALL ON FUNCTION widen_arrangement(regclass, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION widen_arrangement(regclass, text[]) TO PUBLIC;
COMMENT ON FUNCTION widen_arrangement(regclass, text[]) IS
    'rebuild the arrangement of rel on key with its columns plus the columns joins were seen to read (owner only)';

-- ---------------------------------------------------------------------------------------------
-- Row arrangements (issue 15, "two arrangements of one table share its row bytes";
-- docs/arrangements.md, "Row arrangements"): one copy of the table's columns per heap tuple
-- version, keyed by TID, which key-only arrangements read instead of the heap. Listed in
-- arrangement_defs with an empty key (key '{}' names it to drop_arrangement, arrangement_rows,
-- arrangement_check). Owner only, as create_arrangement.
CREATE FUNCTION create_row_arrangement(rel regclass, include text[] DEFAULT NULL)
    RETURNS void AS 'MODULE_PATHNAME', 'pm_create_row_arrangement' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION create_row_arrangement(regclass, text[]) IS
    'keep one copy of rel''s include columns (NULL: all) per row version, keyed by TID, for its key-only arrangements';

-- Adaptive arrangements (issue 15 item 3, arr-adapt slice; docs/arrangements.md, "Learnt
-- columns"). A definition created with include => NULL (and arrangement_default_columns =
-- adaptive) holds its key only and is widened in place with the columns joins read, by a
-- background worker; widen_arrangement does the same for any definition, now in place (same id,
-- same triggers: views using it keep it) instead of dropping and creating it again.
ALTER TABLE arrangement_defs ADD COLUMN adaptive boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN arrangement_defs.adaptive IS
    'widened in place with the columns joins read (created with include => NULL)';
-- A definition widened in place keeps the xid of the transaction that created it (and its
-- maintenance triggers) here: the join checks that the triggers are that transaction's.
ALTER TABLE arrangement_defs ADD COLUMN created_xid xid;
DROP FUNCTION widen_arrangement(regclass, text[]);
CREATE FUNCTION widen_arrangement(rel regclass, key text[] DEFAULT NULL)
    RETURNS text[] AS 'MODULE_PATHNAME', 'pm_widen_arrangement' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION widen_arrangement(regclass, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION widen_arrangement(regclass, text[]) TO PUBLIC;
COMMENT ON FUNCTION widen_arrangement(regclass, text[]) IS
    'add to the arrangement of rel on key the columns joins were seen to read, in place (owner only); rebuilt at its next use';
