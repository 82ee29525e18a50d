// inval.cpp — one registration with PostgreSQL per invalidation kind, dispatching to the
// extension's caches (see inval.hpp for why).
#include "pg/inval.hpp"

extern "C" {
#include "utils/syscache.h"
}

namespace pm::pg {

namespace {

constexpr int kMaxFns = 16;

RelcacheCallbackFunction g_rel_fns[kMaxFns];
int g_nrel = 0;
bool g_rel_registered = false;

void dispatch_relcache(Datum, Oid relid) {
    for (int i = 0; i < g_nrel; ++i) g_rel_fns[i](static_cast<Datum>(0), relid);
}

struct SyscacheFns {
    int cacheid;
    int n;
    SyscacheCallbackFunction fns[kMaxFns];
};
constexpr int kMaxCaches = 8;
SyscacheFns g_sys[kMaxCaches];
int g_nsys = 0;

void dispatch_syscache(Datum arg, int cacheid, uint32 hashvalue) {
    const SyscacheFns &s = g_sys[DatumGetInt32(arg)];
    for (int i = 0; i < s.n; ++i) s.fns[i](static_cast<Datum>(0), cacheid, hashvalue);
}

void (*g_plan_fns[kMaxFns])();
int g_nplan = 0;

void plan_relcache(Datum, Oid) {
    for (int i = 0; i < g_nplan; ++i) g_plan_fns[i]();
}
void plan_syscache(Datum, int, uint32) {
    for (int i = 0; i < g_nplan; ++i) g_plan_fns[i]();
}

}  // namespace

void on_relcache_inval(RelcacheCallbackFunction fn) {
    for (int i = 0; i < g_nrel; ++i)
        if (g_rel_fns[i] == fn) return;
    if (g_nrel == kMaxFns) elog(ERROR, "parallel_material: too many relcache invalidation functions");
    if (!g_rel_registered) {
        CacheRegisterRelcacheCallback(dispatch_relcache, static_cast<Datum>(0));
        g_rel_registered = true;
    }
    g_rel_fns[g_nrel++] = fn;
}

void on_syscache_inval(int cacheid, SyscacheCallbackFunction fn) {
    int k = 0;
    while (k < g_nsys && g_sys[k].cacheid != cacheid) ++k;
    if (k == g_nsys) {
        if (g_nsys == kMaxCaches) elog(ERROR, "parallel_material: too many syscaches to follow");
        CacheRegisterSyscacheCallback(cacheid, dispatch_syscache, Int32GetDatum(k));
        g_sys[k].cacheid = cacheid;
        g_sys[k].n = 0;
        ++g_nsys;
    }
    SyscacheFns &s = g_sys[k];
    for (int i = 0; i < s.n; ++i)
        if (s.fns[i] == fn) return;
    if (s.n == kMaxFns) elog(ERROR, "parallel_material: too many syscache invalidation functions");
    s.fns[s.n++] = fn;
}

void on_plan_inval(void (*fn)()) {
    for (int i = 0; i < g_nplan; ++i)
        if (g_plan_fns[i] == fn) return;
    if (g_nplan == kMaxFns) elog(ERROR, "parallel_material: too many plan invalidation functions");
    if (g_nplan == 0) {
        on_relcache_inval(plan_relcache);
        const int caches[] = {PROCOID, OPEROID, TYPEOID, NAMESPACEOID};
        for (int cacheid : caches) on_syscache_inval(cacheid, plan_syscache);
    }
    g_plan_fns[g_nplan++] = fn;
}

}  // namespace pm::pg
