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
struct Neutral {
    const char *name;
    size_t len;
};
#define PM_NEUTRAL(s) {s, sizeof(s) - 1}
constexpr Neutral kNeutral[] = {
    PM_NEUTRAL(":location "),  PM_NEUTRAL(":plan_node_id "), PM_NEUTRAL(":startup_cost "),
    PM_NEUTRAL(":total_cost "), PM_NEUTRAL(":plan_rows "),   PM_NEUTRAL(":plan_width "),
    PM_NEUTRAL(":varnosyn "),  PM_NEUTRAL(":varattnosyn "),
};
#undef PM_NEUTRAL

// Length of the neutral field name at p (p points at a ':' preceded by a space), or 0.
size_t neutral_key(const char *p) {
    for (const Neutral &key : kNeutral) {
        if (p[1] == key.name[1] && p[2] == key.name[2] &&
            strncmp(p, key.name, key.len) == 0)
            return key.len;
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
    char *text = nodeToString(plan);
    // The normalized text is at most as long as the plan's (plus the lines below): one
    // allocation instead of doublings with copies.
    initStringInfo(&buf);
    enlargeStringInfo(&buf, static_cast<int>(strlen(text)) + 1024);
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
