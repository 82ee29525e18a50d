// arrangement_join_trust.cpp — whether an ArrangementJoin may read an arrangement instead of the
// heap (docs/arrangements.md, "Join path", "When the join does not read the arrangement"). An
// allowlist: the arrangement answers only when it holds exactly what a heap scan under the
// query's snapshot would return.
//   * planning: every arranged column still exists (a typed table loses columns through ALTER
//     TYPE ... DROP ATTRIBUTE, which no ALTER TABLE event trigger sees), and the maintenance
//     triggers are there, fire ALWAYS and were never changed since the arrangement was created;
//   * executor start (plans are cached; the node then runs its fallback): the same trigger test,
//     no write of the table whose maintenance is still queued in this transaction (code running
//     inside the writing statement: AFTER ROW triggers apply deltas at the statement's end), and
//     no change of the relation's pg_class row the snapshot does not see (a TRUNCATE, which is not
//     MVCC-safe: a heap scan under an older snapshot then finds the new, empty file).
// Plain PostgreSQL code (may raise errors): called inside guarded()/pg_call.
#include "pg/arrangement/arrangement.hpp"
#include "pg/inval.hpp"
#include "pg/arrangement/arrangement_join.hpp"
#include "pg/views/views.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace pm::pg::arr {

namespace {

// The raw xmin of a pg_trigger row (InvalidTransactionId when it is not there).
TransactionId trigger_xmin(Oid tgoid) {
    Relation rel = table_open(TriggerRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(tgoid));
    SysScanDesc scan = systable_beginscan(rel, TriggerOidIndexId, true, nullptr, 1, &key);
    HeapTuple tup = systable_getnext(scan);
    TransactionId xmin = HeapTupleIsValid(tup) ? HeapTupleHeaderGetRawXmin(tup->t_data)
                                               : InvalidTransactionId;
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return xmin;
}

// The raw xmin of the definition's row in arrangement_defs: the (sub)transaction that created
// the arrangement, its definition and its triggers together.
TransactionId def_xmin(int64 defid) {
    Relation rel = table_open(defs_relid(), AccessShareLock);
    Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
    TableScanDesc scan = table_beginscan(rel, snap, 0, nullptr);
    TransactionId xmin = InvalidTransactionId;
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        bool isnull;
        Datum d = heap_getattr(tup, 1, RelationGetDescr(rel), &isnull);
        if (!isnull && DatumGetInt64(d) == defid) {
            // A definition widened in place (arrangement_adapt.cpp) keeps its first row's xmin
            // in created_xid (0.2's seventh column).
            Datum c = RelationGetDescr(rel)->natts >= 7
                          ? heap_getattr(tup, 7, RelationGetDescr(rel), &isnull)
                          : (isnull = true, Datum(0));
            xmin = isnull ? HeapTupleHeaderGetRawXmin(tup->t_data) : DatumGetTransactionId(c);
            break;
        }
    }
    table_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, AccessShareLock);
    return xmin;
}

// untrusted_maintenance's answers, per (relation, definition), until the relation's relcache
// entry is invalidated: every change of one of its triggers (CREATE, DROP, ENABLE/DISABLE,
// RENAME) invalidates it, here and in every other backend, before anyone can write under the
// new trigger state. Saves the catalog lookups on every plan and every executor start.
struct Verdict {
    Oid relid;
    int64 defid;
    const char *why;  // a string literal, or nullptr
};
constexpr int kVerdicts = 64;
Verdict g_verdicts[kVerdicts];
int g_nverdicts = 0;
bool g_callback_registered = false;

void forget_verdicts(Datum, Oid relid) {
    if (!OidIsValid(relid)) {
        g_nverdicts = 0;
        return;
    }
    int kept = 0;
    for (int i = 0; i < g_nverdicts; ++i)
        if (g_verdicts[i].relid != relid) g_verdicts[kept++] = g_verdicts[i];
    g_nverdicts = kept;
}

const char *check_maintenance(Relation rel, const Def &d);

}  // namespace

const char *untrusted_maintenance(Relation rel, const Def &d) {
    Oid relid = RelationGetRelid(rel);
    for (int i = 0; i < g_nverdicts; ++i)
        if (g_verdicts[i].relid == relid && g_verdicts[i].defid == d.defid) return g_verdicts[i].why;
    if (!g_callback_registered) {
        pm::pg::on_relcache_inval(forget_verdicts);
        g_callback_registered = true;
    }
    const char *why = check_maintenance(rel, d);
    if (g_nverdicts == kVerdicts) g_nverdicts = 0;
    g_verdicts[g_nverdicts++] = Verdict{relid, d.defid, why};
    return why;
}

namespace {

const char *check_maintenance(Relation rel, const Def &d) {
    // The shape create_arrangement gave them (arrangement_sql.cpp), ENABLE ALWAYS included: they
    // fire under session_replication_role = replica too (logical apply).
    const Trigger *row = nullptr, *trunc = nullptr;
    if (!maintenance_triggers_intact(rel, d, &row, &trunc))
        return "its maintenance triggers are missing, changed or not enabled ALWAYS";
    // Any change of a trigger since the arrangement was created (disabled and enabled again,
    // dropped and created again) writes a new pg_trigger row: writes may have been missed
    // meanwhile. The definition and the triggers are written by one (sub)transaction.
    TransactionId created = def_xmin(d.defid);
    if (!TransactionIdIsValid(created) || trigger_xmin(row->tgoid) != created ||
        trigger_xmin(trunc->tgoid) != created)
        return "its maintenance triggers were changed after it was created";
    return nullptr;
}

}  // namespace

const char *dropped_column(Relation rel, const Def &d) {
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < d.ncols; ++i) {
        AttrNumber a = d.cols[i];
        if (a < 1 || a > desc->natts || TupleDescAttr(desc, a - 1)->attisdropped)
            return "an arranged column was dropped";
    }
    return nullptr;
}

const char *exec_refusal(Relation rel, const Def &d, Snapshot snap) {
    if (const char *why = dropped_column(rel, d)) return why;
    if (const char *why = untrusted_maintenance(rel, d)) return why;
    // Writes whose AFTER ROW events (the maintenance trigger's among them) are still queued: we
    // run inside the writing statement (a volatile function, a trigger) or after a write whose
    // events are deferred. Every writer holds RowExclusiveLock until the transaction ends: a
    // lookup in the local lock table before walking the queued events.
    // A maintained view's delta query, run when every statement writing the view's inputs has
    // ended, has all their row events fired: what is still queued on the table is the running
    // AFTER STATEMENT event itself and other statement-level or deferred events, none of which
    // owes the arrangement a delta (docs/views.md, "Trusting the arrangements").
    if (CheckRelationLockedByMe(rel, RowExclusiveLock, true) &&
        !views::maintenance_trusts(RelationGetRelid(rel)) &&
        AfterTriggerPendingOnRel(RelationGetRelid(rel)))
        return "this transaction has writes of the table not applied to it yet";
    // The relation's catalog row was replaced by a transaction the snapshot does not see: a
    // TRUNCATE (new relfilenode: a heap scan under this snapshot finds the new file) or other
    // DDL. The heap decides; in-place updates (VACUUM, ANALYZE) keep the row's xmin.
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(RelationGetRelid(rel)));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", RelationGetRelid(rel));
    bool newer = false;
    HeapTupleHeader h = tup->t_data;
    TransactionId xmin = HeapTupleHeaderGetRawXmin(h);
    if (!HeapTupleHeaderXminFrozen(h) && TransactionIdIsNormal(xmin)) {
        if (TransactionIdIsCurrentTransactionId(xmin))
            newer = HeapTupleHeaderGetCmin(h) >= snap->curcid;
        else
            newer = XidInMVCCSnapshot(xmin, snap);
    }
    ReleaseSysCache(tup);
    if (newer) return "the table was truncated or altered after the query's snapshot was taken";
    return nullptr;
}

}  // namespace pm::pg::arr
