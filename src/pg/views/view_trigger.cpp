// view_trigger.cpp — the maintenance trigger of maintained views (docs/views.md, "Maintenance")
// and the maintenance run itself. Each input carries, per view, BEFORE and AFTER statement
// triggers for INSERT, UPDATE, DELETE and TRUNCATE calling _view_trigger(viewid); the AFTER ones
// of INSERT/UPDATE/DELETE reference the statement's transition tables. When the last open
// statement on the view's inputs ends (view_pending.cpp), the run
//   * switches to the view table's owner (SECURITY_RESTRICTED_OPERATION) and pins search_path
//     and the settings output functions read (pin_view_settings), as REFRESH MATERIALIZED VIEW
//     does for the first two;
//   * registers the copied transition tables as ephemeral named relations and runs the delta
//     query (view_delta.cpp) through SPI; while it runs, ArrangementJoin may trust the
//     arrangements of the view's inputs although this statement's AFTER events are still queued
//     (maintenance_trusts: every row-level event of the writing statements has fired);
//   * nets and applies the result to the view table (view_apply.cpp), in the writing
//     transaction; a TRUNCATE of an input recomputes the view instead.
#include "pg/guard.hpp"
#include "pg/views/views.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "portability/instr_time.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

extern "C" {
PGDLLEXPORT Datum pm_view_trigger(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_view_trigger);
}

namespace pm::pg::views {

namespace {

// The inputs whose arrangements a running delta query may trust (maintenance_trusts); set only
// around the delta query, cleared after it and on any (sub)transaction abort.
Oid g_trusted[64];
int g_ntrusted = 0;
bool g_debug_explain = false;

void trust(const PgArray<Oid> &relids) {
    g_ntrusted = 0;
    for (Oid r : relids)
        if (g_ntrusted < 64) g_trusted[g_ntrusted++] = r;
}


// EXPLAIN ANALYZE of the delta query, the lines about arrangements as NOTICEs (a test aid).
void explain_delta(const char *sql) {
    int rc = SPI_execute(psprintf("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) %s", sql),
                         false, 0);
    if (rc < 0) elog(ERROR, "EXPLAIN of the delta query failed (%d)", rc);
    for (uint64 i = 0; i < SPI_processed; ++i) {
        char *line = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
        if (line == nullptr) continue;
        if (strstr(line, "ArrangementJoin") == nullptr && strstr(line, "Arrangement:") == nullptr &&
            strstr(line, "Heap Columns:") == nullptr && strstr(line, "Fallback") == nullptr)
            continue;
        while (*line == ' ' || *line == '-' || *line == '>') ++line;
        // PostgreSQL 18 prints row counts with two decimals ("rows=2.00"): drop a ".00" after
        // "rows=N" so the notice reads the same on every version.
        for (char *r = strstr(line, "rows="); r != nullptr; r = strstr(r + 5, "rows=")) {
            char *d = r + 5;
            while (*d >= '0' && *d <= '9') ++d;
            if (d > r + 5 && strncmp(d, ".00", 3) == 0 && !(d[3] >= '0' && d[3] <= '9'))
                memmove(d, d + 3, strlen(d + 3) + 1);
        }
        ereport(NOTICE, (errmsg("delta plan: %s", line)));
    }
}

// Registers one ephemeral relation per (input, inserted|deleted), merging the stashes of several
// statements; returns what the delta query can read.
PgArray<DeltaInput> register_deltas(Pending &p) {
    PgArray<DeltaInput> out;
    for (int i = 0; i < p.stashes.size(); ++i) {
        Stash &s = p.stashes[i];
        bool seen = false;
        for (const auto &d : out)
            if (d.relid == s.relid && d.deleted == s.deleted) seen = true;
        if (seen) continue;
        Tuplestorestate *ts = s.rows;
        int64 n = s.nrows;
        Relation rel = nullptr;  // opened only to merge the stashes of several statements
        TupleTableSlot *slot = nullptr;
        for (int j = i + 1; j < p.stashes.size(); ++j) {
            Stash &o = p.stashes[j];
            if (o.relid != s.relid || o.deleted != s.deleted || o.nrows == 0) continue;
            if (rel == nullptr) rel = relation_open(s.relid, NoLock);
            if (slot == nullptr) slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
            tuplestore_rescan(o.rows);
            while (tuplestore_gettupleslot(o.rows, true, false, slot)) {
                tuplestore_puttupleslot(ts, slot);
                ++n;
            }
        }
        if (slot != nullptr) ExecDropSingleTupleTableSlot(slot);
        if (rel != nullptr) relation_close(rel, NoLock);
        // An empty part (an UPDATE or DELETE that matched nothing, an INSERT ... ON CONFLICT DO
        // NOTHING that inserted nothing) contributes nothing to any inclusion-exclusion term:
        // it is left out, so its terms are neither deparsed, planned nor run.
        if (n == 0) continue;
        tuplestore_rescan(ts);
        EphemeralNamedRelation enr =
            static_cast<EphemeralNamedRelation>(palloc0(sizeof(EphemeralNamedRelationData)));
        enr->md.name = delta_enr_name(s.relid, s.deleted);
        enr->md.reliddesc = s.relid;
        enr->md.tupdesc = nullptr;
        enr->md.enrtype = ENR_NAMED_TUPLESTORE;
        enr->md.enrtuples = static_cast<double>(n);
        enr->reldata = ts;
        if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
            elog(ERROR, "SPI_register_relation failed");
        out.push(DeltaInput{s.relid, s.deleted, n});
    }
    return out;
}

}  // namespace

// The OID of the extension's function parallel_material.<name>() (no arguments); a clear error
// when an older version of the extension's SQL lacks it.
Oid extension_function_oid(const char *name) {
    Oid nsp = get_namespace_oid("parallel_material", false);
    Oid fn = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum(name),
                             PointerGetDatum(buildoidvector(nullptr, 0)), ObjectIdGetDatum(nsp));
    if (!OidIsValid(fn))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                        errmsg("parallel_material.%s() is missing", name),
                        errhint("ALTER EXTENSION parallel_material UPDATE.")));
    return fn;
}

// Runs one utility or DML statement through SPI (its own connection).
void run_view_sql(const char *sql) {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute(sql, false, 0);
    if (rc < 0) elog(ERROR, "SPI_execute failed (%d): %s", rc, sql);
    SPI_finish();
}

void maintain_changes(int64 viewid, Oid firing_relid, Pending &p) {
    ViewDef vd;
    if (!load_view_def_cached(viewid, &vd)) {  // dropped meanwhile (its triggers go with it)
        release_pending(p);
        return;
    }
    if (OidIsValid(firing_relid) && !vd.relids.contains(firing_relid))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("_view_trigger fired on a table that is not an input of view %lld",
                               static_cast<long long>(viewid))));
    // Statements that changed no row (an UPDATE or DELETE matching nothing, an INSERT ... ON
    // CONFLICT DO NOTHING that met only conflicts): the view is unchanged. Counted as maintained,
    // without the owner switch, settings, locks or the delta query.
    bool any_rows = p.truncated;
    for (const Stash &s : p.stashes) any_rows = any_rows || s.nrows > 0;
    if (!any_rows) {
        release_pending(p);
        stats_note(viewid, 0, 0);
        return;
    }
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(vd.viewrel));
    if (!HeapTupleIsValid(tup)) {
        release_pending(p);
        return;
    }
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);

    instr_time start, elapsed;
    INSTR_TIME_SET_CURRENT(start);
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                      SECURITY_RESTRICTED_OPERATION);
    int level = pin_view_settings_where_needed();  // the writer's settings cannot change the delta
    int64 changed = 0;
    Relation viewrel = table_open(vd.viewrel, RowExclusiveLock);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    // Every input locked (the writer holds its own; the others would be locked by the planner):
    // invalidations of DDL committed meanwhile are processed here, before the cached SQL text
    // and plans are looked up, and no DDL changes an input until the transaction ends.
    for (Oid relid : vd.relids) LockRelationOid(relid, AccessShareLock);
    char *sql = nullptr, *key = nullptr;
    PgArray<DeltaInput> deltas;
    bool small = true;
    bool unchanged = false;  // no row changed (every part empty): nothing to lock, run or apply
    if (!p.truncated) {
        deltas = register_deltas(p);
        unchanged = deltas.empty();
    }
    if (!p.truncated && !unchanged) {
        if (is_one_row_view(vd.query)) lock_one_row_view(viewid);  // first: no deadlock with keys
        LeftJoins ljs;
        if (left_joins(vd.query, &ljs, false) > 0) {
            // The per-key recompute reads the view table: row-level security that the owner
            // forced on it could hide rows from that read and leave the view silently wrong.
            bool b_changed = false;
            for (const DeltaInput &d : deltas)
                for (int k = 0; k < ljs.n; ++k) b_changed = b_changed || d.relid == ljs.j[k].b_relid;
            if (b_changed && viewrel->rd_rel->relrowsecurity && viewrel->rd_rel->relforcerowsecurity)
                ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                                errmsg("maintained view \"%s\" has forced row-level security",
                                       RelationGetRelationName(viewrel)),
                                errdetail("A LEFT JOIN view's maintenance reads its table."),
                                errhint("ALTER TABLE ... NO FORCE ROW LEVEL SECURITY.")));
            register_left_keys(ljs, deltas);  // pm_lkeys[<k>]
        }
        lock_delta_keys(viewid, vd.query, p);  // before any snapshot of the delta query
        key = delta_cache_key(viewid, deltas);
        sql = delta_query_sql_cached(viewid, vd.query, deltas, vd.viewrel, key);
        for (const DeltaInput &d : deltas) small = small && d.nrows <= kSmallDelta;
    }
    if (unchanged) {
        changed = 0;
    } else if (sql == nullptr) {
        changed = recompute(vd.viewrel, view_fill_sql(vd.query));
    } else {
        trust(vd.relids);
        // A small change of one input: the arrangements probed directly (view_direct.cpp),
        // unless the debug EXPLAIN of the SQL delta query is asked for.
        SPITupleTable *rows = nullptr;
        uint64 nrows = 0;
        if (g_debug_explain || !direct_delta(viewid, vd, p, deltas, &rows, &nrows)) {
            if (g_debug_explain) explain_delta(sql);
            SPIPlanPtr plan = small ? cached_plan(key, sql) : nullptr;
            int rc = run_delta_query(sql, plan);
            if (rc != SPI_OK_SELECT) elog(ERROR, "view delta query failed (%d)", rc);
            rows = SPI_tuptable;
            nrows = SPI_processed;
        }
        reset_trust();
        changed = is_aggregate_query(vd.query)
                      ? apply_aggregate_delta(viewrel, vd.query, rows, nrows)
                      : apply_delta(viewrel, rows, nrows);
    }
    SPI_finish();
    table_close(viewrel, NoLock);
    unpin_view_settings(level);
    SetUserIdAndSecContext(save_user, save_sec);
    release_pending(p);
    INSTR_TIME_SET_CURRENT(elapsed);
    INSTR_TIME_SUBTRACT(elapsed, start);
    stats_note(viewid, static_cast<uint64>(changed), static_cast<int64>(INSTR_TIME_GET_MICROSEC(elapsed)));
}

namespace {

void maintain(int64 viewid, Oid firing_relid) {
    Pending p = take_pending(viewid);
    maintain_changes(viewid, firing_relid, p);
}

Datum trigger_entry(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("_view_trigger must be called as a trigger")));
    TriggerData *td = reinterpret_cast<TriggerData *>(fcinfo->context);
    const Trigger *tg = td->tg_trigger;
    if (!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || tg->tgnargs != 1)
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("_view_trigger must be fired FOR EACH STATEMENT with one argument")));
    char *end = nullptr;
    long long viewid = strtoll(tg->tgargs[0], &end, 10);
    char prefix[48] = "pm_view_";  // "pm_view_<viewid>_", formatted without psprintf (every statement)
    int len = 8 + pg_lltoa(viewid, prefix + 8);
    prefix[len++] = '_';
    if (end == tg->tgargs[0] || *end != '\0' || viewid <= 0 ||
        strncmp(tg->tgname, prefix, static_cast<size_t>(len)) != 0)
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("_view_trigger fired by an unexpected trigger \"%s\"", tg->tgname)));
    if (TRIGGER_FIRED_BEFORE(td->tg_event)) {
        require_view_bound(viewid, td->tg_relation);  // restored triggers of an unbound view
        flush_row_changes(viewid);  // rows an apply worker wrote before this statement
        note_statement_start(viewid);
        return PointerGetDatum(nullptr);
    }
    Relation rel = td->tg_relation;
    bool done = note_statement_end(viewid, RelationGetRelid(rel), RelationGetDescr(rel),
                                   td->tg_oldtable, td->tg_newtable,
                                   TRIGGER_FIRED_BY_TRUNCATE(td->tg_event));
    if (done) maintain(viewid, RelationGetRelid(rel));
    return PointerGetDatum(nullptr);
}

}  // namespace

bool maintenance_trusts(Oid relid) {
    for (int i = 0; i < g_ntrusted; ++i)
        if (g_trusted[i] == relid) return true;
    return false;
}

void reset_trust() { g_ntrusted = 0; }

void trust_inputs(const PgArray<Oid> &relids) { trust(relids); }

void define_view_gucs() {
    DefineCustomBoolVariable(
        "parallel_material.debug_view_explain",
        "Reports the arrangement lines of each maintained view's delta plan (test aid).",
        "Runs EXPLAIN ANALYZE of the delta query before running it and reports the lines "
        "naming ArrangementJoin, arrangements or fallbacks as NOTICEs.",
        &g_debug_explain, false, PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
    define_view_lock_gucs();
    define_plan_cache_gucs();
    define_direct_gucs();
}

void create_view_triggers(int64 viewid, Oid viewrel, const PgArray<Oid> &relids) {
    Oid fn = extension_function_oid("_view_trigger");
    HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for _view_trigger");
    Oid owner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tup))->proowner;
    ReleaseSysCache(tup);
    struct Kind {
        const char *suffix;
        const char *event;
        const char *referencing;
    };
    static const Kind kinds[] = {
        {"bi", "BEFORE INSERT", ""},
        {"bu", "BEFORE UPDATE", ""},
        {"bd", "BEFORE DELETE", ""},
        {"bt", "BEFORE TRUNCATE", ""},
        {"ai", "AFTER INSERT", "REFERENCING NEW TABLE AS pm_new"},
        {"au", "AFTER UPDATE", "REFERENCING OLD TABLE AS pm_old NEW TABLE AS pm_new"},
        {"ad", "AFTER DELETE", "REFERENCING OLD TABLE AS pm_old"},
        {"at", "AFTER TRUNCATE", ""},
    };
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                      SECURITY_RESTRICTED_OPERATION);
    for (Oid relid : relids) {
        char *relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                                   get_rel_name(relid));
        for (const Kind &k : kinds) {
            char *name = psprintf("pm_view_%lld_%s", static_cast<long long>(viewid), k.suffix);
            run_view_sql(psprintf("CREATE TRIGGER %s %s ON %s %s FOR EACH STATEMENT EXECUTE FUNCTION "
                             "parallel_material._view_trigger('%lld')",
                             name, k.event, relname, k.referencing, static_cast<long long>(viewid)));
            run_view_sql(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER %s", relname, name));
            // The trigger goes when the view table goes (DROP TABLE of the view, drop_view).
            ObjectAddress trig{TriggerRelationId, get_trigger_oid(relid, name, false), 0};
            ObjectAddress view{RelationRelationId, viewrel, 0};
            recordDependencyOn(&trig, &view, DEPENDENCY_AUTO);
        }
        create_row_trigger(viewid, viewrel, relid, relname);  // view_row_changes.cpp
    }
    SetUserIdAndSecContext(save_user, save_sec);
    CommandCounterIncrement();
}

bool debug_explain() { return g_debug_explain; }

}  // namespace pm::pg::views

Datum pm_view_trigger(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] {
        return pm::pg::pg_call([&] { return pm::pg::views::trigger_entry(fcinfo); });
    });
}
