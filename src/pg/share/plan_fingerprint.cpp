// plan_fingerprint.cpp — the normalized 128-bit fingerprint of a shareable plan subtree.
// Choice: nodeToString of the subtree (it prints every field, constants included as their
// bytes), with the fields that do not change the result neutralized (parse locations, costs and
// row estimates, plan node ids, syntactic Var positions), followed by what each range-table
// index it scans denotes (relation oid and kind: the same index means different tables in
// different queries) and, recursively, the canonical text of each subplan it uses (SubPlan
// expressions, InitPlans, CTEs: the plan text only names them by id). Hashed with SHA-256
// (PostgreSQL's pg_cryptohash), truncated to 128 bits, so that a crafted query cannot collide
// with another on purpose. A hand-written hash walk would have to list every node field;
// nodeToString already does, and stays right when PostgreSQL adds fields.
//
// Cost (issue 15: with a plan per query, the fingerprint was a third of a shared hit's CPU). The
// printed text ("raw text": the subtree's and its subplans' nodeToString output and the relation
// lines, before normalization) is built once, in one buffer; the fingerprint is a pure function
// of it. The last few raw texts and their fingerprints are remembered per process, and a raw
// text equal to one of them, byte for byte and in full, reuses its fingerprint: the
// normalization and SHA-256 run only for a plan text not seen recently. The cache is keyed on the
// whole printed plan, never on the query text: the same text planned under another search_path,
// role, setting or catalog state prints another plan (or other relation oids) and misses.
#include "pg/share/share_analysis.hpp"

extern "C" {
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "parser/parsetree.h"
#include "utils/memutils.h"
}

namespace pm::pg {

namespace {

// Field names whose value does not change what the subtree returns, by their first letter.
// Each name is preceded by " :" in the text and followed by a space, then its value.
struct Neutral {
    const char *name;  // without the ':', with the trailing space
    size_t len;
};
#define PM_NEUTRAL(s) {s, sizeof(s) - 1}
constexpr Neutral kNeutralL[] = {PM_NEUTRAL("location ")};
constexpr Neutral kNeutralP[] = {PM_NEUTRAL("plan_node_id "), PM_NEUTRAL("plan_rows "),
                                 PM_NEUTRAL("plan_width ")};
constexpr Neutral kNeutralS[] = {PM_NEUTRAL("startup_cost ")};
constexpr Neutral kNeutralT[] = {PM_NEUTRAL("total_cost ")};
constexpr Neutral kNeutralV[] = {PM_NEUTRAL("varnosyn "), PM_NEUTRAL("varattnosyn ")};
#undef PM_NEUTRAL

template <size_t N>
size_t match_any(const Neutral (&keys)[N], const char *name, const char *end) {
    for (const Neutral &key : keys) {
        if (static_cast<size_t>(end - name) >= key.len && memcmp(name, key.name, key.len) == 0)
            return key.len;
    }
    return 0;
}

// Length of the neutral field name starting at `name` (just after a " :"), or 0.
size_t neutral_key(const char *name, const char *end) {
    switch (*name) {
    case 'l': return match_any(kNeutralL, name, end);
    case 'p': return match_any(kNeutralP, name, end);
    case 's': return match_any(kNeutralS, name, end);
    case 't': return match_any(kNeutralT, name, end);
    case 'v': return match_any(kNeutralV, name, end);
    default: return 0;
    }
}

// Appends text[0, len) to buf with the values of the neutral fields replaced by "_", in one pass:
// the runs between neutral values are copied in one piece each. A neutral name can only be
// found where nodeToString starts a field: inside a printed token a space is escaped ("\ "), so
// " :location " never occurs within a name or string, and constants are printed as byte lists.
void append_normalized(StringInfo buf, const char *text, size_t len) {
    const char *end = text + len;
    const char *run = text;  // start of the text not yet appended
    const char *p = text;
    while (p < end) {
        p = static_cast<const char *>(memchr(p, ':', static_cast<size_t>(end - p)));
        if (p == nullptr) break;
        ++p;  // just after the ':'
        if (p - 2 < text || p[-2] != ' ') continue;
        size_t n = neutral_key(p, end);
        if (n == 0) continue;
        p += n;
        appendBinaryStringInfo(buf, run, static_cast<int>(p - run));
        while (p < end && *p != ' ' && *p != '}' && *p != ')') p++;
        appendStringInfoChar(buf, '_');
        run = p;
    }
    appendBinaryStringInfo(buf, run, static_cast<int>(end - run));
}

// The raw text: the subtree printed by outNode (what nodeToString prints), one line per scanned
// range-table index naming the relation it denotes, and each subplan it uses, printed the same
// way. The canonical text is exactly its normalization: the lines added here hold no ':', and a
// printed node ends with '}' or '>', so no neutral value runs into the next part.
size_t g_raw_size_hint = 8192;  // the largest raw text built so far (up to 1 MB), to size the buffer
constexpr size_t kMaxSizeHint = 1024 * 1024;

void build_raw_text(StringInfo buf, Plan *plan, PlannedStmt *stmt, const ShareVerdict &verdict) {
    initStringInfo(buf);
    enlargeStringInfo(buf, static_cast<int>(g_raw_size_hint));
    outNode(buf, plan);
    int rti = -1;
    while ((rti = bms_next_member(verdict.rtis, rti)) >= 0) {
        RangeTblEntry *rte = rt_fetch(rti, stmt->rtable);
        appendStringInfo(buf, "\nrte %d relid %u relkind %c inh %d", rti, rte->relid,
                         rte->relkind, rte->inh ? 1 : 0);
    }
    int id = -1;
    while ((id = bms_next_member(verdict.subplans, id)) >= 0) {
        appendStringInfo(buf, "\nsubplan %d ", id);
        outNode(buf, list_nth(stmt->subplans, id - 1));
    }
    size_t need = static_cast<size_t>(buf->len) + 1;
    if (need > g_raw_size_hint) g_raw_size_hint = need < kMaxSizeHint ? need : kMaxSizeHint;
}

// Per-process cache of recent raw texts and their fingerprints. An entry is used only when its
// text equals the new raw text in full (length, then memcmp). At most kCacheEntries texts of
// kCacheBytes in all (texts above kMaxCachedText are not kept); least recently used replaced.
constexpr int kCacheEntries = 8;
constexpr size_t kMaxCachedText = 256 * 1024;
constexpr size_t kCacheBytes = 512 * 1024;

struct CacheEntry {
    char *raw = nullptr;  // in g_cache_cxt; nullptr: empty
    size_t len = 0;
    uint64 used = 0;
    uint8 fp[kFingerprintBytes] = {};
};

CacheEntry g_cache[kCacheEntries];
uint64 g_cache_clock = 0;
size_t g_cache_bytes = 0;  // sum of the entries' len
MemoryContext g_cache_cxt = nullptr;

CacheEntry *least_recently_used() {
    CacheEntry *lru = nullptr;
    for (CacheEntry &e : g_cache)
        if (e.raw != nullptr && (lru == nullptr || e.used < lru->used)) lru = &e;
    return lru;
}

void cache_drop(CacheEntry *e) {
    pfree(e->raw);
    g_cache_bytes -= e->len;
    *e = CacheEntry();
}

CacheEntry *cache_lookup(const char *raw, size_t len) {
    for (CacheEntry &e : g_cache) {
        if (e.raw != nullptr && e.len == len && memcmp(e.raw, raw, len) == 0) {
            e.used = ++g_cache_clock;
            return &e;
        }
    }
    return nullptr;
}

void cache_store(const char *raw, size_t len, const uint8 fp[kFingerprintBytes]) {
    if (len > kMaxCachedText) return;
    if (g_cache_cxt == nullptr)
        g_cache_cxt = AllocSetContextCreate(TopMemoryContext, "parallel_material plan fingerprints",
                                            ALLOCSET_DEFAULT_SIZES);
    // Allocate before releasing anything: an allocation error leaves the cache as it was.
    char *copy = static_cast<char *>(MemoryContextAlloc(g_cache_cxt, len));
    memcpy(copy, raw, len);
    while (g_cache_bytes + len > kCacheBytes) cache_drop(least_recently_used());
    CacheEntry *victim = nullptr;
    for (CacheEntry &e : g_cache) {
        if (e.raw == nullptr) {
            victim = &e;
            break;
        }
    }
    if (victim == nullptr) {
        victim = least_recently_used();
        cache_drop(victim);
    }
    g_cache_bytes += len;
    victim->raw = copy;
    victim->len = len;
    victim->used = ++g_cache_clock;
    memcpy(victim->fp, fp, kFingerprintBytes);
}

bool sha256_128(const char *text, size_t len, uint8 out[kFingerprintBytes]) {
    uint8 digest[PG_SHA256_DIGEST_LENGTH];
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    bool ok = ctx != nullptr && pg_cryptohash_init(ctx) == 0 &&
              pg_cryptohash_update(ctx, reinterpret_cast<const uint8 *>(text), len) == 0 &&
              pg_cryptohash_final(ctx, digest, sizeof(digest)) == 0;
    if (ctx != nullptr) pg_cryptohash_free(ctx);
    if (ok) memcpy(out, digest, kFingerprintBytes);
    return ok;
}

}  // namespace

char *plan_canonical_text(Plan *plan, PlannedStmt *stmt, const ShareVerdict &verdict) {
    StringInfoData raw;
    build_raw_text(&raw, plan, stmt, verdict);
    // The normalized text is at most as long as the raw one: one allocation.
    StringInfoData buf;
    initStringInfo(&buf);
    enlargeStringInfo(&buf, raw.len + 1);
    append_normalized(&buf, raw.data, static_cast<size_t>(raw.len));
    pfree(raw.data);
    return buf.data;
}

bool plan_fingerprint(Plan *plan, PlannedStmt *stmt, const ShareVerdict &verdict,
                      uint8 out[kFingerprintBytes]) {
    StringInfoData raw;
    build_raw_text(&raw, plan, stmt, verdict);
    size_t len = static_cast<size_t>(raw.len);
    if (const CacheEntry *hit = cache_lookup(raw.data, len)) {
        memcpy(out, hit->fp, kFingerprintBytes);
        pfree(raw.data);
        return true;
    }
    StringInfoData canon;
    initStringInfo(&canon);
    enlargeStringInfo(&canon, raw.len + 1);
    append_normalized(&canon, raw.data, len);
    bool ok = sha256_128(canon.data, static_cast<size_t>(canon.len), out);
    pfree(canon.data);
    if (ok) cache_store(raw.data, len, out);
    pfree(raw.data);
    return ok;
}

}  // namespace pm::pg
