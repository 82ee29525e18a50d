// view_plan_cache.cpp — per-backend prepared SPI plans of maintenance statements (docs/views.md,
// "Plan cache"): a view's delta query per (view id, which inputs have inserted / deleted rows) and
// its apply statements per (view table, statement), prepared once (SPI_prepare + SPI_keepplan)
// over the same ephemeral relation names and run with SPI_execute_plan, instead of parsing and
// planning the text for every small write. Only for small deltas (every part at most
// kSmallDelta rows): a plan is made for the row counts of the delta it was prepared for.
//
// Invalidation: every relcache invalidation (any relation: ALTER / DROP / rename of an input or
// the view table, ANALYZE), and every change of a function, operator, type or schema, marks the
// whole cache stale (the text of a plan names tables and columns as they were: PostgreSQL's own
// plan cache would re-analyze that old text). Stale plans are freed at the next lookup made while
// no cached plan is running (a maintenance run nested in another, through a trigger on the view
// table, bypasses the cache instead). A view id is never reused, so a view dropped and created
// again under the same name gets other keys.
#include "pg/views/views.hpp"
#include "pg/inval.hpp"

extern "C" {
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
}

namespace pm::pg::views {

namespace {

constexpr int kCachedPlans = 128;

struct CachedPlan {
    char *key;
    SPIPlanPtr plan;
};

CachedPlan *g_plans = nullptr;  // in g_cxt
int g_nplans = 0;
MemoryContext g_cxt = nullptr;
bool g_stale = false;
int g_busy = 0;  // cached plans running now (nested maintenance)
bool g_enabled = true;

void mark_stale() { g_stale = true; }

void free_all() {
    for (int i = 0; i < g_nplans; ++i)
        if (g_plans[i].plan != nullptr) SPI_freeplan(g_plans[i].plan);
    g_nplans = 0;
    g_stale = false;
}

}  // namespace

void define_plan_cache_gucs() {
    DefineCustomBoolVariable(
        "parallel_material.view_plan_cache",
        "Keeps prepared plans of maintained views' delta and apply statements per backend.",
        "Off: every maintenance run parses and plans its statements again (for comparison).",
        &g_enabled, true, PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

SPIPlanPtr cached_plan(const char *key, const char *sql) {
    if (!g_enabled) return nullptr;
    if (g_cxt == nullptr) {
        g_cxt = AllocSetContextCreate(CacheMemoryContext, "parallel_material view plans",
                                      ALLOCSET_SMALL_SIZES);
        g_plans = static_cast<CachedPlan *>(MemoryContextAllocZero(g_cxt, sizeof(CachedPlan) * kCachedPlans));
        pm::pg::on_plan_inval(mark_stale);
    }
    if (g_stale) {
        if (g_busy > 0) return nullptr;  // a cached plan is running: free nothing under it
        free_all();
    }
    for (int i = 0; i < g_nplans; ++i)
        if (strcmp(g_plans[i].key, key) == 0) return g_plans[i].plan;
    if (g_nplans == kCachedPlans) {
        if (g_busy > 0) return nullptr;
        free_all();
    }
    SPIPlanPtr plan = SPI_prepare(sql, 0, nullptr);
    if (plan == nullptr) elog(ERROR, "SPI_prepare of a view maintenance statement failed (%d)", SPI_result);
    // Invalidations processed while preparing (locks taken by the parser) may have marked the
    // cache stale already: then this plan is used once and freed with the others.
    if (SPI_keepplan(plan) != 0) elog(ERROR, "SPI_keepplan failed");
    g_plans[g_nplans].key = MemoryContextStrdup(g_cxt, key);
    g_plans[g_nplans].plan = plan;
    ++g_nplans;
    return plan;
}

SPIPlanPtr find_cached_plan(const char *key) {
    if (!g_enabled || g_cxt == nullptr || g_stale) return nullptr;  // cached_plan sorts it out
    for (int i = 0; i < g_nplans; ++i)
        if (strcmp(g_plans[i].key, key) == 0) return g_plans[i].plan;
    return nullptr;
}

int execute_cached_select(SPIPlanPtr plan, Snapshot snapshot, uint64 tcount) {
    ++g_busy;
    volatile int rc = 0;
    PG_TRY();
    {
        rc = snapshot != InvalidSnapshot
                 ? SPI_execute_snapshot(plan, nullptr, nullptr, snapshot, InvalidSnapshot, false, false, tcount)
                 : SPI_execute_plan(plan, nullptr, nullptr, false, static_cast<long>(tcount));
    }
    PG_FINALLY();
    { --g_busy; }
    PG_END_TRY();
    return rc;
}

int execute_cached(SPIPlanPtr plan) {
    ++g_busy;
    volatile int rc = 0;
    PG_TRY();
    { rc = SPI_execute_plan(plan, nullptr, nullptr, false, 0); }
    PG_FINALLY();
    { --g_busy; }
    PG_END_TRY();
    return rc;
}

}  // namespace pm::pg::views
