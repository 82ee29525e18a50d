// share_analysis.hpp — may a plan subtree's result be shared across sessions, and if not, why;
// and its normalized fingerprint (plan_fingerprint.cpp). See docs/shared-results.md.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "nodes/plannodes.h"
}

namespace pm::pg {

constexpr int kFingerprintBytes = 16;  // 128 bits

struct ShareVerdict {
    const char *reason = nullptr;  // nullptr: eligible
    Bitmapset *rtis = nullptr;     // range-table indexes of the relations the subtree scans
    Bitmapset *subplans = nullptr; // plan_ids of SubPlans / CTE plans it uses
};

// Analyzes the subtree rooted at plan (within stmt): eligible, or the first reason found.
ShareVerdict analyze_share(Plan *plan, PlannedStmt *stmt);

// Relation ids (pg_class oids) of the relations the subtree scans, from verdict.rtis.
List *shared_relation_oids(const ShareVerdict &verdict, PlannedStmt *stmt);

// The fingerprint of an eligible subtree: truncated SHA-256 of its canonical text (nodeToString
// with locations, costs, node ids and syntactic Var fields neutralized, followed by the
// relations its range-table indexes denote and the canonical text of every subplan it uses).
// False when hashing failed.
bool plan_fingerprint(Plan *plan, PlannedStmt *stmt, const ShareVerdict &verdict,
                      uint8 out[kFingerprintBytes]);
// The canonical text itself (palloc'd), for tests and for a registry that verifies hits.
char *plan_canonical_text(Plan *plan, PlannedStmt *stmt, const ShareVerdict &verdict);

}  // namespace pm::pg
