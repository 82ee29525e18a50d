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
#include "pg/share/share_analysis.hpp"

extern "C" {
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "parser/parsetree.h"
}

namespace pm::pg {

namespace {

// Field names whose value does not change what the subtree returns.
const char *const kNeutral[] = {
    ":location ",  ":plan_node_id ", ":startup_cost ", ":total_cost ",
    ":plan_rows ", ":plan_width ",   ":varnosyn ",     ":varattnosyn ",
};

// Length of the neutral field name at p (p points at a ':' preceded by a space), or 0.
size_t neutral_key(const char *p) {
    for (const char *key : kNeutral) {
        size_t n = strlen(key);
        if (p[1] == key[1] && strncmp(p, key, n) == 0) return n;
    }
    return 0;
}

// Appends `text` to buf with the values of the neutral fields replaced by "_". Copies the runs
// between field names in one piece (a per-character append was a third of a shared hit's CPU
// with the simple protocol: docs/shared-results.md, "The hit path").
void append_normalized(StringInfo buf, const char *text) {
    const char *run = text;  // start of the text not yet appended
    const char *p = text;
    while ((p = strstr(p, " :")) != nullptr) {
        ++p;  // at the ':'
        size_t n = neutral_key(p);
        if (n == 0) continue;
        appendBinaryStringInfo(buf, run, static_cast<int>(p + n - run));
        p += n;
        while (*p != '\0' && *p != ' ' && *p != '}' && *p != ')') p++;
        appendStringInfoChar(buf, '_');
        run = p;
    }
    appendStringInfoString(buf, run);
}

}  // namespace

char *plan_canonical_text(Plan *plan, PlannedStmt *stmt, const ShareVerdict &verdict) {
    StringInfoData buf;
    initStringInfo(&buf);
    char *text = nodeToString(plan);
    append_normalized(&buf, text);
    pfree(text);
    int rti = -1;
    while ((rti = bms_next_member(verdict.rtis, rti)) >= 0) {
        RangeTblEntry *rte = rt_fetch(rti, stmt->rtable);
        appendStringInfo(&buf, "\nrte %d relid %u relkind %c inh %d", rti, rte->relid,
                         rte->relkind, rte->inh ? 1 : 0);
    }
    int id = -1;
    while ((id = bms_next_member(verdict.subplans, id)) >= 0) {
        appendStringInfo(&buf, "\nsubplan %d ", id);
        char *sub = nodeToString(list_nth(stmt->subplans, id - 1));
        append_normalized(&buf, sub);
        pfree(sub);
    }
    return buf.data;
}

bool plan_fingerprint(Plan *plan, PlannedStmt *stmt, const ShareVerdict &verdict,
                      uint8 out[kFingerprintBytes]) {
    char *text = plan_canonical_text(plan, stmt, verdict);
    uint8 digest[PG_SHA256_DIGEST_LENGTH];
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    bool ok = ctx != nullptr && pg_cryptohash_init(ctx) == 0 &&
              pg_cryptohash_update(ctx, reinterpret_cast<const uint8 *>(text), strlen(text)) == 0 &&
              pg_cryptohash_final(ctx, digest, sizeof(digest)) == 0;
    if (ctx != nullptr) pg_cryptohash_free(ctx);
    pfree(text);
    if (ok) memcpy(out, digest, kFingerprintBytes);
    return ok;
}

}  // namespace pm::pg
