// inval.hpp — the extension's cache invalidation callbacks, registered with PostgreSQL once.
// A backend has 10 relcache callback slots (MAX_RELCACHE_CALLBACKS) and 64 syscache ones, shared
// with core (plan cache, type cache, logical replication's maps in an apply worker) and every
// other loaded extension; running out is a FATAL of that backend. Each cache of this extension
// registering its own took five relcache slots and twelve syscache ones: now one relcache callback
// and one per syscache id dispatch to every function added here.
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/inval.h"
}

namespace pm::pg {

// Adds fn to the functions called on every relcache invalidation (arg is always 0). Idempotent.
void on_relcache_inval(RelcacheCallbackFunction fn);
// Adds fn to the functions called on every invalidation of syscache cacheid. Idempotent.
void on_syscache_inval(int cacheid, SyscacheCallbackFunction fn);
// Adds fn to the functions called when what a cached plan or compiled expression may depend on
// changes: every relcache invalidation and every invalidation of pg_proc, pg_operator, pg_type
// and pg_namespace entries (the views' caches of SQL text, plans and compiled probes). Idempotent.
void on_plan_inval(void (*fn)());

}  // namespace pm::pg
