// arrangement_adapt.cpp — adaptive arrangements (issue 15 item 3): widening a definition in place
// with its learnt columns (same defid, same triggers, views keep it), by its owner through
// widen_arrangement or, for an adaptive definition, by a dynamic background worker that the
// planning backend starts when it learns a column (the planner writes no catalog: read-only
// transactions and standbys are untouched). The definition's columns change; the shared entry
// built from the old columns is rebuilt at its next use (pin_usable compares the columns).
// docs/arrangements.md, "Learnt columns" and "Adaptive arrangements".
#include "pg/arrangement/arrangement.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/parallel.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

extern "C" {
PGDLLEXPORT Datum pm_widen_arrangement(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_widen_arrangement);
PGDLLEXPORT void pm_arrangement_widen_main(Datum);
}

namespace pm::pg::arr {

namespace {

// At most one automatic widening requested per definition per this many milliseconds.
constexpr uint64_t kWidenIntervalMs = 1000;

bool start_worker(int64 defid, Oid relid);

// Serializes widenings of one definition (widen_arrangement and the workers): a lock on the
// definition as an object of arrangement_defs; it conflicts with nothing else.
void lock_def(int64 defid) {
    LockDatabaseObject(defs_relid(), static_cast<Oid>(defid), 0, ShareUpdateExclusiveLock);
}

// Adds to d the learnt columns in bits that the table still has (not dropped, not arranged),
// writes the definition and invalidates the table's relcache entry (cached plans are made again;
// find_def's cache forgets). Returns the added columns' names. Caller holds lock_def.
ArrayType *widen_in_place(Relation rel, Def *d, uint64_t bits) {
    TupleDesc desc = RelationGetDescr(rel);
    Datum names[64];
    int k = 0;
    for (int a = 1; a <= 64 && a <= desc->natts; ++a) {
        if ((bits & (uint64_t(1) << (a - 1))) == 0) continue;
        if (TupleDescAttr(desc, a - 1)->attisdropped) continue;
        if (!add_sorted_unique(d, static_cast<AttrNumber>(a))) continue;
        names[k++] = CStringGetTextDatum(NameStr(TupleDescAttr(desc, a - 1)->attname));
    }
    if (k > 0) {
        update_def_columns(*d);
        CacheInvalidateRelcacheByRelid(RelationGetRelid(rel));
    }
    return construct_array(names, k, TEXTOID, -1, false, TYPALIGN_INT);
}

Datum widen_sql(FunctionCallInfo fcinfo) {
    require_available();
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("rel must not be NULL")));
    Oid relid = PG_GETARG_OID(0);
    ArrayType *key = PG_ARGISNULL(1) ? nullptr : PG_GETARG_ARRAYTYPE_P(1);
    return pg_call([&] {
        Relation rel = relation_open(relid, AccessShareLock);
        if (!pm_class_ownercheck(relid, GetUserId()))
            ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                            errmsg("must be owner of table %s", relation_sql_name(rel))));
        Def d = *find_def_by_key(rel, key);
        lock_def(d.defid);
        if (!find_def(relid, d.defid, &d))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                            errmsg("the arrangement was dropped meanwhile")));
        // What the owner may see of the learnt columns (as the arrangements view shows them).
        uint64_t bits = 0;
        if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK ||
            has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
            bits = entry_wanted(d.defid);
        ArrayType *added = widen_in_place(rel, &d, bits);
        relation_close(rel, NoLock);
        // Rebuilt by a worker once this transaction commits (it waits for our lock_def), so that
        // no reader meets the new columns before every backend sees them; a read through a SQL
        // function (arrangement_check) rebuilds it at once after the commit.
        if (ArrayGetNItems(ARR_NDIM(added), ARR_DIMS(added)) > 0) (void)start_worker(d.defid, relid);
        return PointerGetDatum(added);
    });
}

}  // namespace

namespace {

// A background worker that widens defid (if adaptive) and rebuilds it when its entry was built
// with other columns than its definition's. False when no worker slot was free.
bool start_worker(int64 defid, Oid relid) {
    BackgroundWorker w;
    memset(&w, 0, sizeof(w));
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_start_time = BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(w.bgw_library_name, BGW_MAXLEN, "parallel_material");
    snprintf(w.bgw_function_name, BGW_MAXLEN, "pm_arrangement_widen_main");
    snprintf(w.bgw_name, BGW_MAXLEN, "parallel_material arrangement widen %lld",
             static_cast<long long>(defid));
    snprintf(w.bgw_type, BGW_MAXLEN, "parallel_material arrangement widen");
    w.bgw_main_arg = Int64GetDatum(defid);
    Oid ids[2] = {MyDatabaseId, relid};
    memcpy(w.bgw_extra, ids, sizeof(ids));
    if (RegisterDynamicBackgroundWorker(&w, nullptr)) return true;
    elog(DEBUG1, "parallel_material: no background worker slot to widen arrangement %lld",
         static_cast<long long>(defid));
    return false;
}

}  // namespace

void request_widen(const Def &d) {
    pg_call([&] {
        if (!IsUnderPostmaster || IsParallelWorker() || RecoveryInProgress() ||
            !OidIsValid(MyDatabaseId))
            return;
        uint64_t now = static_cast<uint64_t>(GetCurrentTimestamp() / 1000);
        // At most one request per interval: the next plan that learns a column tries again.
        if (!claim_widen(d.defid, now, kWidenIntervalMs)) return;
        (void)start_worker(d.defid, d.relid);
    });
}

namespace {

void start_xact() {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
}

void end_xact() {
    PopActiveSnapshot();
    CommitTransactionCommand();
}

// The worker: widen the definition with the learnt columns (one transaction), then rebuild it
// (another), both as the table's owner; nothing to do if it is gone, not adaptive any more or
// has nothing new.
void widen_worker(int64 defid, Oid relid) {
    start_xact();
    pgstat_report_activity(STATE_RUNNING, "widening an arrangement");
    Relation rel = try_relation_open(relid, AccessShareLock);
    if (rel == nullptr) {
        end_xact();
        return;
    }
    Oid owner = rel->rd_rel->relowner;
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                      SECURITY_RESTRICTED_OPERATION);
    lock_def(defid);
    Def d;
    bool found = find_def(relid, defid, &d);
    if (found && d.adaptive) (void)widen_in_place(rel, &d, entry_wanted(defid));
    SetUserIdAndSecContext(save_user, save_sec);
    relation_close(rel, NoLock);
    end_xact();
    if (!found) return;
    // Nothing to rebuild unless its entry is ready with other columns (widened here or by
    // widen_arrangement); one not ready is rebuilt by its next reader, as after a restart.
    EntryInfo e = lookup(defid);
    if (e.slot < 0 || e.state != State::Ready || same_columns(e.def, d)) return;
    // The rebuild, after the commit: every backend now sees the new columns; readers planned
    // with the old ones fall back meanwhile (pin_for_reader).
    start_xact();
    pgstat_report_activity(STATE_RUNNING, "rebuilding a widened arrangement");
    rel = try_relation_open(relid, AccessShareLock);
    if (rel != nullptr) {
        SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                          SECURITY_RESTRICTED_OPERATION);
        if (find_def(relid, defid, &d))
            guarded([&] {
                EntryInfo built = pin_or_build(rel, d);
                unpin(built.slot);
                return 0;
            });
        SetUserIdAndSecContext(save_user, save_sec);
        relation_close(rel, NoLock);
    }
    end_xact();
}

}  // namespace

}  // namespace pm::pg::arr

Datum pm_widen_arrangement(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::arr::widen_sql(fcinfo); });
}

void pm_arrangement_widen_main(Datum arg) {
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    Oid ids[2];
    memcpy(ids, MyBgworkerEntry->bgw_extra, sizeof(ids));
    // As the bootstrap superuser (a table's owner may not have LOGIN); the work itself runs as
    // the table's owner (widen_worker).
    BackgroundWorkerInitializeConnectionByOid(ids[0], InvalidOid, 0);
    pm::pg::arr::widen_worker(DatumGetInt64(arg), ids[1]);
}
