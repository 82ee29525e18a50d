// view_pending.cpp — changes of a view's inputs waiting for the end of the writing statements.
// Each input carries BEFORE and AFTER ... FOR EACH STATEMENT triggers: a BEFORE opens a
// statement, an AFTER copies its transition tables here and closes it. The view is maintained
// when the last open statement on its inputs closes: then every change of every input made by
// those statements (a writable CTE writing two inputs, a foreign-key cascade, a trigger writing
// another input) is joined at once with inclusion-exclusion against the inputs' current state,
// and every row-level event of those statements (the arrangements' deltas) has fired.
// Entries remember the subtransaction nesting level they were made at: a subtransaction that
// aborts drops its own (its writes are gone), one that commits hands them to its parent. At top
// level commit nothing may be left (checked: an error rather than a view silently behind).
#include "pg/views/views.hpp"

extern "C" {
#include "access/xact.h"
#include "executor/tuptable.h"
#include "utils/resowner.h"
}

namespace pm::pg::views {

namespace {

struct OpenStatement {
    int64 viewid;
    int level;
};
struct PendingStash {
    int64 viewid;
    int level;
    Stash stash;
};
struct PendingTruncate {
    int64 viewid;
    int level;
};

// In TopMemoryContext (set when the callbacks are registered, before any use).
PgArray<OpenStatement> g_open;
PgArray<PendingStash> g_stashes;
PgArray<PendingTruncate> g_truncates;
bool g_registered = false;

void forget_all() {
    reset_trust();
    g_open.n = 0;
    g_stashes.n = 0;  // memory and temp files go with the transaction
    g_truncates.n = 0;
}

void xact_callback(XactEvent event, void *) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PARALLEL_PRE_COMMIT:
        case XACT_EVENT_PRE_PREPARE:
            if (g_stashes.n > 0 || g_truncates.n > 0) {
                forget_all();
                ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                                errmsg("changes of a maintained view's inputs were not applied to it"),
                                errhint("This is a bug of parallel_material; the transaction is "
                                        "rolled back.")));
            }
            forget_all();
            break;
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
        case XACT_EVENT_PREPARE:
            forget_all();
            break;
    }
}

void subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
    int level = GetCurrentTransactionNestLevel();
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        reset_trust();
        int k = 0;
        for (int i = 0; i < g_open.n; ++i)
            if (g_open[i].level < level) g_open[k++] = g_open[i];
        g_open.n = k;
        k = 0;
        for (int i = 0; i < g_stashes.n; ++i) {
            if (g_stashes[i].level < level) g_stashes[k++] = g_stashes[i];
            else tuplestore_end(g_stashes[i].stash.rows);
        }
        g_stashes.n = k;
        k = 0;
        for (int i = 0; i < g_truncates.n; ++i)
            if (g_truncates[i].level < level) g_truncates[k++] = g_truncates[i];
        g_truncates.n = k;
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (auto &o : g_open)
            if (o.level >= level) o.level = level - 1;
        for (auto &s : g_stashes)
            if (s.level >= level) s.level = level - 1;
        for (auto &t : g_truncates)
            if (t.level >= level) t.level = level - 1;
    }
}

// Copies a transition table into a tuplestore of the top transaction (its temp files, if it
// spills, belong to the top transaction's resource owner, not to the statement's).
Stash copy_rows(Oid relid, bool deleted, TupleDesc desc, Tuplestorestate *src) {
    MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
    ResourceOwner oldowner = CurrentResourceOwner;
    CurrentResourceOwner = TopTransactionResourceOwner;
    Stash s{relid, deleted, tuplestore_begin_heap(false, false, work_mem), 0};
    TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
    int ptr = tuplestore_alloc_read_pointer(src, EXEC_FLAG_REWIND);
    tuplestore_select_read_pointer(src, ptr);
    tuplestore_rescan(src);
    while (tuplestore_gettupleslot(src, true, false, slot)) {
        tuplestore_puttupleslot(s.rows, slot);
        ++s.nrows;
    }
    tuplestore_select_read_pointer(src, 0);
    ExecDropSingleTupleTableSlot(slot);
    CurrentResourceOwner = oldowner;
    MemoryContextSwitchTo(old);
    return s;
}

}  // namespace

void register_xact_callbacks() {
    if (g_registered) return;
    g_open.cxt = g_stashes.cxt = g_truncates.cxt = TopMemoryContext;
    RegisterXactCallback(xact_callback, nullptr);
    RegisterSubXactCallback(subxact_callback, nullptr);
    g_registered = true;
}

void note_statement_start(int64 viewid) {
    register_xact_callbacks();
    g_open.push(OpenStatement{viewid, GetCurrentTransactionNestLevel()});
}

bool note_statement_end(int64 viewid, Oid relid, TupleDesc desc, Tuplestorestate *oldrows,
                        Tuplestorestate *newrows, bool truncated) {
    register_xact_callbacks();
    int level = GetCurrentTransactionNestLevel();
    if (oldrows != nullptr) g_stashes.push(PendingStash{viewid, level, copy_rows(relid, true, desc, oldrows)});
    if (newrows != nullptr) g_stashes.push(PendingStash{viewid, level, copy_rows(relid, false, desc, newrows)});
    if (truncated) g_truncates.push(PendingTruncate{viewid, level});
    // Close the latest open statement of this view (an AFTER without its BEFORE, e.g. triggers
    // created inside the statement, closes nothing).
    for (int i = g_open.n; i-- > 0;) {
        if (g_open[i].viewid == viewid) {
            for (int j = i + 1; j < g_open.n; ++j) g_open[j - 1] = g_open[j];
            --g_open.n;
            break;
        }
    }
    for (const auto &o : g_open)
        if (o.viewid == viewid) return false;
    return true;
}

bool statement_open(int64 viewid) {
    for (const auto &o : g_open)
        if (o.viewid == viewid) return true;
    return false;
}

Pending take_pending(int64 viewid) {
    Pending p;
    int k = 0;
    for (int i = 0; i < g_stashes.n; ++i) {
        if (g_stashes[i].viewid == viewid) p.stashes.push(g_stashes[i].stash);
        else g_stashes[k++] = g_stashes[i];
    }
    g_stashes.n = k;
    k = 0;
    for (int i = 0; i < g_truncates.n; ++i) {
        if (g_truncates[i].viewid == viewid) p.truncated = true;
        else g_truncates[k++] = g_truncates[i];
    }
    g_truncates.n = k;
    return p;
}

void release_pending(Pending &p) {
    for (Stash &s : p.stashes) tuplestore_end(s.rows);
    p.stashes.n = 0;
}

}  // namespace pm::pg::views
