// share_allowlist.hpp — the allowlist of what a shareable plan subtree may use: functions,
// operators (and the support functions of their operator classes), types and indexes proven
// independent of the session. Each check returns nullptr when the object is on the list, else
// the reason (palloc'd, naming the object) that EXPLAIN VERBOSE prints. See
// docs/shared-results.md, "What may be shared: the verdict".
#pragma once

#include "pg/pg.hpp"

namespace pm::pg {

// parallel_material.debug_trust_immutable_functions (superuser, tests only, default off):
// user-defined IMMUTABLE functions count as allowed, so that a test can hold a producer with a
// gate function. Defined at load by define_share_allowlist_gucs().
void define_share_allowlist_gucs();

// A function is allowed when it is built-in (oid below FirstGenbkiObjectId: defined by
// pg_proc.dat, part of the server binary) and immutable, and reads no text search configuration.
const char *function_reason(Oid funcid);
// A built-in operator whose function is allowed.
const char *operator_reason(Oid opno);
// An ordering operator (Sort, MergeAppend, ...): the operator and its B-tree family's
// comparison and sort-support functions.
const char *sort_operator_reason(Oid opno);
// An equality operator used for grouping or hashing (Agg, Unique, SetOp, HashJoin, Memoize,
// hashed SubPlan, WindowAgg partitions): the operator and its hash functions.
const char *equality_operator_reason(Oid opno);
// A B-tree comparison in the given operator family (MergeJoin, RowCompareExpr).
const char *family_compare_reason(Oid opfamily, Oid lefttype, Oid righttype);
// A type whose values may be stored in a shared result and read by another backend: built-in
// (but not RECORD or RECORD[]: anonymous records carry a backend-local typmod), or an enum,
// domain, named composite, array, range or multirange over allowed types, or a base type with
// built-in I/O functions.
const char *type_reason(Oid typid);
// An index an index scan reads: built-in access method and operator classes. *exprs gets its
// expressions and predicate (List of expression trees) for the caller to check like any other
// expression (their results are what the index stores).
const char *index_reason(Oid indexid, List **exprs);
// A domain coercion: allowed only for domains without constraints (their CHECK expressions may
// call anything).
const char *domain_reason(Oid domaintype);

}  // namespace pm::pg
