// view_row_changes.cpp — maintained views written without statements (docs/views.md, "Logical
// replication"). A logical replication apply worker writes the subscribed tables row by row with
// no INSERT/UPDATE/DELETE statement: it fires row-level triggers enabled ALWAYS or REPLICA (it
// runs with session_replication_role = replica), never the statement triggers with transition
// tables that maintain views elsewhere (TRUNCATE is different: it fires its statement triggers,
// which recompute the view as in any session).
// So each input of a view also carries pm_view_<id>_rr, AFTER INSERT OR UPDATE OR DELETE
// FOR EACH ROW, ENABLE REPLICA: in an ordinary session (session_replication_role = origin) the
// trigger is skipped when PostgreSQL checks its enabled state, before any event is queued or any
// function called. Where it fires, it keeps a row only when no statement of the view's inputs
// is open (a session under session_replication_role = replica runs statements: their statement
// triggers see the rows). The rows are kept per (view, input, deleted|inserted, subtransaction
// level) in tuplestores of the top transaction; a subtransaction that aborts drops its own. Before
// the transaction commits (or prepares), each view with rows is maintained once, for all of them,
// by the same delta machinery as a statement (maintain_changes). A statement trigger of the view
// (a TRUNCATE the worker applies) first maintains the rows collected before it, keeping order.
#include "pg/guard.hpp"
#include "pg/views/views.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

extern "C" {
PGDLLEXPORT Datum pm_view_row_trigger(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_view_row_trigger);
}

namespace pm::pg::views {

namespace {

struct RowStash {
    int64 viewid;
    int level;
    Stash stash;
};

PgArray<RowStash> g_rows;  // in TopMemoryContext (set at registration)
bool g_registered = false;

void forget_rows() { g_rows.n = 0; }  // the tuplestores go with the transaction's memory

// Maintains every view with collected rows (no rows: nothing to do). Views are taken one at a
// time: maintenance could, in principle, collect more rows (a view table written by it).
// Runs before commit, outside any statement: under a snapshot of its own (SPI needs an outer one).
void flush_all() {
    PushActiveSnapshot(GetTransactionSnapshot());
    while (g_rows.n > 0) flush_row_changes(g_rows[0].viewid);
    PopActiveSnapshot();
}

void xact_callback(XactEvent event, void *) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PRE_PREPARE:
            if (g_rows.n > 0) pm::pg::guarded([&] { pm::pg::pg_call([&] { flush_all(); }); });
            break;
        case XACT_EVENT_PARALLEL_PRE_COMMIT:
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
        case XACT_EVENT_PREPARE:
            forget_rows();
            break;
    }
}

void subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
    int level = GetCurrentTransactionNestLevel();
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        int k = 0;
        for (int i = 0; i < g_rows.n; ++i) {
            if (g_rows[i].level < level) g_rows[k++] = g_rows[i];
            else tuplestore_end(g_rows[i].stash.rows);
        }
        g_rows.n = k;
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (auto &r : g_rows)
            if (r.level >= level) r.level = level - 1;
    }
}

void register_callbacks() {
    if (g_registered) return;
    g_rows.cxt = TopMemoryContext;
    RegisterXactCallback(xact_callback, nullptr);
    RegisterSubXactCallback(subxact_callback, nullptr);
    g_registered = true;
}

// Appends the row in slot to the stash of (viewid, relid, deleted) at the current level.
void keep_row(int64 viewid, Oid relid, bool deleted, TupleTableSlot *slot) {
    int level = GetCurrentTransactionNestLevel();
    RowStash *target = nullptr;
    for (auto &r : g_rows)
        if (r.viewid == viewid && r.level == level && r.stash.relid == relid &&
            r.stash.deleted == deleted)
            target = &r;
    MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
    ResourceOwner oldowner = CurrentResourceOwner;
    CurrentResourceOwner = TopTransactionResourceOwner;  // temp files of a spill: the transaction's
    if (target == nullptr) {
        g_rows.push(RowStash{viewid, level, Stash{relid, deleted, tuplestore_begin_heap(false, false, work_mem), 0}});
        target = &g_rows[g_rows.n - 1];
    }
    tuplestore_puttupleslot(target->stash.rows, slot);
    ++target->stash.nrows;
    CurrentResourceOwner = oldowner;
    MemoryContextSwitchTo(old);
}

Datum row_trigger_entry(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("_view_row_trigger must be called as a trigger")));
    TriggerData *td = reinterpret_cast<TriggerData *>(fcinfo->context);
    const Trigger *tg = td->tg_trigger;
    if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
        tg->tgnargs != 1)
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("_view_row_trigger must be fired AFTER ... FOR EACH ROW with one argument")));
    char *end = nullptr;
    long long viewid = strtoll(tg->tgargs[0], &end, 10);
    char *name = psprintf("pm_view_%lld_rr", viewid);
    if (end == tg->tgargs[0] || *end != '\0' || viewid <= 0 || strcmp(tg->tgname, name) != 0)
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("_view_row_trigger fired by an unexpected trigger \"%s\"", tg->tgname)));
    // A statement of the view's inputs is open: its statement triggers see this row.
    if (statement_open(viewid)) return PointerGetDatum(nullptr);
    require_view_bound(viewid, td->tg_relation);  // restored triggers of an unbound view
    register_callbacks();
    Oid relid = RelationGetRelid(td->tg_relation);
    if (TRIGGER_FIRED_BY_INSERT(td->tg_event)) {
        keep_row(viewid, relid, false, td->tg_trigslot);
    } else if (TRIGGER_FIRED_BY_DELETE(td->tg_event)) {
        keep_row(viewid, relid, true, td->tg_trigslot);
    } else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event)) {
        keep_row(viewid, relid, true, td->tg_trigslot);
        keep_row(viewid, relid, false, td->tg_newslot);
    } else {
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("_view_row_trigger fired for an unexpected event")));
    }
    return PointerGetDatum(nullptr);
}


}  // namespace

void flush_row_changes(int64 viewid) {
    if (g_rows.n == 0) return;  // every statement trigger of every view passes here
    Pending p;
    p.stashes.cxt = TopTransactionContext;
    int k = 0;
    for (int i = 0; i < g_rows.n; ++i) {
        if (g_rows[i].viewid == viewid) p.stashes.push(g_rows[i].stash);
        else g_rows[k++] = g_rows[i];
    }
    g_rows.n = k;
    if (p.stashes.empty()) return;
    maintain_changes(viewid, InvalidOid, p);
}

void create_row_trigger(int64 viewid, Oid viewrel, Oid relid, const char *relname) {
    (void)extension_function_oid("_view_row_trigger");  // a clear error when the function is missing
    char *name = psprintf("pm_view_%lld_rr", static_cast<long long>(viewid));
    run_view_sql(psprintf("CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW "
                     "EXECUTE FUNCTION parallel_material._view_row_trigger('%lld')",
                     name, relname, static_cast<long long>(viewid)));
    run_view_sql(psprintf("ALTER TABLE %s ENABLE REPLICA TRIGGER %s", relname, name));
    ObjectAddress trig{TriggerRelationId, get_trigger_oid(relid, name, false), 0};
    ObjectAddress view{RelationRelationId, viewrel, 0};
    recordDependencyOn(&trig, &view, DEPENDENCY_AUTO);
}

}  // namespace pm::pg::views

Datum pm_view_row_trigger(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] {
        return pm::pg::pg_call([&] { return pm::pg::views::row_trigger_entry(fcinfo); });
    });
}
