// compat.hpp — the one place where PostgreSQL's major versions (15, 17, 18) differ for the
// adapter: every PG_VERSION_NUM test lives here, behind a small wrapper named pm_*; call sites
// use the wrapper and stay version-free. Add a wrapper here rather than a guard elsewhere.
// docs/pg-versions.md lists what moved between versions and which wrapper covers it.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "nodes/plannodes.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/guc_tables.h"
#include "utils/rel.h"
#if PG_VERSION_NUM >= 170000
#include "common/file_utils.h"  // PG_TEMP_FILE_PREFIX, PG_TEMP_FILES_DIR (storage/fd.h up to 16)
#endif
}

#if PG_VERSION_NUM < 150000 || (PG_VERSION_NUM >= 160000 && PG_VERSION_NUM < 170000) || PG_VERSION_NUM >= 190000
#error "parallel_material supports PostgreSQL 15, 17 and 18"
#endif

// The relation's file number (relfilenode): RelFileNode.relNode up to 15, RelFileLocator.relNumber
// from 16 on.
inline Oid pm_rel_filenumber(Relation rel) {
#if PG_VERSION_NUM >= 160000
    return rel->rd_locator.relNumber;
#else
    return rel->rd_node.relNode;
#endif
}

// Ownership of a relation: pg_class_ownercheck up to 15, object_ownercheck from 16 on.
inline bool pm_class_ownercheck(Oid relid, Oid roleid) {
#if PG_VERSION_NUM >= 160000
    return object_ownercheck(RelationRelationId, relid, roleid);
#else
    return pg_class_ownercheck(relid, roleid);
#endif
}

// Shared transaction-id counters: ShmemVariableCache up to 16, TransamVariables from 17 on.
inline auto *pm_transam_variables() {
#if PG_VERSION_NUM >= 170000
    return TransamVariables;
#else
    return ShmemVariableCache;
#endif
}

// The executor's range table for a plan: from 16 on it also takes the plan's RTEPermissionInfos.
inline void pm_exec_init_range_table(EState *estate, PlannedStmt *pstmt) {
#if PG_VERSION_NUM >= 160000
    ExecInitRangeTable(estate, pstmt->rtable, pstmt->permInfos);
#else
    ExecInitRangeTable(estate, pstmt->rtable);
#endif
}

// Every GUC variable, sorted by name (case-insensitively, as PostgreSQL 15 keeps its array), and
// their number. Up to 15 the array is PostgreSQL's own; from 16 on the variables live in a hash
// table and the array is palloc'd in the current memory context (the caller may pfree it).
inline struct config_generic **pm_guc_variables(int *num) {
#if PG_VERSION_NUM >= 160000
    struct config_generic **vars = get_guc_variables(num);
    qsort(vars, *num, sizeof(*vars), [](const void *a, const void *b) {
        return pg_strcasecmp((*static_cast<struct config_generic *const *>(a))->name,
                             (*static_cast<struct config_generic *const *>(b))->name);
    });
    return vars;
#else
    *num = GetNumConfigOptions();
    return get_guc_variables();
#endif
}

// The number of GUC variables (grows when an extension defines settings).
inline int pm_num_config_options() {
#if PG_VERSION_NUM >= 160000
    int n = 0;
    pfree(get_guc_variables(&n));
    return n;
#else
    return GetNumConfigOptions();
#endif
}
