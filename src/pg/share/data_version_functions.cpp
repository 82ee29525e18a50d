// data_version_functions.cpp — SQL functions over the shared data versions: the key version a
// relation has for the current snapshot (or why sharing would be skipped), the reset, and a
// superuser-only test hook that registers an in-progress committer by hand.
// Issue 12: data_version() and data_version_info() answer only to a role that may read the
// relation (SELECT on it or on one of its columns, as a query of it would need); otherwise they
// raise PostgreSQL's "permission denied" error.
#include "pg/share/data_versions.hpp"
#include "pg/guard.hpp"
#include "pg/shmem.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"
}

extern "C" {
PGDLLEXPORT Datum pm_data_version(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_data_version_info(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_reset_data_versions(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_debug_set_committer(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_data_version);
PG_FUNCTION_INFO_V1(pm_data_version_info);
PG_FUNCTION_INFO_V1(pm_reset_data_versions);
PG_FUNCTION_INFO_V1(pm_debug_set_committer);
}

namespace {

struct Answer {
    const char *reason;
    pm::pg::VersionKey key;
    uint64 version;
};

// SELECT on the relation, or on any of its columns (what SELECT count(*) FROM rel needs).
void require_select(Oid relid) {
    const AclResult r = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
    if (r == ACLCHECK_OK ||
        pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT, ACLMASK_ANY) == ACLCHECK_OK)
        return;
    aclcheck_error(r, get_relkind_objtype(get_rel_relkind(relid)), get_rel_name(relid));
}

Answer answer_for(Oid relid) {
    pm::pg::pg_call([&] { require_select(relid); });
    Answer a{nullptr, {}, 0};
    // Writes of temporary tables are not tracked (they are never shared).
    if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP) {
        a.reason = "temporary relation";
        return a;
    }
    Snapshot snap = ActiveSnapshotSet() ? GetActiveSnapshot() : nullptr;
    a.reason = pm::pg::compute_key_versions(&relid, 1, snap, &a.key, &a.version);
    return a;
}

Datum data_version(FunctionCallInfo fcinfo) {
    Answer a = answer_for(PG_GETARG_OID(0));
    if (a.reason != nullptr) PG_RETURN_NULL();
    return Int64GetDatum(static_cast<int64>(a.version));
}

Datum data_version_info(FunctionCallInfo fcinfo) {
    Answer a = answer_for(PG_GETARG_OID(0));
    TupleDesc tupdesc;
    if (get_call_result_type(fcinfo, nullptr, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "return type must be a row type");
    tupdesc = BlessTupleDesc(tupdesc);
    Datum values[4];
    bool nulls[4] = {false, false, false, false};
    bool ok = a.reason == nullptr;
    values[0] = Int64GetDatum(static_cast<int64>(a.version));
    values[1] = Int64GetDatum(static_cast<int64>(a.key.global_version));
    values[2] = Int64GetDatum(static_cast<int64>(a.key.generation));
    nulls[0] = nulls[1] = nulls[2] = !ok;
    if (ok)
        nulls[3] = true;
    else
        values[3] = CStringGetTextDatum(a.reason);
    return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

}  // namespace

Datum pm_data_version(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return data_version(fcinfo); });
}

Datum pm_data_version_info(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return data_version_info(fcinfo); });
}

Datum pm_reset_data_versions(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] {
        pm::pg::require_shared_state("parallel_material.reset_data_versions()");
        pm::pg::reset_data_versions();
        PG_RETURN_VOID();
    });
}

Datum pm_debug_set_committer(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] {
        pm::pg::require_shared_state("parallel_material.debug_set_committer()");
        pm::pg::debug_set_committer(PG_GETARG_OID(0), PG_GETARG_FULLTRANSACTIONID(1),
                                    PG_GETARG_BOOL(2));
        PG_RETURN_VOID();
    });
}

