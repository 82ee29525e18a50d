// share_settings.hpp — the digest of the settings that can change the rows or the bytes of a
// shared result (docs/shared-results.md, "Settings in the key"). share_key_for mixes it into
// every registry key, so sessions with other values of those settings never share an entry.
#pragma once

#include "pg/pg.hpp"

struct config_generic;  // utils/guc_tables.h

namespace pm::pg {

constexpr int kSettingsDigestBytes = 32;  // SHA-256

// The digest of the current values of every setting in the key. Recomputed only when one of
// them changed since the last call (a compare of the cached values; cheap on every query).
// False when hashing failed.
bool settings_digest(uint8 out[kSettingsDigestBytes]);

// Whether the named setting is in the digest (for share_settings_in_key()).
bool setting_in_key(const char *name);
// Whether a setting (an entry of PostgreSQL's table of settings) is in the digest.
bool setting_in_key(const config_generic *g);

}  // namespace pm::pg
