// share_settings_watch.hpp — notices, at the cost of one integer compare, that a setting in the
// registry key (share_settings.cpp) may have changed while a shared node produces or reads
// (between two pulls of its rows: SET between two FETCHes of a cursor, set_config() or a
// function's SET clause while an outer query pulls a shared site, a rolled-back subtransaction).
// A backend-local generation number is bumped by every assignment of such a setting; a node
// remembers the generation and the settings digest of its key when its run starts and, per row,
// compares the generation (settings_may_differ); only when it moved is the digest compared.
// docs/shared-results.md, "Settings in the key", "Changes during a run".
#pragma once

#include <cstdint>

#include "pg/pg.hpp"
#include "pg/share/share_settings.hpp"

namespace pm::pg {

// Bumped by every assignment of a setting in the key (any source: SET, RESET, DISCARD,
// set_config(), a function's SET clause and its restoration, transaction and subtransaction
// ends that restore a value, a configuration reload). Backend-local.
extern uint64_t g_settings_generation __attribute__((visibility("hidden")));  // one load per check

struct SettingsWatch {
    uint64_t seen = ~uint64_t{0};  // the generation at which digest was last found current
    uint8 digest[kSettingsDigestBytes] = {};
};

// Wraps the assign hook of every setting in the key (once, from _PG_init).
void install_settings_watch();

// Whether every setting in the key is watched (the watch is installed and no pool ran out): then
// an unchanged g_settings_generation means no setting in the key was assigned.
bool settings_watch_complete();

// Starts watching: the current generation and settings digest. False when hashing failed.
// Throws PgException (C++ frames only).
bool settings_watch_start(SettingsWatch *w);

// The digest of the current settings differs from the watched one (the slow path of
// settings_may_differ). Throws PgException.
bool settings_differ_now(SettingsWatch *w);

// Per row: one compare while no setting in the key was assigned since the last check.
inline bool settings_may_differ(SettingsWatch *w) {
    return __builtin_expect(w->seen != g_settings_generation, 0) && settings_differ_now(w);
}

}  // namespace pm::pg
