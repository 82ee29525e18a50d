// share_planner.cpp — with parallel_material.enable on, after the ParallelMaterial pass, records
// on each ParallelMaterial node (custom_private gets one more element, a List
// ("share", verdict, fingerprint-hex), so the payload survives nodeToString to parallel workers)
// whether its child's result may be shared across sessions and, if so, its fingerprint.
// Also the sharing settings, the EXPLAIN VERBOSE line, and share_verdicts(query) for tests.
#include <cfloat>

#include "pg/share/share_planner.hpp"
#include "pg/compat.hpp"

#include "pg/gucs.hpp"
#include "pg/guard.hpp"
#include "pg/material/material_node.hpp"
#include "pg/share/share_analysis.hpp"
#include "pg/share/share_exec_privileges.hpp"
#include "pg/shmem.hpp"

extern "C" {
#include "nodes/makefuncs.h"
#include "tcop/tcopprot.h"
#include "utils/tuplestore.h"
}

extern "C" {
PGDLLEXPORT Datum pm_share_verdicts(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_share_verdicts);
}

namespace pm::pg {

ShareSettings share_settings;

namespace {

constexpr const char *kShareTag = "share";

const char *verdict_for(CustomScan *cs, PlannedStmt *stmt, char *hex, List **relids) {
    hex[0] = '\0';
    *relids = NIL;
    if (shared_state() == nullptr) return "parallel_material is not preloaded";
    Plan *child = static_cast<Plan *>(linitial(cs->custom_plans));
    // Admission by estimated cost, first: a cheap plan pays neither the analysis nor the
    // fingerprint, and never takes a registry entry.
    if (share_below_min_cost(child)) return kBelowMinCost;
    double bytes = child->plan_rows * static_cast<double>(child->plan_width);
    if (bytes > static_cast<double>(share_settings.share_max_kb) * 1024.0)
        return "estimated result larger than parallel_material.share_max_bytes";
    ShareVerdict v = analyze_share(child, stmt);
    if (v.reason != nullptr) return v.reason;
    uint8 fp[kFingerprintBytes];
    if (!plan_fingerprint(child, stmt, v, fp)) return "fingerprint failed";
    for (int i = 0; i < kFingerprintBytes; i++) snprintf(hex + 2 * i, 3, "%02x", fp[i]);
    *relids = shared_relation_oids(v, stmt);
    return nullptr;
}

List *find_annotation(CustomScan *cs) {
    ListCell *lc;
    foreach (lc, cs->custom_private) {
        Node *n = static_cast<Node *>(lfirst(lc));
        if (n != nullptr && IsA(n, List) &&
            (list_length(castNode(List, n)) == 4 || list_length(castNode(List, n)) == 5) &&
            IsA(linitial(castNode(List, n)), String) &&
            strcmp(strVal(linitial(castNode(List, n))), kShareTag) == 0)
            return castNode(List, n);
    }
    return NIL;
}

bool g_keep_unshared_sites = false;  // share_verdicts() is planning its query

void annotate(CustomScan *cs, PlannedStmt *stmt) {
    if (find_annotation(cs) != NIL) return;
    char hex[2 * kFingerprintBytes + 1];
    List *relids = NIL;
    const char *reason = verdict_for(cs, stmt, hex, &relids);
    List *note = list_make4(makeString(pstrdup(kShareTag)),
                            makeString(pstrdup(reason == nullptr ? "eligible" : reason)),
                            makeString(pstrdup(hex)), relids);
    // Issue 15: an eligible node's hit checks EXECUTE on its child's functions without
    // initializing it; the walk that finds them runs here, once per plan, and each execution
    // only checks the privileges (share_exec_privileges.hpp). A fifth element, when known.
    if (reason == nullptr) {
        if (List *summary = subtree_execute_summary(static_cast<Plan *>(linitial(cs->custom_plans))))
            note = lappend(note, summary);
    }
    cs->custom_private = lappend(cs->custom_private, note);
}

void visit(Plan *plan, PlannedStmt *stmt) {
    if (plan == nullptr) return;
    check_stack_depth();
    for_each_child(plan, [&](Plan **child, bool) { visit(*child, stmt); });
    if (IsA(plan, CustomScan) && castNode(CustomScan, plan)->methods == &material_scan_methods)
        annotate(castNode(CustomScan, plan), stmt);
}

// The annotated ParallelMaterial nodes of a plan tree, in plan order (a node before its child).
void gather(Plan *plan, List **out) {
    if (plan == nullptr) return;
    check_stack_depth();
    if (IsA(plan, CustomScan) && find_annotation(castNode(CustomScan, plan)) != NIL)
        *out = lappend(*out, plan);
    for_each_child(plan, [&](Plan **child, bool) { gather(*child, out); });
}

Datum share_verdicts(FunctionCallInfo fcinfo) {
    const char *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    ListCell *lc;
    foreach (lc, plan_and_find_shared_nodes(query)) {
        ShareAnnotation a;
        share_annotation(lfirst_node(CustomScan, lc), &a);
        Datum values[2];
        bool nulls[2] = {false, false};
        values[0] = CStringGetTextDatum(a.verdict);
        if (a.fingerprint_hex[0] == '\0')
            nulls[1] = true;
        else
            values[1] = CStringGetTextDatum(a.fingerprint_hex);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return static_cast<Datum>(0);
}

}  // namespace

void define_share_gucs() {
    DefineCustomBoolVariable(
        "parallel_material.share_across_sessions",
        "Lets sessions share the results of identical subplans over the same data.",
        "Needs parallel_material in shared_preload_libraries and parallel_material.enable.",
        &share_settings.share_across_sessions, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "parallel_material.share_max_bytes",
        "Largest estimated result of a subplan that may be shared across sessions.", nullptr,
        &share_settings.share_max_kb, 64 * 1024, 0, MAX_KILOBYTES, PGC_USERSET, GUC_UNIT_KB,
        nullptr, nullptr, nullptr);
    DefineCustomRealVariable(
        "parallel_material.share_min_cost",
        "Smallest estimated cost (the plan's total_cost) of a result shared across sessions.",
        "Cheaper candidates keep stock's plan: no fingerprint, no registry entry.",
        &share_settings.share_min_cost, 1000.0, 0.0, DBL_MAX, PGC_USERSET, 0, nullptr, nullptr,
        nullptr);
    // A postmaster setting can only be defined while preloading (loaded in a session, the
    // library has no shared memory anyway).
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomIntVariable(
        "parallel_material.shared_memory",
        "Shared memory for results shared across sessions (their tuple logs).",
        "0 disables the registry. Needs parallel_material in shared_preload_libraries.",
        &share_settings.shared_memory_kb, 64 * 1024, 0, MAX_KILOBYTES / 2, PGC_POSTMASTER,
        GUC_UNIT_KB, nullptr, nullptr, nullptr);
}

bool share_annotation(CustomScan *cs, ShareAnnotation *out) {
    List *note = find_annotation(cs);
    if (note == NIL) return false;
    out->verdict = strVal(lsecond(note));
    out->eligible = strcmp(out->verdict, "eligible") == 0;
    out->fingerprint_hex = strVal(lthird(note));
    out->relids = static_cast<List *>(lfourth(note));
    out->exec_summary = list_length(note) == 5 ? static_cast<List *>(list_nth(note, 4)) : NIL;
    return true;
}

List *plan_and_find_shared_nodes(const char *query) {
    List *raw = pg_parse_query(query);
    if (list_length(raw) != 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("exactly one statement expected")));
    List *queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, raw), query,
                                                       nullptr, 0, nullptr);
    List *nodes = NIL;
    ListCell *lc;
    foreach (lc, queries) {
        Query *q = lfirst_node(Query, lc);
        if (q->commandType == CMD_UTILITY) continue;
        g_keep_unshared_sites = true;
        PlannedStmt *stmt = nullptr;
        try {
            stmt = pg_call([&] {
                PlannedStmt *p = pg_plan_query(q, query, CURSOR_OPT_PARALLEL_OK, nullptr);
                // Issue 12: the privileges running the query needs (as EXPLAIN checks them), so
                // that share_verdicts()/share_keys() never answer for relations the caller
                // cannot read.
                (void)pm_exec_check_permissions(p);
                return p;
            });
        } catch (...) {
            g_keep_unshared_sites = false;
            throw;
        }
        g_keep_unshared_sites = false;
        gather(stmt->planTree, &nodes);
        ListCell *sp;
        foreach (sp, stmt->subplans) gather(static_cast<Plan *>(lfirst(sp)), &nodes);
    }
    return nodes;
}

bool annotate_share_site(CustomScan *cs, PlannedStmt *stmt) {
    annotate(cs, stmt);
    ShareAnnotation a;
    return share_annotation(cs, &a) && a.eligible;
}

bool share_keep_unshared_sites() { return g_keep_unshared_sites; }

const char *const kBelowMinCost = "estimated cost below parallel_material.share_min_cost";

bool share_below_min_cost(const Plan *plan) {
    return plan->total_cost < share_settings.share_min_cost;
}

void annotate_shared_nodes(PlannedStmt *stmt) {
    visit(stmt->planTree, stmt);
    ListCell *lc;
    foreach (lc, stmt->subplans) visit(static_cast<Plan *>(lfirst(lc)), stmt);
}

void explain_share_verdict(CustomScanState *node, ExplainState *es) {
    if (!es->verbose) return;
    List *note = find_annotation(reinterpret_cast<CustomScan *>(node->ss.ps.plan));
    if (note == NIL) return;
    const char *verdict = strVal(lsecond(note));
    if (strcmp(verdict, "eligible") == 0) {
        ExplainPropertyText("Cross-Session Sharing", "eligible", es);
    } else {
        char *text = psprintf("no (%s)", verdict);
        ExplainPropertyText("Cross-Session Sharing", text, es);
        pfree(text);
    }
}

}  // namespace pm::pg

Datum pm_share_verdicts(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::share_verdicts(fcinfo); });
}
