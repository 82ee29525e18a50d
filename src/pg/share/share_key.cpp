// share_key.cpp — builds core::ResultKey for a ParallelMaterial node and a snapshot from the
// planning annotation (fingerprint, scanned relations), the settings digest of this session at
// execution (share_settings.cpp) and the data versions; and the test function
// share_keys(query), which shows the key parts each node of a query gets now.
#include "pg/share/share_key.hpp"

#include <algorithm>

#include "pg/share/data_versions.hpp"
#include "pg/guard.hpp"
#include "pg/share/share_planner.hpp"
#include "pg/share/share_settings.hpp"

extern "C" {
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
}

extern "C" {
PGDLLEXPORT Datum pm_share_keys(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_share_keys);
}

namespace pm::pg {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// The key's fingerprint: SHA-256 of the plan fingerprint and the settings digest, truncated.
// A session whose settings differ in anything that may change the rows or their bytes gets
// another key (a crafted plan cannot reach another session's key without a SHA-256 collision).
// The mix is a pure function of its two inputs: the last few are remembered (compared in full,
// both inputs), so a hit of a cached plan with unchanged settings pays two memcmp, not a SHA-256
// (creating an OpenSSL digest context was 7% of a prepared hit's backend CPU: docs/shared-results.md,
// "Cost of a hit").
struct MixMemo {
    bool valid = false;
    uint8 fingerprint[sizeof(core::ResultKey::fingerprint)];
    uint8 settings[kSettingsDigestBytes];
    uint8 out[sizeof(core::ResultKey::fingerprint)];
};
constexpr int kMixMemos = 8;
MixMemo g_mix_memo[kMixMemos];
int g_mix_next = 0;

bool mix_settings(uint8_t *fingerprint, size_t n) {
    static_assert(sizeof(MixMemo::fingerprint) == sizeof(core::ResultKey::fingerprint));
    if (n != sizeof(MixMemo::fingerprint)) return false;
    uint8 settings[kSettingsDigestBytes];
    if (!settings_digest(settings)) return false;
    for (const MixMemo &m : g_mix_memo) {
        if (m.valid && memcmp(m.fingerprint, fingerprint, n) == 0 &&
            memcmp(m.settings, settings, sizeof(settings)) == 0) {
            memcpy(fingerprint, m.out, n);
            return true;
        }
    }
    uint8 out[PG_SHA256_DIGEST_LENGTH];
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    bool ok = ctx != nullptr && pg_cryptohash_init(ctx) == 0 &&
              pg_cryptohash_update(ctx, fingerprint, n) == 0 &&
              pg_cryptohash_update(ctx, settings, sizeof(settings)) == 0 &&
              pg_cryptohash_final(ctx, out, sizeof(out)) == 0;
    if (ctx != nullptr) pg_cryptohash_free(ctx);
    if (!ok) return false;
    MixMemo &m = g_mix_memo[g_mix_next];
    g_mix_next = (g_mix_next + 1) % kMixMemos;
    m.valid = false;
    memcpy(m.fingerprint, fingerprint, n);
    memcpy(m.settings, settings, sizeof(settings));
    memcpy(m.out, out, n);
    m.valid = true;
    memcpy(fingerprint, out, n);
    return true;
}

}  // namespace

const char *share_key_for(CustomScan *cs, Snapshot snapshot, core::ResultKey *key) {
    ShareAnnotation a;
    if (!share_annotation(cs, &a)) return "not analyzed (share_across_sessions was off at planning)";
    if (!a.eligible) return a.verdict;
    if (strlen(a.fingerprint_hex) != 2 * sizeof(key->fingerprint)) return "bad fingerprint";
    *key = core::ResultKey();
    for (size_t i = 0; i < sizeof(key->fingerprint); i++) {
        int hi = hex_value(a.fingerprint_hex[2 * i]), lo = hex_value(a.fingerprint_hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return "bad fingerprint";
        key->fingerprint[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    if (!mix_settings(key->fingerprint, sizeof(key->fingerprint))) return "settings digest failed";
    int n = list_length(a.relids);
    if (n > static_cast<int>(core::kMaxKeyRelations)) return "too many relations for a key";
    Oid relids[core::kMaxKeyRelations];
    int k = 0;
    ListCell *lc;
    foreach (lc, a.relids) relids[k++] = lfirst_oid(lc);
    std::sort(relids, relids + n);
    n = static_cast<int>(std::unique(relids, relids + n) - relids);
    VersionKey vk;
    uint64 versions[core::kMaxKeyRelations];
    if (const char *reason = compute_key_versions(relids, n, snapshot, &vk, versions)) return reason;
    key->generation = vk.generation;
    key->global_version = vk.global_version;
    key->database = MyDatabaseId;
    key->nrels = static_cast<uint32_t>(n);
    for (int i = 0; i < n; i++) {
        key->relids[i] = relids[i];
        key->versions[i] = versions[i];
    }
    return nullptr;
}

namespace {

Datum share_keys(FunctionCallInfo fcinfo) {
    const char *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    Snapshot snap = ActiveSnapshotSet() ? GetActiveSnapshot() : nullptr;
    ListCell *lc;
    foreach (lc, plan_and_find_shared_nodes(query)) {
        core::ResultKey key;
        const char *reason = share_key_for(lfirst_node(CustomScan, lc), snap, &key);
        Datum values[6];
        bool nulls[6] = {false, false, false, false, false, false};
        ShareAnnotation a;
        share_annotation(lfirst_node(CustomScan, lc), &a);
        values[0] = CStringGetTextDatum(a.verdict);
        if (reason == nullptr) {
            // The key's fingerprint (plan fingerprint mixed with the settings digest), as the
            // shared_results view shows it.
            char hex[2 * sizeof(key.fingerprint) + 1];
            for (size_t i = 0; i < sizeof(key.fingerprint); i++)
                snprintf(hex + 2 * i, 3, "%02x", key.fingerprint[i]);
            values[1] = CStringGetTextDatum(hex);
            values[2] = Int64GetDatum(static_cast<int64>(key.generation));
            values[3] = Int64GetDatum(static_cast<int64>(key.global_version));
            Datum *v = static_cast<Datum *>(palloc(sizeof(Datum) * (key.nrels + 1)));
            for (uint32_t i = 0; i < key.nrels; i++)
                v[i] = Int64GetDatum(static_cast<int64>(key.versions[i]));
            values[4] = PointerGetDatum(construct_array(v, static_cast<int>(key.nrels), INT8OID,
                                                        sizeof(int64), true, TYPALIGN_DOUBLE));
            nulls[5] = true;
        } else {
            nulls[1] = nulls[2] = nulls[3] = nulls[4] = true;
            values[5] = CStringGetTextDatum(reason);
        }
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return static_cast<Datum>(0);
}

}  // namespace

}  // namespace pm::pg

Datum pm_share_keys(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return pm::pg::share_keys(fcinfo); });
}
