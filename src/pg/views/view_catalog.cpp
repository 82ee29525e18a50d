// view_catalog.cpp — parallel_material.view_defs, one row per maintained view: its table, the
// query as given and qualified, the analyzed query tree, inputs and arrangements. Readable by
// everyone (like pg_views), written only by create_view/drop_view after their own checks, as the
// table's owner (the role that created the extension): no role needs write access to it.
// Also parallel_material.view_restore_defs (an extension configuration table, so pg_dump carries
// it): each view's id, table name and definition, from which restore_view binds a restored view
// again (docs/views.md, "pg_dump and restore"); a trigger of a view id without a view_defs row
// refuses the write (require_view_bound).
#include "pg/views/views.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace pm::pg::views {

namespace {

Oid defs_relid() {
    Oid nsp = get_namespace_oid("parallel_material", false);
    Oid relid = get_relname_relid("view_defs", nsp);
    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("parallel_material.view_defs is missing"),
                        errhint("ALTER EXTENSION parallel_material UPDATE.")));
    return relid;
}

Oid defs_owner() {
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(defs_relid()));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for view_defs");
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);
    return owner;
}

// Runs a catalog write as the catalog's owner.
void exec_as_owner(const char *sql, int nargs, Oid *types, Datum *values) {
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(defs_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                             SECURITY_RESTRICTED_OPERATION);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
    if (rc < 0) elog(ERROR, "SPI failed (%d): %s", rc, sql);
    SPI_finish();
    SetUserIdAndSecContext(save_user, save_sec);
}

Datum int64_array(const PgArray<int64> &v) {
    Datum *d = static_cast<Datum *>(palloc(sizeof(Datum) * (static_cast<size_t>(v.size()) + 1)));
    for (int i = 0; i < v.size(); ++i) d[i] = Int64GetDatum(v[i]);
    return PointerGetDatum(construct_array(d, v.size(), INT8OID, 8,
                                           FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

Datum oid_array(const PgArray<Oid> &v) {
    Datum *d = static_cast<Datum *>(palloc(sizeof(Datum) * (static_cast<size_t>(v.size()) + 1)));
    for (int i = 0; i < v.size(); ++i) d[i] = ObjectIdGetDatum(v[i]);
    return PointerGetDatum(construct_array(d, v.size(), OIDOID, sizeof(Oid), true,
                                           TYPALIGN_INT));
}

template <class T>
void read_array(Datum d, Oid type, PgArray<T> &out) {
    ArrayType *arr = DatumGetArrayTypeP(d);
    Datum *elems;
    bool *nulls;
    int n;
    int16 len;
    bool byval;
    char align;
    get_typlenbyvalalign(type, &len, &byval, &align);
    deconstruct_array(arr, type, len, byval, align, &elems, &nulls, &n);
    for (int i = 0; i < n; ++i) {
        if (nulls[i]) continue;
        if constexpr (std::is_same_v<T, Oid>) out.push(DatumGetObjectId(elems[i]));
        else out.push(DatumGetInt64(elems[i]));
    }
}

// Runs `sql` (one parameter) and, when it returns a row, calls read(tuple, desc) in the
// caller's memory context, so that what read() copies out outlives SPI_finish. True when a row
// was found. One piece for every single-row catalog lookup of this file.
template <class Read>
bool spi_one_row(const char *sql, Oid argtype, Datum arg, Read read) {
    MemoryContext caller = CurrentMemoryContext;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute_with_args(sql, 1, &argtype, &arg, nullptr, false, 1);
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI failed (%d): %s", rc, sql);
    bool found = SPI_processed == 1;
    if (found) {
        MemoryContext spi = MemoryContextSwitchTo(caller);
        read(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
        MemoryContextSwitchTo(spi);
    }
    SPI_finish();
    return found;
}

bool load_where(const char *where, Oid argtype, Datum arg, ViewDef *out) {
    char *sql = psprintf(
        "SELECT viewid, viewrel, definition, query_sql, query_tree, base_relids, arrangements, "
        "created_arrangements FROM parallel_material.view_defs WHERE %s", where);
    return spi_one_row(sql, argtype, arg, [out](HeapTuple t, TupleDesc td) {
        bool isnull;
        out->viewid = DatumGetInt64(SPI_getbinval(t, td, 1, &isnull));
        out->viewrel = DatumGetObjectId(SPI_getbinval(t, td, 2, &isnull));
        out->definition = TextDatumGetCString(SPI_getbinval(t, td, 3, &isnull));
        out->query_sql = TextDatumGetCString(SPI_getbinval(t, td, 4, &isnull));
        char *tree = TextDatumGetCString(SPI_getbinval(t, td, 5, &isnull));
        out->query = static_cast<Query *>(stringToNode(tree));
        read_array(SPI_getbinval(t, td, 6, &isnull), OIDOID, out->relids);
        read_array(SPI_getbinval(t, td, 7, &isnull), INT8OID, out->arrangements);
        read_array(SPI_getbinval(t, td, 8, &isnull), INT8OID, out->created_arrangements);
    });
}

}  // namespace

int64 next_viewid() {
    MemoryContext caller = CurrentMemoryContext;
    (void)caller;
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(defs_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                             SECURITY_RESTRICTED_OPERATION);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    // An id no dumped definition and no trigger of this database uses: a restored database's
    // sequence starts again at 1 while its restored views' triggers keep their ids.
    int64 id = 0;
    for (int tries = 0;; ++tries) {
        int rc = SPI_execute(
            "SELECT i, EXISTS (SELECT FROM parallel_material.view_restore_defs r "
            "                   WHERE r.viewid OPERATOR(pg_catalog.=) i) "
            "       OR EXISTS (SELECT FROM pg_catalog.pg_trigger t WHERE t.tgname "
            "                   OPERATOR(pg_catalog.=) pg_catalog.format('pm_view_%s_bi', i)) "
            "  FROM (SELECT pg_catalog.nextval('parallel_material.view_id_seq') AS i) s",
            false, 1);
        if (rc != SPI_OK_SELECT || SPI_processed != 1) elog(ERROR, "nextval of view_id_seq failed");
        bool isnull;
        id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull))) break;
        if (tries > 100000) elog(ERROR, "no free maintained view id");
    }
    SPI_finish();
    SetUserIdAndSecContext(save_user, save_sec);
    return id;
}

void insert_view_def(const ViewDef &d, const char *query_tree) {
    Oid types[8] = {INT8OID, OIDOID, TEXTOID, TEXTOID, TEXTOID, OIDARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
    Datum values[8] = {Int64GetDatum(d.viewid), ObjectIdGetDatum(d.viewrel),
                       CStringGetTextDatum(d.definition), CStringGetTextDatum(d.query_sql),
                       CStringGetTextDatum(query_tree), oid_array(d.relids),
                       int64_array(d.arrangements), int64_array(d.created_arrangements)};
    exec_as_owner("INSERT INTO parallel_material.view_defs (viewid, viewrel, definition, "
                  "query_sql, query_tree, base_relids, arrangements, created_arrangements) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                  8, types, values);
}

void delete_view_def(int64 viewid) {
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(viewid)};
    exec_as_owner("DELETE FROM parallel_material.view_defs WHERE viewid OPERATOR(pg_catalog.=) $1",
                  1, types, values);
    exec_as_owner("DELETE FROM parallel_material.view_restore_defs WHERE viewid OPERATOR(pg_catalog.=) $1",
                  1, types, values);
}

void insert_restore_def(int64 viewid, Oid viewrel, const char *definition) {
    Oid types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
    Datum values[4] = {Int64GetDatum(viewid),
                       CStringGetTextDatum(get_namespace_name(get_rel_namespace(viewrel))),
                       CStringGetTextDatum(get_rel_name(viewrel)), CStringGetTextDatum(definition)};
    exec_as_owner("INSERT INTO parallel_material.view_restore_defs (viewid, view_schema, view_name, "
                  "definition) VALUES ($1, $2, $3, $4)",
                  4, types, values);
}

bool load_restore_def(const char *where, Oid argtype, Datum arg, RestoreDef *out) {
    char *sql = psprintf("SELECT viewid, view_schema, view_name, definition "
                         "FROM parallel_material.view_restore_defs WHERE %s ORDER BY viewid",
                         where);
    return spi_one_row(sql, argtype, arg, [out](HeapTuple t, TupleDesc td) {
        bool isnull;
        out->viewid = DatumGetInt64(SPI_getbinval(t, td, 1, &isnull));
        out->schema = TextDatumGetCString(SPI_getbinval(t, td, 2, &isnull));
        out->name = TextDatumGetCString(SPI_getbinval(t, td, 3, &isnull));
        out->definition = TextDatumGetCString(SPI_getbinval(t, td, 4, &isnull));
    });
}

void require_view_bound(int64 viewid, Relation input) {
    ViewDef vd;
    if (load_view_def_cached(viewid, &vd)) return;
    RestoreDef rd;
    if (load_restore_def("viewid OPERATOR(pg_catalog.=) $1", INT8OID, Int64GetDatum(viewid), &rd)) {
        const char *qname = quote_qualified_identifier(rd.schema, rd.name);
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("maintained view %s (id %lld) was restored from a dump and is not maintained yet",
                        qname, static_cast<long long>(viewid)),
                 errdetail("A dump carries a maintained view's table, definition and triggers, not "
                           "its binding to the restored tables; this write of its input \"%s\" "
                           "would leave it stale.",
                           RelationGetRelationName(input)),
                 errhint("Its owner runs SELECT parallel_material.restore_view('%s'), which binds "
                         "and refills it; or drops that table and the triggers pm_view_%lld_* of "
                         "its inputs.",
                         qname, static_cast<long long>(viewid))));
    }
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("table \"%s\" has triggers of maintained view %lld, which does not exist "
                           "in this database",
                           RelationGetRelationName(input), static_cast<long long>(viewid)),
                    errdetail("A write would leave the view's table stale."),
                    errhint("Drop the triggers pm_view_%lld_* of this table.",
                            static_cast<long long>(viewid))));
}

void hand_over_arrangement(int64 defid, int64 to_viewid) {
    Oid types[2] = {INT8OID, INT8OID};
    Datum values[2] = {Int64GetDatum(defid), Int64GetDatum(to_viewid)};
    exec_as_owner("UPDATE parallel_material.view_defs SET created_arrangements = "
                  "pg_catalog.array_append(created_arrangements, $1) "
                  "WHERE viewid OPERATOR(pg_catalog.=) $2 "
                  "AND NOT $1 OPERATOR(pg_catalog.=) ANY (created_arrangements)",
                  2, types, values);
}

bool load_view_def(int64 viewid, ViewDef *out) {
    return load_where("viewid OPERATOR(pg_catalog.=) $1", INT8OID, Int64GetDatum(viewid), out);
}

// Definitions by view id, per backend. A view id is never reused and its definition (query
// tree, inputs, arrangements used) never changes, so an entry never goes stale; only the
// created_arrangements list (drop_view's hand-over) can, which maintenance does not read.
namespace {
constexpr int kCachedViews = 64;
struct CachedView {
    int64 viewid;
    ViewDef def;
};
CachedView *g_cache = nullptr;
int g_ncached = 0;
MemoryContext g_cache_cxt = nullptr;
}  // namespace

bool load_view_def_cached(int64 viewid, ViewDef *out) {
    for (int i = 0; i < g_ncached; ++i)
        if (g_cache[i].viewid == viewid) {
            *out = g_cache[i].def;
            return true;
        }
    if (g_cache_cxt == nullptr) {
        g_cache_cxt = AllocSetContextCreate(CacheMemoryContext, "parallel_material views",
                                            ALLOCSET_SMALL_SIZES);
        g_cache = static_cast<CachedView *>(
            MemoryContextAllocZero(g_cache_cxt, sizeof(CachedView) * kCachedViews));
    }
    if (g_ncached == kCachedViews) {  // full: start over
        MemoryContextReset(g_cache_cxt);
        g_cache = static_cast<CachedView *>(
            MemoryContextAllocZero(g_cache_cxt, sizeof(CachedView) * kCachedViews));
        g_ncached = 0;
    }
    MemoryContext old = MemoryContextSwitchTo(g_cache_cxt);
    ViewDef def;
    bool found = load_view_def(viewid, &def);
    MemoryContextSwitchTo(old);
    if (!found) return false;
    g_cache[g_ncached].viewid = viewid;
    g_cache[g_ncached].def = def;
    ++g_ncached;
    *out = def;
    return true;
}

bool load_view_def_by_rel(Oid viewrel, ViewDef *out) {
    return load_where("viewrel OPERATOR(pg_catalog.=) $1", OIDOID, ObjectIdGetDatum(viewrel), out);
}

Oid view_using_arrangement(int64 defid, int64 except_viewid) {
    if (!OidIsValid(get_namespace_oid("parallel_material", true))) return InvalidOid;
    Oid nsp = get_namespace_oid("parallel_material", false);
    if (!OidIsValid(get_relname_relid("view_defs", nsp))) return InvalidOid;  // 0.1 schema
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid types[2] = {INT8OID, INT8OID};
    Datum values[2] = {Int64GetDatum(defid), Int64GetDatum(except_viewid)};
    int rc = SPI_execute_with_args(
        "SELECT d.viewrel FROM parallel_material.view_defs d "
        "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.viewrel "
        "WHERE $1 OPERATOR(pg_catalog.=) ANY (d.arrangements) "
        "AND d.viewid OPERATOR(pg_catalog.<>) $2 ORDER BY d.viewid LIMIT 1",
        2, types, values, nullptr, false, 1);
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI failed (%d)", rc);
    Oid rel = InvalidOid;
    if (SPI_processed == 1) {
        bool isnull;
        rel = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    }
    SPI_finish();
    return rel;
}

}  // namespace pm::pg::views
