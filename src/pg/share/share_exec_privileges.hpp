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

}  // namespace pm::pg
