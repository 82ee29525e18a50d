// write_tracking.cpp — which relations the current transaction writes, and the commit protocol
// that reports them to data_versions.cpp. Every write is taken from what the executed statement
// itself resolved (relation OIDs), never from names looked up again:
//   * ExecutorStart: every result relation of the plan (INSERT, UPDATE, DELETE, MERGE, also
//     through SPI, triggers and foreign-key actions, which all start executors);
//   * object_access_hook: OAT_TRUNCATE names each relation a TRUNCATE empties (cascaded ones and
//     partitions included) as the statement resolved it; OAT_POST_CREATE of a relation that is
//     not temporary counts as a write of everything (CREATE TABLE AS under EXPLAIN ANALYZE,
//     VACUUM FULL and CLUSTER rewrites, however they are reached);
//   * ProcessUtility, an allowlist: statements known to leave data and plan meaning alone pass;
//     COPY FROM counts every table the transaction holds ROW EXCLUSIVE (or stronger) on after
//     the statement; EXPLAIN is judged by the statement it explains; every other statement is a
//     write of everything (the global entry), noted before and again after it runs (in case it
//     committed and started transactions of its own);
//   * a logical replication worker writes without executors or statements (so may another
//     extension's background worker): each commit of a background worker that is not a
//     parallel worker is a write of everything, not MVCC-safe (it may apply a TRUNCATE).
// Writes of a partitioned or inheritance parent count for every descendant, writes of a
// partition for its ancestors. At PRE_COMMIT the top-level transaction registers as an
// in-progress committer of each relation, at COMMIT (after the proc array says committed) it is
// counted, at ABORT unregistered; at PREPARE TRANSACTION the relations are poisoned.
#include "pg/share/write_tracking.hpp"

#include "pg/share/data_versions.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "replication/logicalworker.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
#include "access/genam.h"
#include "access/parallel.h"
#include "miscadmin.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
}

namespace pm::pg {

namespace {

constexpr int kMaxLocalWrites = 64;

// The current top-level transaction's writes (backend-local, no allocation).
struct LocalWrites {
    Oid relids[kMaxLocalWrites];
    bool unsafe[kMaxLocalWrites];  // TRUNCATE: not MVCC-safe
    int n = 0;
    bool global = false;  // every global write is taken as possibly not MVCC-safe (DDL)
    // Registrations made at PRE_COMMIT, consumed at COMMIT / ABORT.
    CommitterRegistration regs[kMaxLocalWrites + 1];
    int nregs = 0;
    FullTransactionId fxid = InvalidFullTransactionId;
};

LocalWrites g_local;

// Hidden test setting: after the commit is visible and before it is counted, wait for the
// advisory lock (20557, 1) (pg_advisory_lock(20557, 1) in a test session holds the writer there;
// a heavyweight lock wait is what isolationtester recognizes as blocked). Interrupts are held:
// nothing may fail after the commit.
bool g_debug_commit_pause = false;
constexpr uint32 kDebugLockKey1 = 20557;  // 'PM'
constexpr uint32 kDebugLockKey2 = 1;

void debug_pause() {
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, kDebugLockKey1, kDebugLockKey2, 2);
    HOLD_INTERRUPTS();
    (void)LockAcquire(&tag, ShareLock, true, false);
    LockRelease(&tag, ShareLock, true);
    RESUME_INTERRUPTS();
}

ExecutorStart_hook_type prev_executor_start = nullptr;
ProcessUtility_hook_type prev_process_utility = nullptr;

void note_global() { g_local.global = true; }

bool g_noting_unsafe = false;  // set while noting the relations of a TRUNCATE

void note_one(Oid relid) {
    if (g_local.global || !OidIsValid(relid)) return;
    if (relid < FirstNormalObjectId) {  // a catalog: plans may change meaning
        note_global();
        return;
    }
    if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP) return;  // never shared
    for (int i = 0; i < g_local.n; i++) {
        if (g_local.relids[i] == relid) {
            g_local.unsafe[i] = g_local.unsafe[i] || g_noting_unsafe;
            return;
        }
    }
    if (g_local.n == kMaxLocalWrites) {
        note_global();
        return;
    }
    g_local.unsafe[g_local.n] = g_noting_unsafe;
    g_local.relids[g_local.n++] = relid;
}

// relid, its descendants (partitions, inheritance children) and its partition ancestors.
void note_write(Oid relid) {
    if (g_local.global || !OidIsValid(relid)) return;
    note_one(relid);
    if (has_subclass(relid)) {
        List *all = find_all_inheritors(relid, NoLock, nullptr);
        ListCell *lc;
        foreach (lc, all) note_one(lfirst_oid(lc));
        list_free(all);
    }
    if (get_rel_relispartition(relid)) {
        List *up = get_partition_ancestors(relid);
        ListCell *lc;
        foreach (lc, up) note_one(lfirst_oid(lc));
        list_free(up);
    }
}

void note_plan_writes(PlannedStmt *stmt) {
    ListCell *lc;
    foreach (lc, stmt->resultRelations) {
        RangeTblEntry *rte = rt_fetch(lfirst_int(lc), stmt->rtable);
        if (rte->rtekind == RTE_RELATION) note_write(rte->relid);
    }
}

void executor_start(QueryDesc *qd, int eflags) {
    if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 && qd->plannedstmt->resultRelations != NIL)
        guarded([&] { note_plan_writes(qd->plannedstmt); });
    if (prev_executor_start != nullptr)
        prev_executor_start(qd, eflags);
    else
        standard_ExecutorStart(qd, eflags);
}

// What a utility statement may write. An allowlist: only statements known to change no row any
// snapshot sees and no plan's meaning are None; everything not named below is Global.
enum class UtilityWrites {
    None,      // known not to write
    Global,    // a write of everything
    Truncate,  // the relations OAT_TRUNCATE names (Global if it names none)
    CopyFrom,  // the tables the statement holds ROW EXCLUSIVE on afterwards (Global if none)
};

// EXPLAIN runs the statement it explains only with ANALYZE; plans go through ExecutorStart
// (tracked there) and so do cursors and EXECUTE. CREATE TABLE AS / SELECT INTO / CREATE
// MATERIALIZED VIEW under EXPLAIN ANALYZE create and fill a table without ProcessUtility seeing
// a CreateTableAsStmt: anything but a plannable query counts as a write of everything.
// CREATE TEMP TABLE ... AS / SELECT ... INTO TEMP fills a table no other session can read (its
// query runs through the executor; the new relation's OAT_POST_CREATE is skipped as temporary).
bool creates_temp_table(Node *stmt) {
    if (stmt == nullptr || !IsA(stmt, CreateTableAsStmt)) return false;
    auto *ctas = castNode(CreateTableAsStmt, stmt);
    return ctas->objtype == OBJECT_TABLE && ctas->into != nullptr && ctas->into->rel != nullptr &&
           ctas->into->rel->relpersistence == RELPERSISTENCE_TEMP;
}

UtilityWrites classify_explain(ExplainStmt *explain) {
    Node *q = explain->query;
    if (q == nullptr || !IsA(q, Query)) return UtilityWrites::Global;
    auto *query = castNode(Query, q);
    if (query->commandType != CMD_UTILITY) return UtilityWrites::None;
    Node *u = query->utilityStmt;
    if (u != nullptr && (IsA(u, DeclareCursorStmt) || IsA(u, ExecuteStmt) || creates_temp_table(u)))
        return UtilityWrites::None;
    return UtilityWrites::Global;
}

UtilityWrites classify(Node *stmt) {
    switch (nodeTag(stmt)) {
        case T_TransactionStmt:  // PREPARE TRANSACTION: see the PRE_PREPARE callback
        case T_VariableSetStmt:
        case T_VariableShowStmt:
        case T_DeclareCursorStmt:  // a SELECT (no data-modifying WITH), run by the executor
        case T_FetchStmt:
        case T_ClosePortalStmt:
        case T_PrepareStmt:
        case T_ExecuteStmt:  // runs through the executor
        case T_DeallocateStmt:
        case T_LockStmt:
        case T_CheckPointStmt:
        case T_ListenStmt:
        case T_NotifyStmt:
        case T_UnlistenStmt:
        case T_DiscardStmt:
        case T_LoadStmt:
        case T_DoStmt:    // its statements are tracked one by one
        case T_CallStmt:  // likewise
        case T_ConstraintsSetStmt:  // deferred triggers run executors
        case T_ReindexStmt:  // indexes only; REINDEX's new relfilenodes hold the same entries
            return UtilityWrites::None;
        case T_VacuumStmt:
            // VACUUM and ANALYZE change no row any snapshot sees. VACUUM FULL rewrites the table
            // (the same row versions, new ctids) in transactions of its own: the transient heap's
            // OAT_POST_CREATE counts it there as a write of everything.
            return UtilityWrites::None;
        case T_ExplainStmt:
            return classify_explain(castNode(ExplainStmt, stmt));
        case T_CopyStmt:
            return castNode(CopyStmt, stmt)->is_from ? UtilityWrites::CopyFrom
                                                     : UtilityWrites::None;
        case T_TruncateStmt:
            return UtilityWrites::Truncate;
        case T_CreateTableAsStmt:
            return creates_temp_table(stmt) ? UtilityWrites::None : UtilityWrites::Global;
        case T_CreateStmt:
            return castNode(CreateStmt, stmt)->relation->relpersistence == RELPERSISTENCE_TEMP
                       ? UtilityWrites::None
                       : UtilityWrites::Global;
        default:
            return UtilityWrites::Global;
    }
}

// Tables this backend holds ROW EXCLUSIVE or a stronger lock on (locks last until the
// transaction ends): a superset of what a COPY FROM just wrote, whatever name lookups it made.
// Returns how many tables it noted.
int note_locked_for_write() {
    constexpr LOCKMASK kWriteModes = LOCKBIT_ON(RowExclusiveLock) |
                                     LOCKBIT_ON(ShareUpdateExclusiveLock) | LOCKBIT_ON(ShareLock) |
                                     LOCKBIT_ON(ShareRowExclusiveLock) |
                                     LOCKBIT_ON(ExclusiveLock) | LOCKBIT_ON(AccessExclusiveLock);
    LockData *locks = GetLockStatusData();
    int noted = 0;
    for (int i = 0; i < locks->nelements; i++) {
        const LockInstanceData &l = locks->locks[i];
        if (l.pid != MyProcPid || (l.holdMask & kWriteModes) == 0) continue;
        if (l.locktag.locktag_type != LOCKTAG_RELATION) continue;
        if (l.locktag.locktag_field1 != MyDatabaseId) continue;
        Oid relid = l.locktag.locktag_field2;
        char kind = get_rel_relkind(relid);
        if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE &&
            kind != RELKIND_MATVIEW && kind != RELKIND_FOREIGN_TABLE)
            continue;  // indexes, sequences, TOAST: their tables are what is read
        note_write(relid);
        noted++;
    }
    pfree(locks->locks);
    pfree(locks);
    return noted;
}

object_access_hook_type prev_object_access = nullptr;
int g_truncates_noted = 0;  // OAT_TRUNCATE calls seen (a statement checks it saw at least one)

bool relation_is_temp(Oid relid) {
    // The relation may have been created by the current command, which no catalog cache lookup
    // sees yet: read pg_class with SnapshotSelf, as sepgsql's post-create hook does. Not found
    // counts as not temporary.
    Relation pg_class = table_open(RelationRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_class_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
    SysScanDesc scan = systable_beginscan(pg_class, ClassOidIndexId, true, SnapshotSelf, 1, &key);
    HeapTuple tup = systable_getnext(scan);
    bool temp = HeapTupleIsValid(tup) &&
                reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relpersistence ==
                    RELPERSISTENCE_TEMP;
    systable_endscan(scan);
    table_close(pg_class, AccessShareLock);
    return temp;
}

void object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg) {
    // Called often (function execution, namespace searches): leave everything else at once.
    if (access == OAT_TRUNCATE) {
        // Called by TRUNCATE for every relation it empties, as the statement resolved it.
        guarded([&] {
            g_truncates_noted++;
            g_noting_unsafe = true;
            note_write(object_id);
            g_noting_unsafe = false;
        });
    } else if (access == OAT_POST_CREATE && class_id == RelationRelationId && !g_local.global) {
        // A relation (or column) created, by whatever path: a table filled by CREATE TABLE AS,
        // the new heap of a rewrite, a catalog change plans depend on.
        guarded([&] {
            if (!relation_is_temp(object_id)) note_global();
        });
    }
    if (prev_object_access != nullptr) prev_object_access(access, class_id, object_id, sub_id, arg);
}

void process_utility(PlannedStmt *pstmt, const char *query, bool read_only_tree,
                     ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *env,
                     DestReceiver *dest, QueryCompletion *qc) {
    Node *stmt = pstmt->utilityStmt;
    UtilityWrites writes = UtilityWrites::None;
    int truncates_before = g_truncates_noted;
    guarded([&] {
        writes = classify(stmt);
        if (writes == UtilityWrites::Global) note_global();
    });
    if (prev_process_utility != nullptr)
        prev_process_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    guarded([&] {
        switch (writes) {
            case UtilityWrites::None:
                break;
            case UtilityWrites::Global:
                // Again: a statement that committed internally (DETACH PARTITION CONCURRENTLY,
                // ...) is in a later transaction now, whose writes must count too.
                note_global();
                break;
            case UtilityWrites::Truncate:
                // OAT_TRUNCATE named what it emptied; if nothing did (another object access
                // hook that does not chain), count it as a write of everything.
                if (g_truncates_noted == truncates_before) note_global();
                break;
            case UtilityWrites::CopyFrom:
                if (note_locked_for_write() == 0) note_global();
                break;
        }
    });
}

void forget_local() {
    g_noting_unsafe = false;
    g_local.n = 0;
    g_local.global = false;
    g_local.nregs = 0;
    g_local.fxid = InvalidFullTransactionId;
}

// A background worker other than a parallel worker (which never commits on its own) may write
// tables without a statement of any session: logical replication apply and table sync workers
// do, and so may other extensions' workers. Anything not understood counts as a write of
// everything.
bool writes_without_statements() {
    return IsLogicalWorker() || (MyBackendType == B_BG_WORKER && !IsParallelWorker());
}

void register_writes() {
    g_local.nregs = 0;
    FullTransactionId fxid = GetTopFullTransactionIdIfAny();
    if (!FullTransactionIdIsValid(fxid)) return;  // no transaction id: nothing was written
    if (writes_without_statements()) note_global();
    if (!g_local.global && g_local.n == 0) return;
    g_local.fxid = fxid;
    bool global = g_local.global;
    for (int i = 0; i < g_local.n && !global; i++) {
        if (register_committer(g_local.relids[i], fxid, g_local.unsafe[i],
                               &g_local.regs[g_local.nregs]))
            g_local.nregs++;
        else
            global = true;  // no free entry: count it as a write of everything
    }
    // A global write may have rewritten tables (ALTER TABLE ... TYPE): not MVCC-safe. So may a
    // logical replication worker's transaction: it applies TRUNCATE through
    // ExecuteTruncateGuts, which calls no hook, and a snapshot that does not see that commit
    // reads the emptied table anyway.
    bool unsafe = g_local.global;
    for (int i = 0; i < g_local.n && !unsafe; i++) unsafe = global && g_local.unsafe[i];
    if (global && register_committer(kGlobalRelid, fxid, unsafe, &g_local.regs[g_local.nregs]))
        g_local.nregs++;
}

void poison_writes() {
    if (!FullTransactionIdIsValid(GetTopFullTransactionIdIfAny())) return;
    if (writes_without_statements()) note_global();
    if (g_local.global) {
        poison_relation(kGlobalRelid);
        return;
    }
    for (int i = 0; i < g_local.n; i++) poison_relation(g_local.relids[i]);
}

void xact_callback(XactEvent event, void *) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
            register_writes();
            break;
        case XACT_EVENT_COMMIT:
            // After ProcArrayEndTransaction: the commit is visible; count it. Cannot fail.
            if (g_debug_commit_pause && g_local.nregs > 0) debug_pause();
            count_commits(g_local.regs, g_local.nregs, g_local.fxid);
            forget_local();
            break;
        case XACT_EVENT_ABORT:
            drop_committers(g_local.regs, g_local.nregs, g_local.fxid);
            forget_local();
            break;
        case XACT_EVENT_PRE_PREPARE:
            poison_writes();
            break;
        case XACT_EVENT_PREPARE:
            forget_local();
            break;
        default:
            break;
    }
}

}  // namespace

void install_write_tracking() {
    prev_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = executor_start;
    prev_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = process_utility;
    prev_object_access = object_access_hook;
    object_access_hook = object_access;
    RegisterXactCallback(xact_callback, nullptr);
}

void define_write_tracking_gucs() {
    DefineCustomBoolVariable("parallel_material.debug_commit_pause",
                             "Test only: a writer waits after its commit is visible, before it is "
                             "counted, for the advisory lock (20557, 1).",
                             nullptr, &g_debug_commit_pause, false, PGC_SUSET,
                             GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

void record_relation_write(Oid relid) { note_write(relid); }

bool own_transaction_wrote(Oid relid) {
    if (g_local.global) return true;
    if (relid == kGlobalRelid) return false;
    for (int i = 0; i < g_local.n; i++)
        if (g_local.relids[i] == relid) return true;
    return false;
}

}  // namespace pm::pg
