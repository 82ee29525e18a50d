// share_exec_privileges.hpp — the EXECUTE privilege checks that ExecInitNode of a plan subtree
// would make, made without initializing it (issue 15: a shared hit does not initialize the child
// it never runs). See share_exec_privileges.cpp.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "nodes/plannodes.h"
}

namespace pm::pg {

// For a subtree whose node and expression types are all on this file's list (the ones whose
// initialization it mirrors): checks EXECUTE on every function ExecInitNode of the subtree would
// check — as the current user for functions, operators and aggregates, as the aggregate's owner
// for its component functions — raising stock's error (`permission denied for function f`,
// `... for aggregate a`), and returns true. Returns false, checking nothing, when the subtree has
// anything else: the caller must then initialize it (stock's checks run there). PostgreSQL
// errors: call through pg_call.
bool check_subtree_execute(Plan *plan);

// The same checks in two steps, so that the walk runs once per plan (at planning) and each
// execution only makes the privilege checks: subtree_execute_summary(plan) walks the subtree and
// returns what check_subtree_execute would check (the functions, and each aggregate's oid and
// step), as a node List that survives copyObject and nodeToString (stored in the node's
// custom_private), or NIL where check_subtree_execute would return false. The summary depends
// only on the plan subtree (function and aggregate oids and steps are in the plan; the
// aggregates' component functions, owners and every ACL are read at each check), so a REVOKE
// still applies to the next execution of a cached plan. check_execute_summary(summary) makes the
// checks (stock's errors, the object access hook) and returns true, or returns false for a
// malformed summary (the caller then falls back to check_subtree_execute or initializes the
// child). PostgreSQL errors: call through pg_call.
List *subtree_execute_summary(Plan *plan);
bool check_execute_summary(List *summary);

}  // namespace pm::pg
