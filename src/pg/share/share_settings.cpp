// share_settings.cpp — the settings digest of the registry key. Allowlist-style in reverse: the
// digest covers the current value of EVERY core setting a session can change, except those
// proven irrelevant to the rows and bytes of a shareable subtree (a whole group, or by name:
// see in_key and docs/shared-results.md, "Settings in the key"). A setting PostgreSQL adds later
// is in the key until someone argues it out. Not in it: settings of extensions (dotted names;
// a shareable subtree runs only built-in functions and plan nodes, none of which reads them),
// and settings no session can change on its own (internal, postmaster, sighup: one value for
// the whole cluster). The digest (SHA-256 over "name=value" lines) is cached with a copy of the
// values it was made from; each call compares the current values with the copy (one pass over
// about 40 variables, no allocation) and rehashes only when one differs.
#include "pg/share/share_settings.hpp"
#include "pg/compat.hpp"

#include "pg/guard.hpp"
#include "pg/share/share_settings_watch.hpp"

extern "C" {
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"
}

extern "C" {
PGDLLEXPORT Datum pm_share_settings_digest(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_share_settings_digest);
PGDLLEXPORT Datum pm_share_setting_in_key(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_share_setting_in_key);
}

namespace pm::pg {

namespace {

// Settings of the included groups that cannot change what a shareable subtree returns.
const char *const kIrrelevant[] = {
    // when an error is raised, not which rows
    "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
    "idle_session_timeout", "exit_on_error",
    // which messages reach the client; warnings of the parser
    "client_min_messages", "escape_string_warning",
    // conversion to the client's encoding happens when each session sends its rows, after the
    // shared node
    "client_encoding",
    // DDL, writes and VACUUM only
    "check_function_bodies", "default_tablespace", "temp_tablespaces",
    "default_table_access_method", "default_toast_compression", "gin_pending_list_limit",
    "vacuum_freeze_min_age", "vacuum_freeze_table_age", "vacuum_multixact_freeze_min_age",
    "vacuum_multixact_freeze_table_age", "vacuum_failsafe_age", "vacuum_multixact_failsafe_age",
    // the snapshot decides what is seen, and the data versions are part of the key (SERIALIZABLE
    // readers skip sharing)
    "default_transaction_isolation", "transaction_isolation", "default_transaction_read_only",
    "transaction_read_only", "default_transaction_deferrable", "transaction_deferrable",
    // each session's executor checks its own privileges before the node runs; tables with row
    // security and functions that read the user are never shared
    "role", "session_authorization",
    // how, not what: planning (the plan is in the fingerprint), JIT, tracing and debugging
    "force_parallel_mode", "debug_parallel_query", "jit_expressions", "jit_tuple_deforming", "jit_debugging_support",
    "jit_profiling_support", "jit_dump_bitcode", "trace_notify", "trace_sort",
    "backtrace_functions", "post_auth_delay", "debug_discard_caches",
};

bool in_key(const config_generic *g) {
    if (strchr(g->name, '.') != nullptr || (g->flags & GUC_CUSTOM_PLACEHOLDER) != 0) return false;
    switch (g->context) {
        case PGC_INTERNAL:
        case PGC_POSTMASTER:
        case PGC_SIGHUP:
            return false;  // the same in every session of the cluster (the database is in the key)
        default:
            break;
    }
    switch (pm_guc_group(g)) {
        case FILE_LOCATIONS:
        case CONN_AUTH_SETTINGS:
        case CONN_AUTH_AUTH:
        case CONN_AUTH_SSL:
        case RESOURCES_MEM:  // work_mem, hash_mem_multiplier, temp_buffers, ...: how, not what
        case RESOURCES_DISK:
        case RESOURCES_KERNEL:
        case RESOURCES_VACUUM_DELAY:
        case RESOURCES_BGWRITER:
        case RESOURCES_ASYNCHRONOUS:
        case WAL_SETTINGS:
        case WAL_CHECKPOINTS:
        case WAL_ARCHIVING:
        case WAL_RECOVERY:
        case WAL_ARCHIVE_RECOVERY:
        case WAL_RECOVERY_TARGET:
        case REPLICATION_SENDING:
        case REPLICATION_PRIMARY:
        case REPLICATION_STANDBY:
        case REPLICATION_SUBSCRIBERS:
        case QUERY_TUNING_METHOD:  // planning: a different plan has a different fingerprint
        case QUERY_TUNING_COST:
        case QUERY_TUNING_GEQO:
        case QUERY_TUNING_OTHER:
        case LOGGING_WHERE:
        case LOGGING_WHEN:
        case LOGGING_WHAT:  // application_name among them
        case PROCESS_TITLE:
        case STATS_MONITORING:
        case STATS_CUMULATIVE:
        case AUTOVACUUM:
        case LOCK_MANAGEMENT:
            return false;
        default:
            break;
    }
    for (const char *name : kIrrelevant)
        if (pg_strcasecmp(name, g->name) == 0) return false;
    return true;
}

struct Cached {
    config_generic *gen;
    bool b;
    int i;
    double r;
    char *s;  // in TopMemoryContext, nullptr for a NULL string
};

Cached *cache = nullptr;
int ncache = 0;
bool digest_valid = false;
uint8 digest[kSettingsDigestBytes];
uint64_t digest_generation = ~uint64_t{0};  // g_settings_generation when digest was last current

// The included variables, in name order; built once per process. Only core settings are
// included, and they are all defined before the first query and never replaced (an extension's
// definition replaces only placeholders, whose names have a dot), so a setting an extension
// defines later can never join the list. (Rebuilding when the number of settings changed cost a
// palloc'd copy of every setting per key on PostgreSQL 16+, where counting them means
// collecting them.)
void build_list() {
    int n;
    config_generic **vars = pm_guc_variables(&n);
    if (cache != nullptr) {
        for (int k = 0; k < ncache; k++)
            if (cache[k].s != nullptr) pfree(cache[k].s);
        pfree(cache);
    }
    cache = static_cast<Cached *>(MemoryContextAllocZero(TopMemoryContext, sizeof(Cached) * (n + 1)));
    ncache = 0;
    for (int k = 0; k < n; k++)
        if (in_key(vars[k])) cache[ncache++].gen = vars[k];
    digest_valid = false;
}

const char *string_value(const config_generic *g) {
    return *reinterpret_cast<const config_string *>(g)->variable;
}

bool same(const Cached &c) {
    const config_generic *g = c.gen;
    switch (g->vartype) {
        case PGC_BOOL:
            return *reinterpret_cast<const config_bool *>(g)->variable == c.b;
        case PGC_INT:
            return *reinterpret_cast<const config_int *>(g)->variable == c.i;
        case PGC_REAL:
            return *reinterpret_cast<const config_real *>(g)->variable == c.r;
        case PGC_ENUM:
            return *reinterpret_cast<const config_enum *>(g)->variable == c.i;
        case PGC_STRING: {
            const char *v = string_value(g);
            if (v == nullptr || c.s == nullptr) return v == c.s;
            return strcmp(v, c.s) == 0;
        }
    }
    return false;
}

// Copies the current value into c and appends "name=value\n" to buf.
void record(Cached &c, StringInfo buf) {
    const config_generic *g = c.gen;
    appendStringInfo(buf, "%s=", g->name);
    switch (g->vartype) {
        case PGC_BOOL:
            c.b = *reinterpret_cast<const config_bool *>(g)->variable;
            appendStringInfo(buf, "%d", c.b ? 1 : 0);
            break;
        case PGC_INT:
            c.i = *reinterpret_cast<const config_int *>(g)->variable;
            appendStringInfo(buf, "%d", c.i);
            break;
        case PGC_REAL:
            c.r = *reinterpret_cast<const config_real *>(g)->variable;
            appendStringInfo(buf, "%.17g", c.r);
            break;
        case PGC_ENUM:
            c.i = *reinterpret_cast<const config_enum *>(g)->variable;
            appendStringInfo(buf, "%d", c.i);
            break;
        case PGC_STRING: {
            const char *v = string_value(g);
            if (c.s != nullptr) pfree(c.s);
            c.s = v == nullptr ? nullptr : MemoryContextStrdup(TopMemoryContext, v);
            // length-prefixed: a value cannot forge the next line
            if (v == nullptr)
                appendStringInfoString(buf, "null");
            else
                appendStringInfo(buf, "%zu:%s", strlen(v), v);
            break;
        }
    }
    appendStringInfoChar(buf, '\n');
}

}  // namespace

bool settings_digest(uint8 out[kSettingsDigestBytes]) {
    if (cache == nullptr) build_list();
    // No setting in the key was assigned since the digest was last found current (the settings
    // watch bumps the generation at every assignment): no compare either. The compare was the
    // largest of the extension's own costs left in a hit at 64 clients (two calls per hit).
    const uint64_t generation = g_settings_generation;
    if (digest_valid && digest_generation == generation && settings_watch_complete()) {
        memcpy(out, digest, kSettingsDigestBytes);
        return true;
    }
    bool valid = digest_valid;
    for (int k = 0; k < ncache && valid; k++) valid = same(cache[k]);
    if (!valid) {
        digest_valid = false;  // until the copy and the digest agree again
        StringInfoData buf;
        initStringInfo(&buf);
        for (int k = 0; k < ncache; k++) record(cache[k], &buf);
        pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
        bool ok = ctx != nullptr && pg_cryptohash_init(ctx) == 0 &&
                  pg_cryptohash_update(ctx, reinterpret_cast<const uint8 *>(buf.data), buf.len) == 0 &&
                  pg_cryptohash_final(ctx, digest, sizeof(digest)) == 0;
        if (ctx != nullptr) pg_cryptohash_free(ctx);
        pfree(buf.data);
        digest_valid = ok;
        if (!ok) return false;
    }
    digest_generation = generation;
    memcpy(out, digest, kSettingsDigestBytes);
    return true;
}

bool setting_in_key(const config_generic *g) { return in_key(g); }

bool setting_in_key(const char *name) {
    int n;
    config_generic **vars = pm_guc_variables(&n);
    for (int k = 0; k < n; k++)
        if (pg_strcasecmp(vars[k]->name, name) == 0) return in_key(vars[k]);
    return false;
}

}  // namespace pm::pg

Datum pm_share_settings_digest(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] {
        uint8 d[pm::pg::kSettingsDigestBytes];
        if (!pm::pg::settings_digest(d)) ereport(ERROR, (errmsg("settings digest failed")));
        char hex[2 * pm::pg::kSettingsDigestBytes + 1];
        static const char digits[] = "0123456789abcdef";
        for (int i = 0; i < pm::pg::kSettingsDigestBytes; i++) {
            hex[2 * i] = digits[d[i] >> 4];
            hex[2 * i + 1] = digits[d[i] & 15];
        }
        hex[2 * pm::pg::kSettingsDigestBytes] = '\0';
        return CStringGetTextDatum(hex);
    });
}

Datum pm_share_setting_in_key(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] {
        return BoolGetDatum(pm::pg::setting_in_key(text_to_cstring(PG_GETARG_TEXT_PP(0))));
    });
}
