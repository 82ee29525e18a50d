-- extension_upgrade: CREATE EXTENSION parallel_material VERSION '0.1' followed by ALTER EXTENSION
-- parallel_material UPDATE gives the same catalog as a fresh CREATE EXTENSION parallel_material
-- (every member object with its definition, owner, ACL, initial privileges and comment; objects in
-- the schema that are not members; event triggers; the extension row itself), and arrangements
-- made under 0.1 keep working after the update. An object added to only one of the two paths
-- (a full parallel_material--0.2.sql that forgets one, an update script that behaves differently
-- on a populated 0.1) shows up below as a row of the difference.
-- Runs in a database of its own, so the extension can be dropped and made again.
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS pm_ext_upgrade;
RESET client_min_messages;
CREATE DATABASE pm_ext_upgrade;
\c pm_ext_upgrade
SET search_path = public, pg_catalog;

-- The extension's catalog, one row per (kind, object), text only (no OIDs): pg_identify_object
-- names the object, detail is its full definition. Catalog OIDs of the system catalogs are fixed;
-- the schema is looked up by name at every read (the view outlives DROP EXTENSION).
CREATE VIEW pm_ext_catalog AS
WITH ext AS (
    SELECT e.oid, e.extversion, e.extrelocatable, e.extnamespace, e.extconfig, e.extcondition
      FROM pg_extension e WHERE e.extname = 'parallel_material'
), nsp AS (
    SELECT n.oid FROM pg_namespace n WHERE n.nspname = 'parallel_material'
), members AS (
    SELECT d.classid, d.objid, d.objsubid
      FROM pg_depend d JOIN ext ON d.refobjid = ext.oid
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
), objs AS (     -- members, and whatever else lives in the schema
    SELECT classid, objid, objsubid FROM members
    UNION SELECT 'pg_class'::regclass, c.oid, 0 FROM pg_class c JOIN nsp ON c.relnamespace = nsp.oid
    UNION SELECT 'pg_proc'::regclass, p.oid, 0 FROM pg_proc p JOIN nsp ON p.pronamespace = nsp.oid
    UNION SELECT 'pg_type'::regclass, t.oid, 0 FROM pg_type t JOIN nsp ON t.typnamespace = nsp.oid
    UNION SELECT 'pg_event_trigger'::regclass, t.oid, 0 FROM pg_event_trigger t
    UNION SELECT 'pg_namespace'::regclass, nsp.oid, 0 FROM nsp
), described AS (
    SELECT o.classid, o.objid, o.objsubid, i.type, i.identity,
           EXISTS (SELECT 1 FROM members m WHERE (m.classid, m.objid, m.objsubid) = (o.classid, o.objid, o.objsubid)) AS member
      FROM objs o, LATERAL pg_identify_object(o.classid, o.objid, o.objsubid) i
)
SELECT 'object' AS kind, d.type || ' ' || d.identity AS identity,
       concat_ws(E'\n', CASE WHEN d.member THEN 'member of the extension' ELSE 'NOT a member' END,
       CASE d.classid
       WHEN 'pg_proc'::regclass THEN (
           SELECT concat_ws(E'\n', 'owner ' || p.proowner::regrole, 'acl ' || p.proacl::text,
                  'kind ' || p.prokind::text, 'volatility ' || p.provolatile::text, 'parallel ' || p.proparallel::text,
                  'security definer ' || p.prosecdef, 'strict ' || p.proisstrict,
                  'leakproof ' || p.proleakproof, 'config ' || p.proconfig::text,
                  'cost ' || p.procost, 'rows ' || p.prorows,
                  CASE WHEN p.prokind = 'a' THEN 'aggregate ' || pg_get_function_arguments(p.oid)
                       ELSE pg_get_functiondef(p.oid) END)
             FROM pg_proc p WHERE p.oid = d.objid)
       WHEN 'pg_class'::regclass THEN (
           SELECT concat_ws(E'\n', 'owner ' || c.relowner::regrole, 'acl ' || c.relacl::text,
                  'relkind ' || c.relkind::text, 'persistence ' || c.relpersistence::text,
                  'options ' || c.reloptions::text, 'row security ' || c.relrowsecurity,
                  CASE WHEN c.relkind IN ('v', 'm') THEN 'view ' || pg_get_viewdef(c.oid) END,
                  (SELECT string_agg(format('column %s %s%s%s acl %s', a.attname,
                              format_type(a.atttypid, a.atttypmod),
                              CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                              coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''),
                              a.attacl::text), E'\n' ORDER BY a.attnum)
                     FROM pg_attribute a
                     LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                  (SELECT string_agg('constraint ' || co.conname || ' ' || pg_get_constraintdef(co.oid), E'\n' ORDER BY co.conname)
                     FROM pg_constraint co WHERE co.conrelid = c.oid),
                  (SELECT string_agg(pg_get_indexdef(ix.indexrelid), E'\n' ORDER BY 1)
                     FROM pg_index ix WHERE ix.indrelid = c.oid),
                  (SELECT string_agg(pg_get_triggerdef(tg.oid), E'\n' ORDER BY tg.tgname)
                     FROM pg_trigger tg WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal),
                  (SELECT string_agg(format('policy %s %s %s %s %s', po.polname, po.polcmd, po.polroles::regrole[]::text,
                                            pg_get_expr(po.polqual, po.polrelid), pg_get_expr(po.polwithcheck, po.polrelid)),
                                     E'\n' ORDER BY po.polname)
                     FROM pg_policy po WHERE po.polrelid = c.oid),
                  (SELECT format('sequence %s start %s increment %s min %s max %s cache %s cycle %s',
                                 s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                                 s.seqcache, s.seqcycle)
                     FROM pg_sequence s WHERE s.seqrelid = c.oid))
             FROM pg_class c WHERE c.oid = d.objid)
       WHEN 'pg_type'::regclass THEN (
           SELECT concat_ws(E'\n', 'owner ' || t.typowner::regrole, 'acl ' || t.typacl::text,
                  'type ' || t.typtype::text || ' ' || format_type(t.oid, NULL),
                  'base ' || nullif(t.typbasetype, 0)::regtype,
                  (SELECT string_agg(e.enumlabel::text, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
             FROM pg_type t WHERE t.oid = d.objid)
       WHEN 'pg_event_trigger'::regclass THEN (
           SELECT concat_ws(E'\n', 'owner ' || t.evtowner::regrole, 'event ' || t.evtevent,
                  'function ' || t.evtfoid::regprocedure, 'enabled ' || t.evtenabled::text, 'tags ' || t.evttags::text)
             FROM pg_event_trigger t WHERE t.oid = d.objid)
       WHEN 'pg_namespace'::regclass THEN (
           SELECT concat_ws(E'\n', 'owner ' || n.nspowner::regrole, 'acl ' || n.nspacl::text)
             FROM pg_namespace n WHERE n.oid = d.objid)
       END) AS detail
  FROM described d
UNION ALL   -- comments on the objects and their columns
SELECT 'comment', pg_describe_object(ds.classoid, ds.objoid, ds.objsubid), ds.description
  FROM pg_description ds JOIN objs o ON (o.classid, o.objid) = (ds.classoid, ds.objoid)
UNION ALL   -- the privileges pg_dump restores for the extension's objects
SELECT 'initial privileges', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
       ip.privtype::text || ' ' || ip.initprivs::text
  FROM pg_init_privs ip JOIN objs o ON (o.classid, o.objid) = (ip.classoid, ip.objoid)
UNION ALL
SELECT 'extension', 'parallel_material',
       concat_ws(E'\n', 'version ' || ext.extversion, 'relocatable ' || ext.extrelocatable,
                 'schema ' || ext.extnamespace::regnamespace, 'config ' || ext.extconfig::regclass[]::text,
                 'condition ' || ext.extcondition::text)
  FROM ext;

-- 1. A fresh install of the default version.
CREATE EXTENSION parallel_material;
SELECT extversion FROM pg_extension WHERE extname = 'parallel_material';
CREATE TABLE fresh AS SELECT * FROM pm_ext_catalog;
-- the capture sees every kind of object the comparison is about
SELECT count(*) > 40 AS many_objects,
       bool_or(kind = 'object' AND identity LIKE 'function %') AS functions,
       bool_or(kind = 'object' AND identity LIKE 'view %') AS views,
       bool_or(kind = 'object' AND identity LIKE 'table %') AS tables,
       bool_or(kind = 'object' AND identity LIKE 'event trigger %') AS event_triggers,
       bool_or(kind = 'comment') AS comments,
       bool_or(kind = 'initial privileges') AS init_privs,
       bool_or(detail LIKE '%search_path%') AS proconfig,
       bool_or(detail LIKE E'%acl {%=r/%') AS acls,
       bool_or(detail LIKE '%view %SELECT%') AS view_defs
  FROM fresh;
DROP EXTENSION parallel_material;
SELECT count(*) AS left_after_drop FROM pm_ext_catalog;

-- 2. Version 0.1, with state: an arrangement, maintained through the update.
CREATE EXTENSION parallel_material VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'parallel_material';
CREATE TABLE upg (id int, k int, v text);
INSERT INTO upg SELECT g, g % 5, 'v' || g FROM generate_series(1, 100) g;
SELECT parallel_material.create_arrangement('upg', '{k}', '{v}');
SELECT count(*) AS probe_01 FROM parallel_material.arrangement_probe('upg', '{3}');
SELECT relation, key, columns, state FROM parallel_material.arrangements;

ALTER EXTENSION parallel_material UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'parallel_material';

-- 3. The same catalog: no row in either difference.
SELECT 'only after the update' AS side, * FROM (TABLE pm_ext_catalog EXCEPT TABLE fresh) a
UNION ALL
SELECT 'only in a fresh install', * FROM (TABLE fresh EXCEPT TABLE pm_ext_catalog) b
ORDER BY 2, 3, 1;

-- 4. The arrangement made under 0.1 still answers, is still maintained, and can be dropped.
SELECT relation, key, columns, state FROM parallel_material.arrangements;
SELECT count(*) AS probe_after_update FROM parallel_material.arrangement_probe('upg', '{3}');
INSERT INTO upg SELECT g, 3, 'w' || g FROM generate_series(101, 110) g;
DELETE FROM upg WHERE id = 3;
SELECT count(*) AS probe_after_dml FROM parallel_material.arrangement_probe('upg', '{3}');
SELECT (SELECT count(*) FROM parallel_material.arrangement_probe('upg', '{3}')) =
       (SELECT count(*) FROM upg WHERE k = 3) AS probe_matches_table;
-- The update filled arrangement_restore_defs (what pg_dump carries) for it; drop removes it.
SELECT rel_schema, rel_name, key_columns, columns FROM parallel_material.arrangement_restore_defs;
SELECT parallel_material.drop_arrangement('upg');
SELECT count(*) AS arrangements_left FROM parallel_material.arrangements;
SELECT count(*) AS restore_defs_left FROM parallel_material.arrangement_restore_defs;

\c :regress_db
DROP DATABASE pm_ext_upgrade;
