// write_tracking.cpp — which relations the current transaction writes, and the commit protocol
// that reports them to data_versions.cpp:
//   * ExecutorStart: every result relation of the plan (INSERT, UPDATE, DELETE, MERGE, also
//     through SPI, triggers and foreign-key actions, which all start executors);
//   * ProcessUtility: COPY FROM and TRUNCATE per relation; every other statement that may change
//     data or the meaning of a plan (DDL, CLUSTER, REFRESH MATERIALIZED VIEW, ...) as a write of
//     everything (the global entry); VACUUM (also FULL) changes no row a snapshot sees;
//   * a logical replication worker writes without executors: each of its commits is a write of
//     everything.
// Writes of a partitioned or inheritance parent count for every descendant, writes of a
// partition for its ancestors. At PRE_COMMIT the top-level transaction registers as an
// in-progress committer of each relation, at COMMIT (after the proc array says committed) it is
// counted, at ABORT unregistered; at PREPARE TRANSACTION the relations are poisoned.
#include "pg/write_tracking.hpp"

#include "pg/data_versions.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "replication/logicalworker.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
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

enum class UtilityWrites { None, Global, Named };

// What a utility statement may write. Named: the relations it names, resolved after it ran.
UtilityWrites classify(Node *stmt) {
    switch (nodeTag(stmt)) {
        case T_TransactionStmt:  // PREPARE TRANSACTION: see the PRE_PREPARE callback
        case T_VariableSetStmt:
        case T_VariableShowStmt:
        case T_ExplainStmt:  // EXPLAIN ANALYZE of a write starts an executor
        case T_DeclareCursorStmt:
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
        case T_ReindexStmt:
            return UtilityWrites::None;
        case T_VacuumStmt:
            // VACUUM and ANALYZE change no row any snapshot sees; VACUUM FULL rewrites the table
            // but keeps every version's xmin/xmax, so every snapshot still sees the same rows
            // (and it runs in transactions of its own, after this one has ended).
            return UtilityWrites::None;
        case T_CopyStmt: {
            auto *c = castNode(CopyStmt, stmt);
            return c->is_from ? UtilityWrites::Named : UtilityWrites::None;
        }
        case T_TruncateStmt:
            return castNode(TruncateStmt, stmt)->behavior == DROP_CASCADE ? UtilityWrites::Global
                                                                          : UtilityWrites::Named;
        case T_CreateStmt:
            return castNode(CreateStmt, stmt)->relation->relpersistence == RELPERSISTENCE_TEMP
                       ? UtilityWrites::None
                       : UtilityWrites::Global;
        default:
            return UtilityWrites::Global;
    }
}

void note_named(Node *stmt) {
    if (IsA(stmt, CopyStmt)) {
        auto *c = castNode(CopyStmt, stmt);
        if (c->relation != nullptr) note_write(RangeVarGetRelid(c->relation, NoLock, true));
        return;
    }
    if (IsA(stmt, TruncateStmt)) {
        ListCell *lc;
        g_noting_unsafe = true;
        foreach (lc, castNode(TruncateStmt, stmt)->relations)
            note_write(RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true));
        g_noting_unsafe = false;
    }
}

void process_utility(PlannedStmt *pstmt, const char *query, bool read_only_tree,
                     ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *env,
                     DestReceiver *dest, QueryCompletion *qc) {
    Node *stmt = pstmt->utilityStmt;
    UtilityWrites writes = UtilityWrites::None;
    guarded([&] {
        writes = classify(stmt);
        if (writes == UtilityWrites::Global) note_global();
    });
    if (prev_process_utility != nullptr)
        prev_process_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    // The statement holds its locks on what it wrote until the transaction ends, so the names
    // still resolve to the relations it wrote.
    if (writes == UtilityWrites::Named) guarded([&] { note_named(stmt); });
}

void forget_local() {
    g_local.n = 0;
    g_local.global = false;
    g_local.nregs = 0;
    g_local.fxid = InvalidFullTransactionId;
}

void register_writes() {
    g_local.nregs = 0;
    FullTransactionId fxid = GetTopFullTransactionIdIfAny();
    if (!FullTransactionIdIsValid(fxid)) return;  // no transaction id: nothing was written
    if (IsLogicalWorker()) note_global();
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
    // A global write may have rewritten tables (ALTER TABLE ... TYPE): not MVCC-safe. A logical
    // replication worker's transactions are ordinary row changes.
    bool unsafe = g_local.global && !IsLogicalWorker();
    if (global && register_committer(kGlobalRelid, fxid, unsafe, &g_local.regs[g_local.nregs]))
        g_local.nregs++;
}

void poison_writes() {
    if (!FullTransactionIdIsValid(GetTopFullTransactionIdIfAny())) return;
    if (IsLogicalWorker()) note_global();
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
