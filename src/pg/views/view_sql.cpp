// view_sql.cpp — the SQL functions of maintained views: create_view, drop_view, refresh_view
// (docs/views.md, "SQL surface"). Each checks ownership before it takes any lock.
#include "pg/arrangement/arrangement.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"
#include "pg/views/views.hpp"

#include <algorithm>

extern "C" {
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "catalog/pg_proc.h"
#include "utils/relcache.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
}

extern "C" {
PGDLLEXPORT Datum pm_create_view(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_drop_view(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_refresh_view(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_view_query(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_restore_view(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_view_query);
PG_FUNCTION_INFO_V1(pm_restore_view);
PG_FUNCTION_INFO_V1(pm_create_view);
PG_FUNCTION_INFO_V1(pm_drop_view);
PG_FUNCTION_INFO_V1(pm_refresh_view);
}

namespace pm::pg::views {

namespace {

void require_read_committed(const char *fn) {
    // The fill must see every row committed before the inputs were locked: a transaction
    // snapshot taken earlier (REPEATABLE READ, SERIALIZABLE) could miss some.
    if (IsolationUsesXactSnapshot())
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("%s must run at READ COMMITTED", fn),
                        errhint("Its snapshot must be taken after the inputs are locked.")));
}

char *attname_of(Oid relid, AttrNumber a) { return get_attname(relid, a, false); }

void spi_exec(const char *sql, int nargs, Oid *types, Datum *values) {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
    if (rc < 0) elog(ERROR, "SPI failed (%d): %s", rc, sql);
    SPI_finish();
}

Datum text_array(const PgArray<const char *> &v) {
    Datum *d = static_cast<Datum *>(palloc(sizeof(Datum) * (static_cast<size_t>(v.size()) + 1)));
    for (int i = 0; i < v.size(); ++i) d[i] = CStringGetTextDatum(v[i]);
    return PointerGetDatum(construct_array(d, v.size(), TEXTOID, -1, false, TYPALIGN_INT));
}

Datum text_array1(const char *s) {
    PgArray<const char *> v;
    v.push(s);
    return text_array(v);
}

// The arrangement of relid on the single key column attnum, or 0.
int64 find_arrangement(Oid relid, AttrNumber attnum, bool *covers, const PgArray<AttrNumber> &need) {
    arr::Def *defs = static_cast<arr::Def *>(palloc(sizeof(arr::Def) * arr::kMaxArrangements));
    int n = arr::load_defs(relid, defs);
    for (int i = 0; i < n; ++i) {
        if (defs[i].nkeys != 1 || defs[i].keys[0] != attnum) continue;
        *covers = true;
        for (AttrNumber a : need) {
            bool held = false;
            for (int c = 0; c < defs[i].ncols; ++c) held = held || defs[i].cols[c] == a;
            *covers = *covers && held;
        }
        return defs[i].defid;
    }
    return 0;
}

// Arrangements on every join column the delta plans probe: existing ones are used, missing ones
// created (NOTICE naming each). A column that cannot be a key is left to the stock plan.
void ensure_arrangements(const Analysis &a, ViewDef &vd) {
    if (!arr::available()) {
        ereport(NOTICE, (errmsg("arrangements are not available (parallel_material not preloaded "
                                "or arrangement_memory = 0): delta joins use stock plans")));
        return;
    }
    for (const JoinColumn &jc : a.join_columns) {
        PgArray<AttrNumber> need;
        for (const JoinColumn &u : a.used_columns)
            if (u.relid == jc.relid) need.push(u.attnum);
        const char *relname = get_rel_name(jc.relid);
        const char *col = attname_of(jc.relid, jc.attnum);
        bool covers = false;
        int64 defid = find_arrangement(jc.relid, jc.attnum, &covers, need);
        if (defid != 0) {
            if (!covers)
                ereport(NOTICE, (errmsg("the arrangement on %s (%s) does not hold every column the "
                                        "view reads: delta joins into %s read the others from "
                                        "the heap by TID, or use the stock plan",
                                        relname, col, relname)));
            vd.arrangements.push(defid);
            continue;
        }
        // A key type an arrangement cannot hold (numeric, float, a nondeterministic collation).
        volatile bool arrangeable = true;
        Relation rel = relation_open(jc.relid, NoLock);
        MemoryContext cxt = CurrentMemoryContext;
        PG_TRY();
        { arr::check_key_type(rel, jc.attnum); }
        PG_CATCH();
        {
            MemoryContextSwitchTo(cxt);
            FlushErrorState();
            arrangeable = false;
        }
        PG_END_TRY();
        relation_close(rel, NoLock);
        if (!arrangeable) {
            ereport(NOTICE, (errmsg("column %s.%s cannot be an arrangement key: delta joins into %s "
                                    "use the stock plan",
                                    relname, col, relname)));
            continue;
        }
        PgArray<const char *> include;
        for (AttrNumber c : need) include.push(attname_of(jc.relid, c));
        Oid types[3] = {REGCLASSOID, TEXTARRAYOID, TEXTARRAYOID};
        Datum values[3] = {ObjectIdGetDatum(jc.relid), text_array1(col), text_array(include)};
        // In a subtransaction: an arrangement that cannot be built (memory, slots, quotas) leaves
        // that input to the stock plan instead of failing create_view.
        MemoryContext cxt2 = CurrentMemoryContext;
        ResourceOwner owner = CurrentResourceOwner;
        char *volatile failure = nullptr;
        BeginInternalSubTransaction(nullptr);
        MemoryContextSwitchTo(cxt2);
        PG_TRY();
        {
            spi_exec("SELECT parallel_material.create_arrangement($1, $2, $3)", 3, types, values);
            ReleaseCurrentSubTransaction();
            MemoryContextSwitchTo(cxt2);
            CurrentResourceOwner = owner;
        }
        PG_CATCH();
        {
            MemoryContextSwitchTo(cxt2);
            ErrorData *edata = CopyErrorData();
            FlushErrorState();
            RollbackAndReleaseCurrentSubTransaction();
            MemoryContextSwitchTo(cxt2);
            CurrentResourceOwner = owner;
            failure = edata->message;
        }
        PG_END_TRY();
        if (failure != nullptr) {
            ereport(NOTICE, (errmsg("create_view: no arrangement on %s (%s): %s; delta joins into %s "
                                    "use the stock plan",
                                    relname, col, failure, relname)));
            continue;
        }
        defid = find_arrangement(jc.relid, jc.attnum, &covers, need);
        if (defid == 0) elog(ERROR, "created arrangement on %s (%s) not found", relname, col);
        ereport(NOTICE, (errmsg("create_view: created arrangement on %s (%s)", relname, col)));
        vd.arrangements.push(defid);
        vd.created_arrangements.push(defid);
    }
}

// The index that maintenance finds the rows to delete by (view_apply.cpp, key_index): a btree
// on the view's output columns that are plain copies of a join column of the query (at most 3,
// in output order, each type with a default btree operator class). A join key is NULL in no row
// of an inner join and usually selective (Q3: l_orderkey). None such: no index, deletes scan.
static void create_key_index(const Analysis &a, const char *qname) {
    Query *q = a.query;
    StringInfoData cols;
    initStringInfo(&cols);
    int ncols = 0;
    // A LEFT JOIN's nullable side has NULLs in the view (its rows without a match): not indexed.
    LeftJoins ljs;
    (void)left_joins(q, &ljs, false);
    ListCell *lc;
    foreach (lc, q->targetList) {
        TargetEntry *te = static_cast<TargetEntry *>(lfirst(lc));
        if (te->resjunk || te->resname == nullptr || ncols >= 3) continue;
        Var *v = base_var(q, reinterpret_cast<Node *>(te->expr));
        if (v == nullptr || v->varattno <= 0) continue;
        if (ljs.nullable(static_cast<int>(v->varno))) continue;
        Oid relid = rt_fetch(v->varno, q->rtable)->relid;
        bool join = false;
        for (const JoinColumn &j : a.join_columns)
            if (j.relid == relid && j.attnum == v->varattno) join = true;
        Oid type = exprType(reinterpret_cast<Node *>(te->expr));
        if (!join || type != v->vartype || !OidIsValid(GetDefaultOpClass(type, BTREE_AM_OID))) continue;
        appendStringInfo(&cols, "%s%s", ncols > 0 ? ", " : "", quote_identifier(te->resname));
        ++ncols;
    }
    if (ncols == 0) return;
    spi_exec(psprintf("CREATE INDEX ON %s (%s)", qname, cols.data), 0, nullptr, nullptr);
    CommandCounterIncrement();
}

Datum create_view(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("name and query must not be NULL")));
    require_read_committed("create_view");
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    char *sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
    List *names = pm_string_to_qualified_name_list(name);
    RangeVar *rv = makeRangeVarFromNameList(names);
    // A temporary view table would make every other session's write of an input fail (another
    // session's temporary table cannot be written): refused, as temporary inputs are.
    // The schema the table is created in, fixed now: the table is named qualified below, so that
    // a temporary table of the same name (pg_temp comes first on the path) is not taken for it.
    Oid nsp = RangeVarGetCreationNamespace(rv);
    if (rv->relpersistence == RELPERSISTENCE_TEMP ||
        (rv->schemaname != nullptr && strncmp(rv->schemaname, "pg_temp", 7) == 0) ||
        isAnyTempNamespace(nsp))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("create_view does not support a temporary view table"),
                        errhint("Name the view in a permanent schema.")));
    Analysis a = analyze_view_query(sql);
    ViewDef vd;
    vd.definition = sql;
    vd.relids = a.relids;
    vd.query = a.query;
    vd.query_sql = deparse_qualified(a.query);
    ensure_arrangements(a, vd);

    // The table, owned by the caller, with the query's columns (in the creation schema; an
    // aggregate view adds hidden columns), its SQL deparsed and run
    // under the pinned settings (docs/views.md, "Security").
    const char *qname = quote_qualified_identifier(get_namespace_name(nsp), rv->relname);
    int fill_level = NewGUCNestLevel();
    pin_view_settings();
    char *fill_sql = view_fill_sql(a.query);
    spi_exec(psprintf("CREATE TABLE %s AS %s WITH NO DATA", qname, fill_sql), 0, nullptr, nullptr);
    AtEOXact_GUC(true, fill_level);
    CommandCounterIncrement();
    vd.viewrel = get_relname_relid(rv->relname, nsp);  // created above: locked AccessExclusive
    if (!OidIsValid(vd.viewrel))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("create_view: table %s was not created", qname)));
    vd.viewid = next_viewid();
    // The table depends on what the query reads (the inputs, every column it reads, functions,
    // operators, types), as a view's rule does: DROP of one fails unless CASCADE, which drops
    // the view table (and its triggers).
    ObjectAddress view{RelationRelationId, vd.viewrel, 0};
    recordDependencyOnExpr(&view, reinterpret_cast<Node *>(a.query), NIL, DEPENDENCY_NORMAL);
    create_view_triggers(vd.viewid, vd.viewrel, vd.relids);
    insert_view_def(vd, nodeToString(a.query));
    insert_restore_def(vd.viewid, vd.viewrel, sql);
    stats_forget(vd.viewid);
    CommandCounterIncrement();
    int level = NewGUCNestLevel();
    pin_view_settings();  // the fill computes what maintenance will (docs/views.md, "Security")
    (void)recompute(vd.viewrel, fill_sql);
    AtEOXact_GUC(true, level);
    // An aggregate view's rows are found by their group key; a join view's copies by the output
    // columns that copy join keys.
    if (is_aggregate_query(a.query))
        create_group_index(vd.viewrel, a.query);
    else
        create_key_index(a, qname);
    return ObjectIdGetDatum(vd.viewrel);
}

ViewDef view_of(Oid viewrel, const char *fn) {
    ViewDef vd;
    const char *relname = get_rel_name(viewrel);
    if (relname == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", viewrel)));
    if (!load_view_def_by_rel(viewrel, &vd))
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not a maintained view", relname),
                        errhint("%s takes a table made by parallel_material.create_view.", fn)));
    return vd;
}

void check_view_owner(Oid viewrel) {
    char *relname = get_rel_name(viewrel);
    if (relname == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", viewrel)));
    if (!pm_class_ownercheck(viewrel, GetUserId())) aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, relname);
}

Datum drop_view(FunctionCallInfo fcinfo) {
    Oid viewrel = PG_GETARG_OID(0);
    check_view_owner(viewrel);  // before any lock
    ViewDef vd = view_of(viewrel, "drop_view");
    const char *qname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(viewrel)),
                                                   get_rel_name(viewrel));
    delete_view_def(vd.viewid);
    stats_forget(vd.viewid);
    spi_exec(psprintf("DROP TABLE %s", qname), 0, nullptr, nullptr);
    CommandCounterIncrement();
    // Arrangements this view created go unless another view uses them (those that existed
    // before the view stay); the caller must own their table to drop them.
    arr::Def *defs = static_cast<arr::Def *>(palloc(sizeof(arr::Def) * arr::kMaxArrangements));
    for (int64 defid : vd.created_arrangements) {
        Oid other = view_using_arrangement(defid, vd.viewid);
        if (OidIsValid(other)) {
            ViewDef od;
            if (load_view_def_by_rel(other, &od)) hand_over_arrangement(defid, od.viewid);
            continue;
        }
        int n = arr::load_defs(InvalidOid, defs);
        for (int i = 0; i < n; ++i) {
            if (defs[i].defid != defid) continue;
            const char *relname = get_rel_name(defs[i].relid);
            const char *col = attname_of(defs[i].relid, defs[i].keys[0]);
            if (relname == nullptr || !pm_class_ownercheck(defs[i].relid, GetUserId())) continue;
            Oid types[2] = {REGCLASSOID, TEXTARRAYOID};
            Datum values[2] = {ObjectIdGetDatum(defs[i].relid), text_array1(col)};
            spi_exec("SELECT parallel_material.drop_arrangement($1, $2)", 2, types, values);
            ereport(NOTICE, (errmsg("drop_view: dropped arrangement on %s (%s)", relname, col)));
        }
    }
    return static_cast<Datum>(0);
}

Datum refresh_view(FunctionCallInfo fcinfo) {
    Oid viewrel = PG_GETARG_OID(0);
    check_view_owner(viewrel);
    require_read_committed("refresh_view");
    ViewDef vd = view_of(viewrel, "refresh_view");
    std::sort(vd.relids.begin(), vd.relids.end());
    for (Oid relid : vd.relids) LockRelationOid(relid, ShareLock);  // no writer meanwhile
    LockRelationOid(viewrel, ExclusiveLock);
    // As the view table's owner, restricted, under the pinned settings, as REFRESH MATERIALIZED
    // VIEW does: a superuser refreshing a hostile owner's view runs its functions as the owner.
    Oid owner = InvalidOid;
    {
        Relation rel = relation_open(viewrel, NoLock);
        owner = rel->rd_rel->relowner;
        relation_close(rel, NoLock);
    }
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                      SECURITY_RESTRICTED_OPERATION);
    int level = NewGUCNestLevel();
    pin_view_settings();
    int64 n = recompute(viewrel, view_fill_sql(vd.query));
    AtEOXact_GUC(true, level);
    SetUserIdAndSecContext(save_user, save_sec);
    return Int64GetDatum(n);
}

// Drops, on input relid, the triggers a dump restored that nothing maintains: pm_view_<viewid>_*
// (restore_view creates them again) and arrangement triggers whose definition id names no
// arrangement of relid (arrangement_defs is not dumped: they would fail every write).
void drop_restored_triggers(int64 viewid, Oid relid) {
    Oid arr_fn = InvalidOid;
    {
        Oid nsp = get_namespace_oid("parallel_material", false);
        arr_fn = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum("_arrangement_trigger"),
                                 PointerGetDatum(buildoidvector(nullptr, 0)), ObjectIdGetDatum(nsp));
    }
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid types[3] = {OIDOID, TEXTOID, OIDOID};
    Datum values[3] = {ObjectIdGetDatum(relid),
                       CStringGetTextDatum(psprintf("pm\\_view\\_%lld\\_%%", static_cast<long long>(viewid))),
                       ObjectIdGetDatum(arr_fn)};
    int rc = SPI_execute_with_args(
        "SELECT t.tgname::pg_catalog.text, t.tgfoid OPERATOR(pg_catalog.=) $3 FROM pg_catalog.pg_trigger t "
        " WHERE t.tgrelid OPERATOR(pg_catalog.=) $1 AND NOT t.tgisinternal "
        "   AND (t.tgname::pg_catalog.text LIKE $2 "
        "        OR (t.tgfoid OPERATOR(pg_catalog.=) $3 AND NOT EXISTS ("
        "            SELECT FROM parallel_material.arrangement_defs ad "
        "             WHERE ad.relid OPERATOR(pg_catalog.=) t.tgrelid "
        "               AND pg_catalog.encode(t.tgargs, 'escape') OPERATOR(pg_catalog.=) "
        "                   (ad.defid::pg_catalog.text OPERATOR(pg_catalog.||) pg_catalog.chr(92) "
        "                    OPERATOR(pg_catalog.||) '000'))))"
        " ORDER BY 1",
        3, types, values, nullptr, false, 0);  // sees the triggers restore_dumped dropped
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI failed (%d)", rc);
    PgArray<const char *> names;
    PgArray<bool> arrangement;
    for (uint64 r = 0; r < SPI_processed; ++r) {
        bool isnull;
        names.push(TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull)));
        arrangement.push(DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull)));
    }
    const char *relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                                     get_rel_name(relid));
    for (int i = 0; i < names.size(); ++i) {
        rc = SPI_execute(psprintf("DROP TRIGGER %s ON %s", quote_identifier(names[i]), relname), false, 0);
        if (rc != SPI_OK_UTILITY) elog(ERROR, "SPI failed (%d): DROP TRIGGER", rc);
        if (arrangement[i])
            ereport(NOTICE, (errmsg("restore_view: dropped trigger %s on %s: its arrangement is not in this "
                                    "database",
                                    names[i], relname)));
    }
    SPI_finish();
}

// restore_view(name): binds a view table restored from a dump to its dumped definition again
// (docs/views.md, "pg_dump and restore"): the caller owns the table and every input; the
// definition is analyzed anew (the inputs by their names now), the table must have the query's
// columns; arrangements are made, the restored triggers replaced, the dependencies recorded,
// and the table refilled (whatever the dump held). Keeps the view id (and the table, with its
// indexes and grants). Returns the rows filled.
Datum restore_view(FunctionCallInfo fcinfo) {
    Oid viewrel = PG_GETARG_OID(0);
    check_view_owner(viewrel);  // before any lock
    require_read_committed("restore_view");
    ViewDef existing;
    if (load_view_def_by_rel(viewrel, &existing))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("\"%s\" is already maintained", get_rel_name(viewrel))));
    char *nspname = get_namespace_name(get_rel_namespace(viewrel));
    char *relname = get_rel_name(viewrel);
    const char *qname = quote_qualified_identifier(nspname, relname);
    RestoreDef rd;
    if (!load_restore_def("(pg_catalog.quote_ident(view_schema) OPERATOR(pg_catalog.||) '.' "
                          "OPERATOR(pg_catalog.||) pg_catalog.quote_ident(view_name)) OPERATOR(pg_catalog.=) $1 "
                          "AND NOT EXISTS (SELECT FROM parallel_material.view_defs d "
                          "WHERE d.viewid OPERATOR(pg_catalog.=) view_restore_defs.viewid)",
                          TEXTOID, CStringGetTextDatum(qname), &rd))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("no dumped definition of a maintained view for table %s", qname),
                        errhint("parallel_material.view_restore_defs lists the definitions a dump "
                                "carried, by the table's name when the view was created.")));
    LockRelationOid(viewrel, ExclusiveLock);  // readers go on; no writer of the table meanwhile
    Analysis a = analyze_view_query(rd.definition);  // owner of every input, locks them
    ViewDef vd;
    vd.viewid = rd.viewid;
    vd.viewrel = viewrel;
    vd.definition = rd.definition;
    vd.relids = a.relids;
    vd.query = a.query;
    vd.query_sql = deparse_qualified(a.query);
    // The inputs' dumped arrangements first, by the piece restore_arrangements uses: the view
    // then uses those on its join keys as create_view uses existing ones.
    for (Oid relid : a.relids) arr::restore_dumped(relid, nullptr, nullptr);
    for (Oid relid : a.relids) drop_restored_triggers(rd.viewid, relid);
    CommandCounterIncrement();
    ensure_arrangements(a, vd);

    // The table must have the query's columns (names, types, typmods, in order): it is the
    // table create_view made, or the view could not be maintained.
    int fill_level = NewGUCNestLevel();
    pin_view_settings();
    char *fill_sql = view_fill_sql(a.query);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    if (SPI_execute(psprintf("SELECT * FROM (%s) pm_fill LIMIT 0", fill_sql), true, 0) != SPI_OK_SELECT)
        elog(ERROR, "restore_view: the view's query failed");
    TupleDesc want = CreateTupleDescCopy(SPI_tuptable->tupdesc);
    SPI_finish();
    AtEOXact_GUC(true, fill_level);
    {
        Relation rel = relation_open(viewrel, NoLock);
        TupleDesc have = RelationGetDescr(rel);
        int k = 0;
        bool same = true;
        for (int i = 0; i < have->natts && same; ++i) {
            Form_pg_attribute h = TupleDescAttr(have, i);
            if (h->attisdropped) continue;
            if (k >= want->natts) {
                same = false;
                break;
            }
            Form_pg_attribute w = TupleDescAttr(want, k++);
            same = strcmp(NameStr(h->attname), NameStr(w->attname)) == 0 && h->atttypid == w->atttypid &&
                   (w->atttypmod < 0 || h->atttypmod == w->atttypmod);
        }
        same = same && k == want->natts;
        relation_close(rel, NoLock);
        if (!same)
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("table %s does not have the columns of its maintained view's query", qname),
                            errhint("Drop the table and create the view again with "
                                    "parallel_material.create_view.")));
    }

    ObjectAddress view{RelationRelationId, vd.viewrel, 0};
    recordDependencyOnExpr(&view, reinterpret_cast<Node *>(a.query), NIL, DEPENDENCY_NORMAL);
    create_view_triggers(vd.viewid, vd.viewrel, vd.relids);
    insert_view_def(vd, nodeToString(a.query));
    stats_forget(vd.viewid);
    CommandCounterIncrement();
    int level = NewGUCNestLevel();
    pin_view_settings();
    int64 n = recompute(vd.viewrel, fill_sql);
    AtEOXact_GUC(true, level);
    // The restored table kept its indexes; one without any gets the one create_view makes.
    {
        Relation rel = relation_open(viewrel, NoLock);
        List *idx = RelationGetIndexList(rel);
        relation_close(rel, NoLock);
        if (idx == NIL) {
            if (is_aggregate_query(a.query))
                create_group_index(vd.viewrel, a.query);
            else
                create_key_index(a, qname);
        }
    }
    return Int64GetDatum(n);
}

// The view's query as SQL, deparsed now from the stored tree (column and table names as they
// are now, every name qualified).
Datum view_query(FunctionCallInfo fcinfo) {
    Oid viewrel = PG_GETARG_OID(0);
    ViewDef vd = view_of(viewrel, "view_query");
    return CStringGetTextDatum(deparse_qualified(vd.query));
}

}  // namespace

}  // namespace pm::pg::views

Datum pm_create_view(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::pg_call([&] { return pm::pg::views::create_view(fcinfo); }); });
}
Datum pm_drop_view(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::pg_call([&] { return pm::pg::views::drop_view(fcinfo); }); });
}
Datum pm_view_query(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::pg_call([&] { return pm::pg::views::view_query(fcinfo); }); });
}
Datum pm_restore_view(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::pg_call([&] { return pm::pg::views::restore_view(fcinfo); }); });
}
Datum pm_refresh_view(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::pg_call([&] { return pm::pg::views::refresh_view(fcinfo); }); });
}
