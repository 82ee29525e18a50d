// share_settings_watch.cpp — the settings generation of share_settings_watch.hpp. Instead of
// hooking every path that can change a setting (SET/RESET/DISCARD through ProcessUtility,
// set_config() through the fmgr hook, functions' SET clauses, transaction and subtransaction
// aborts, configuration reloads, parallel workers restoring the leader's state, ...), it wraps
// the assign hook of each setting in the key: PostgreSQL calls a setting's assign hook at every
// assignment of its value, from every one of those paths (guc.c writes *variable only right
// after calling assign_hook: set_config_option, AtEOXact_GUC, ResetAllOptions,
// InitializeOneGUCOption). A wrapper bumps the generation and calls the original hook (none for
// most settings). Settings outside the key are left alone, so SET work_mem costs nothing here.
// The hook signature does not say which setting it is called for, so each wrapped setting gets
// its own wrapper: a template instance per slot, in pools per hook type. Should a future
// PostgreSQL have more settings in the key than a pool holds, the watch is incomplete and every
// check compares the digest (correct, slower; a WARNING says so once).
#include "pg/share/share_settings_watch.hpp"

#include <array>
#include <utility>

#include "pg/compat.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "utils/guc.h"
#include "utils/guc_tables.h"
}

namespace pm::pg {

uint64_t g_settings_generation = 0;

namespace {

bool g_complete = true;
bool g_installed = false;

template <typename V>
using AssignHook = void (*)(V, void *);

template <typename V, int N>
struct Pool {
    static inline AssignHook<V> original[N] = {};
    static inline int used = 0;

    template <int I>
    static void wrapper(V value, void *extra) {
        ++g_settings_generation;
        if (original[I] != nullptr) original[I](value, extra);
    }
    template <int... I>
    static constexpr std::array<AssignHook<V>, N> wrappers(std::integer_sequence<int, I...>) {
        return {&wrapper<I>...};
    }
    // Puts a wrapper in place of *hook; false when the pool is used up.
    static bool wrap(AssignHook<V> *hook) {
        static constexpr std::array<AssignHook<V>, N> all =
            wrappers(std::make_integer_sequence<int, N>{});
        if (used == N) return false;
        original[used] = *hook;
        *hook = all[used];
        used++;
        return true;
    }
};

// PostgreSQL 15 has about 350 core settings in all, 35 of them in the key (12 boolean,
// 9 integer or enum, 14 string).
using BoolPool = Pool<bool, 128>;
using IntPool = Pool<int, 192>;  // integer and enum settings
using RealPool = Pool<double, 32>;
using StringPool = Pool<const char *, 96>;

bool wrap(config_generic *g) {
    switch (g->vartype) {
        case PGC_BOOL:
            return BoolPool::wrap(&reinterpret_cast<config_bool *>(g)->assign_hook);
        case PGC_INT:
            return IntPool::wrap(&reinterpret_cast<config_int *>(g)->assign_hook);
        case PGC_REAL:
            return RealPool::wrap(&reinterpret_cast<config_real *>(g)->assign_hook);
        case PGC_STRING:
            return StringPool::wrap(&reinterpret_cast<config_string *>(g)->assign_hook);
        case PGC_ENUM:
            return IntPool::wrap(&reinterpret_cast<config_enum *>(g)->assign_hook);
    }
    return false;
}

}  // namespace

void install_settings_watch() {
    if (g_installed) return;
    g_installed = true;
    int n = 0;
    config_generic **vars = pm_guc_variables(&n);
    for (int k = 0; k < n; k++) {
        if (!setting_in_key(vars[k])) continue;
        if (!wrap(vars[k])) g_complete = false;
    }
    if (!g_complete)
        ereport(WARNING,
                (errmsg("parallel_material: more settings in the shared results key than the "
                        "settings watch holds; each row of a shared result compares the settings")));
}

bool settings_watch_complete() { return g_installed && g_complete; }

bool settings_watch_start(SettingsWatch *w) {
    const bool ok = pg_call([&] { return settings_digest(w->digest); });
    w->seen = g_complete && ok ? g_settings_generation : ~uint64_t{0};
    return ok;
}

bool settings_differ_now(SettingsWatch *w) {
    uint8 now[kSettingsDigestBytes];
    if (!pg_call([&] { return settings_digest(now); })) return true;
    if (memcmp(now, w->digest, kSettingsDigestBytes) != 0) return true;
    // Changed and changed back (a rolled-back subtransaction, a function's SET clause that ended):
    // the rows are computed with the key's settings again.
    if (g_complete) w->seen = g_settings_generation;
    return false;
}

}  // namespace pm::pg
