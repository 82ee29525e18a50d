// arrangement_restore.cpp — arrangements across pg_dump and restore (docs/arrangements.md,
// "pg_dump and restore"). parallel_material.arrangement_restore_defs (an extension configuration
// table, so pg_dump carries it) holds each definition's id, its table's schema and name and its
// key and arranged columns by name, written beside arrangement_defs (through heapam, by
// insert_def/delete_def only). In a restored database arrangement_defs is empty while the
// maintenance triggers came back: a trigger whose definition id names a dumped definition of its
// own table (by schema and name) does nothing, since no arrangement exists to keep in step and
// none is read (the planner and the readers find arrangements through arrangement_defs and the
// shared directory only). restore_arrangements re-creates them by column names; restore_view
// uses the same piece for its inputs.
#include "pg/arrangement/arrangement.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
}

extern "C" {
PGDLLEXPORT Datum pm_restore_arrangements(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_restore_arrangements);
}

namespace pm::pg::arr {

namespace {
constexpr int kRestoreCols = 5;  // defid, rel_schema, rel_name, key_columns, columns

// The table, or InvalidOid where the extension is at a version without it.
Oid restore_defs_relid() {
    Oid nsp = get_namespace_oid("parallel_material", true);
    return OidIsValid(nsp) ? get_relname_relid("arrangement_restore_defs", nsp) : InvalidOid;
}

Datum name_array(Oid relid, const AttrNumber *attnums, int n) {
    Datum elems[kMaxColumns];
    for (int i = 0; i < n; ++i) elems[i] = CStringGetTextDatum(get_attname(relid, attnums[i], false));
    return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

// Calls fn(tuple, values, nulls) for each row, under a fresh snapshot; fn returns false to stop.
template <typename Fn>
void scan_restore_defs(Oid defs, LOCKMODE mode, Fn fn) {
    Relation rel = table_open(defs, mode);
    Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
    TableScanDesc scan = table_beginscan(rel, snap, 0, nullptr);
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        Datum values[kRestoreCols];
        bool nulls[kRestoreCols];
        heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
        if (nulls[0] || nulls[1] || nulls[2])
            elog(ERROR, "malformed parallel_material.arrangement_restore_defs row");
        if (!fn(rel, tup, values)) break;
    }
    table_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, mode);
}
}  // namespace

void insert_restore_def(const Def &d) {
    Oid defs = restore_defs_relid();
    if (!OidIsValid(defs)) return;
    Relation rel = table_open(defs, RowExclusiveLock);
    Datum values[kRestoreCols] = {
        Int64GetDatum(d.defid), CStringGetTextDatum(get_namespace_name(get_rel_namespace(d.relid))),
        CStringGetTextDatum(get_rel_name(d.relid)), name_array(d.relid, d.keys, d.nkeys),
        name_array(d.relid, d.cols, d.ncols)};
    bool nulls[kRestoreCols] = {false, false, false, false, false};
    HeapTuple tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
    simple_heap_insert(rel, tup);
    table_close(rel, RowExclusiveLock);
}

void delete_restore_def(int64 defid) {
    Oid defs = restore_defs_relid();
    if (!OidIsValid(defs)) return;
    scan_restore_defs(defs, RowExclusiveLock, [&](Relation rel, HeapTuple tup, const Datum *v) {
        if (DatumGetInt64(v[0]) == defid) simple_heap_delete(rel, &tup->t_self);
        return true;
    });
}

void refresh_restore_defs(Oid relid) {
    if (!OidIsValid(restore_defs_relid())) return;
    Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
    int n = load_defs(relid, defs);
    for (int i = 0; i < n; ++i) {
        delete_restore_def(defs[i].defid);
        CommandCounterIncrement();
        insert_restore_def(defs[i]);
    }
    if (n > 0) CommandCounterIncrement();
}

bool restore_def_exists(int64 defid) {
    Oid defs = restore_defs_relid();
    if (!OidIsValid(defs)) return false;
    bool found = false;
    scan_restore_defs(defs, AccessShareLock, [&](Relation, HeapTuple, const Datum *v) {
        found = DatumGetInt64(v[0]) == defid;
        return !found;
    });
    return found;
}

bool dumped_def_of(int64 defid, Oid relid) {
    Oid defs = restore_defs_relid();
    if (!OidIsValid(defs)) return false;
    const char *nsp = get_namespace_name(get_rel_namespace(relid));
    const char *name = get_rel_name(relid);
    if (nsp == nullptr || name == nullptr) return false;
    bool found = false;
    scan_restore_defs(defs, AccessShareLock, [&](Relation, HeapTuple, const Datum *v) {
        if (DatumGetInt64(v[0]) != defid) return true;
        found = strcmp(TextDatumGetCString(v[1]), nsp) == 0 && strcmp(TextDatumGetCString(v[2]), name) == 0;
        return false;
    });
    return found;
}

namespace {

struct Dumped {
    int64 defid;
    Oid relid;
    Datum key;      // text[]
    Datum columns;  // text[]
};

// The dumped definitions without an arrangement_defs row whose table (by schema and name) exists
// now: of relid, or of every table when relid is InvalidOid. In the caller's memory context.
int dumped_defs(Oid relid, Dumped **out) {
    MemoryContext caller = CurrentMemoryContext;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(relid)};
    int rc = SPI_execute_with_args(
        "SELECT r.defid, c.oid, r.key_columns, r.columns "
        "  FROM parallel_material.arrangement_restore_defs r "
        "  JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) r.rel_schema "
        "  JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid "
        "                            AND c.relname OPERATOR(pg_catalog.=) r.rel_name "
        " WHERE NOT EXISTS (SELECT FROM parallel_material.arrangement_defs d "
        "                    WHERE d.defid OPERATOR(pg_catalog.=) r.defid) "
        "   AND ($1 OPERATOR(pg_catalog.=) 0 OR c.oid OPERATOR(pg_catalog.=) $1) "
        " ORDER BY r.defid",
        1, types, values, nullptr, false, 0);  // sees what the caller changed just before
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI failed (%d): arrangement_restore_defs", rc);
    int n = static_cast<int>(SPI_processed);
    MemoryContext spi = MemoryContextSwitchTo(caller);
    *out = static_cast<Dumped *>(palloc0(sizeof(Dumped) * (n + 1)));
    for (int i = 0; i < n; ++i) {
        HeapTuple t = SPI_tuptable->vals[i];
        TupleDesc td = SPI_tuptable->tupdesc;
        bool isnull;
        (*out)[i].defid = DatumGetInt64(SPI_getbinval(t, td, 1, &isnull));
        (*out)[i].relid = DatumGetObjectId(SPI_getbinval(t, td, 2, &isnull));
        (*out)[i].key = datumCopy(SPI_getbinval(t, td, 3, &isnull), false, -1);
        (*out)[i].columns = datumCopy(SPI_getbinval(t, td, 4, &isnull), false, -1);
    }
    MemoryContextSwitchTo(spi);
    SPI_finish();
    return n;
}

// The definition of relid on these key column names, or 0.
int64 defid_on_key(Oid relid, Datum key) {
    Datum *elems;
    bool *nulls;
    int nk;
    deconstruct_array(DatumGetArrayTypeP(key), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nk);
    if (nk > kMaxKeyColumns) return 0;
    AttrNumber keys[kMaxKeyColumns];
    for (int i = 0; i < nk; ++i) {
        keys[i] = nulls[i] ? InvalidAttrNumber : get_attnum(relid, TextDatumGetCString(elems[i]));
        if (keys[i] == InvalidAttrNumber) return 0;
    }
    Def *defs = static_cast<Def *>(palloc(sizeof(Def) * kMaxArrangements));
    int n = load_defs(relid, defs);
    for (int i = 0; i < n; ++i)
        if (defs[i].nkeys == nk && memcmp(defs[i].keys, keys, sizeof(AttrNumber) * nk) == 0)
            return defs[i].defid;
    return 0;
}

}  // namespace

int restore_dumped(Oid relid, RestoredFn report, void *arg) {
    Dumped *d;
    int n = dumped_defs(relid, &d);
    int done = 0;
    for (int i = 0; i < n; ++i) {
        Oid r = d[i].relid;
        if (!pm_class_ownercheck(r, GetUserId())) {
            if (OidIsValid(relid)) aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(r)), get_rel_name(r));
            continue;  // every table: only the caller's own
        }
        // As create_arrangement: keeps writers out, serializes creates on the table.
        Relation rel = relation_open(r, ShareRowExclusiveLock);
        const char *relname = relation_sql_name(rel);
        relation_close(rel, NoLock);
        Def dumped{};
        dumped.defid = d[i].defid;
        dumped.relid = r;
        drop_def_and_triggers(relname, &dumped);  // the restored triggers and the dumped row
        int64 now = defid_on_key(r, d[i].key);    // one made meanwhile (create_view, by hand)
        if (now == 0) {
            if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
            Oid types[3] = {REGCLASSOID, TEXTARRAYOID, TEXTARRAYOID};
            Datum values[3] = {ObjectIdGetDatum(r), d[i].key, d[i].columns};
            // No key names: a row arrangement (keyed by TID).
            ArrayType *ka = DatumGetArrayTypeP(d[i].key);
            bool row = ArrayGetNItems(ARR_NDIM(ka), ARR_DIMS(ka)) == 0;
            int rc = SPI_execute_with_args(
                row ? "SELECT parallel_material.create_row_arrangement($1, $3)"
                    : "SELECT parallel_material.create_arrangement($1, $2, $3)",
                3, types, values, nullptr, false, 0);
            if (rc != SPI_OK_SELECT) elog(ERROR, "SPI failed (%d): create_arrangement", rc);
            SPI_finish();
            now = defid_on_key(r, d[i].key);
        }
        ++done;
        if (report != nullptr) report(arg, r, d[i].key, d[i].defid, now);
    }
    return done;
}

namespace {

void emit_restored(void *arg, Oid relid, Datum key, int64 dumped, int64 now) {
    auto *rsinfo = static_cast<ReturnSetInfo *>(arg);
    Datum values[4] = {ObjectIdGetDatum(relid), key, Int64GetDatum(dumped), Int64GetDatum(now)};
    bool nulls[4] = {false, false, false, now == 0};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum restore(FunctionCallInfo fcinfo) {
    Oid relid = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
    if (OidIsValid(relid)) {
        char *name = get_rel_name(relid);
        if (name == nullptr)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
        if (!pm_class_ownercheck(relid, GetUserId()))
            aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)), name);
    }
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    restore_dumped(relid, emit_restored, rsinfo);
    return static_cast<Datum>(0);
}

}  // namespace

}  // namespace pm::pg::arr

Datum pm_restore_arrangements(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::pg_call([&] { return pm::pg::arr::restore(fcinfo); }); });
}
