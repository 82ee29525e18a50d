// compat.hpp — the one place where PostgreSQL's major versions (15, 17, 18) differ for the
// adapter: every PG_VERSION_NUM test lives here, behind a small wrapper named pm_*; call sites
// use the wrapper and stay version-free. Add a wrapper here rather than a guard elsewhere.
// docs/pg-versions.md lists what moved between versions and which wrapper covers it.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/plannodes.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/guc_tables.h"
#include "miscadmin.h"
#include "utils/rel.h"
#include "access/htup_details.h"
#include "commands/explain.h"
#include "optimizer/pathnode.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"  // getRTEPermissionInfo
#endif
#if PG_VERSION_NUM >= 170000
#include "common/file_utils.h"  // PG_TEMP_FILE_PREFIX, PG_TEMP_FILES_DIR (storage/fd.h up to 16)
#endif
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"  // ExplainProperty* (commands/explain.h up to 17)
#include "commands/explain_state.h"   // ExplainState
#include "optimizer/optimizer.h"      // flatten_group_exprs
#endif
}

#if PG_VERSION_NUM < 150000 || (PG_VERSION_NUM >= 160000 && PG_VERSION_NUM < 170000) || PG_VERSION_NUM >= 190000
#error "parallel_material supports PostgreSQL 15, 17 and 18"
#endif

// EXPLAIN deparses a SubPlan as "(SubPlan N)" up to 16; from 17 on it prints the SubPlan's test
// expression (`(ALL (x < (SubPlan 1).col1))`), so a rewritten test expression would show.
constexpr bool pm_explain_hides_subplan_testexpr = PG_VERSION_NUM < 170000;

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

// EXECUTE privilege on a function: pg_proc_aclcheck up to 15, object_aclcheck from 16 on.
inline AclResult pm_proc_aclcheck(Oid funcid, Oid roleid, AclMode mode) {
#if PG_VERSION_NUM >= 160000
    return object_aclcheck(ProcedureRelationId, funcid, roleid, mode);
#else
    return pg_proc_aclcheck(funcid, roleid, mode);
#endif
}

// The range table's privileges, as the executor checks them (ereport on a violation):
// ExecCheckRTPerms up to 15, ExecCheckPermissions with the plan's RTEPermissionInfos from 16 on.
inline bool pm_exec_check_permissions(PlannedStmt *stmt) {
#if PG_VERSION_NUM >= 160000
    return ExecCheckPermissions(stmt->rtable, stmt->permInfos, true);
#else
    return ExecCheckRTPerms(stmt->rtable, true);
#endif
}

// The columns a query reads from range table entry rte (its SELECT privilege check covers
// exactly these); nullptr when the entry's privileges are not checked at all (then nothing may
// be read beyond what the plan already reads). rte->selectedCols up to 15, its
// RTEPermissionInfo's from 16 on.
inline Bitmapset *pm_rte_selected_cols(PlannerInfo *root, RangeTblEntry *rte) {
#if PG_VERSION_NUM >= 160000
    if (rte->perminfoindex == 0) return nullptr;
    RTEPermissionInfo *p = getRTEPermissionInfo(root->parse->rteperminfos, rte);
    return (p->requiredPerms & ACL_SELECT) ? p->selectedCols : nullptr;
#else
    (void)root;
    return (rte->requiredPerms & ACL_SELECT) ? rte->selectedCols : nullptr;
#endif
}

// The role whose privileges the query's check on rte uses (a view's owner for a table read
// through a view; the current user when none is set).
inline Oid pm_rte_check_as_user(PlannerInfo *root, RangeTblEntry *rte) {
#if PG_VERSION_NUM >= 160000
    Oid u = rte->perminfoindex == 0
                ? InvalidOid
                : getRTEPermissionInfo(root->parse->rteperminfos, rte)->checkAsUser;
#else
    (void)root;
    Oid u = rte->checkAsUser;
#endif
    return OidIsValid(u) ? u : GetUserId();
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
#if PG_VERSION_NUM >= 180000
    // 18 also takes the relations that initial partition pruning cannot remove
    ExecInitRangeTable(estate, pstmt->rtable, pstmt->permInfos, bms_copy(pstmt->unprunableRelids));
#elif PG_VERSION_NUM >= 160000
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

// A MinimalTuple from values: 18 added the number of extra bytes to reserve in front.
inline MinimalTuple pm_heap_form_minimal_tuple(TupleDesc desc, const Datum *values, const bool *isnull) {
#if PG_VERSION_NUM >= 180000
    return heap_form_minimal_tuple(desc, values, isnull, 0);
#else
    return heap_form_minimal_tuple(desc, const_cast<Datum *>(values), const_cast<bool *>(isnull));
#endif
}

// add_partial_path_precheck: 18 also compares the number of disabled nodes (enable_* = off).
inline bool pm_add_partial_path_precheck(RelOptInfo *rel, const JoinCostWorkspace &ws, List *pathkeys) {
#if PG_VERSION_NUM >= 180000
    return add_partial_path_precheck(rel, ws.disabled_nodes, ws.total_cost, pathkeys);
#else
    return add_partial_path_precheck(rel, ws.total_cost, pathkeys);
#endif
}

// A MaterialPath the extension adds (material_paths.cpp) becomes ParallelMaterial, which
// parallel_material.enable governs, not enable_material: up to 17 cost_material ignores
// enable_material (only joinpath.c consults it); from 18 it counts the path as disabled
// (disabled_nodes + 1), which would lose every comparison with enable_material = off. Keep the
// subpath's count, as 15 and 17 effectively do.
inline void pm_material_path_not_disabled(MaterialPath *mat) {
#if PG_VERSION_NUM >= 180000
    mat->path.disabled_nodes = mat->subpath->disabled_nodes;
#else
    (void)mat;
#endif
}

// A window function as the planning pass repeats it in a node's custom_scan_tlist (which only
// EXPLAIN reads, and the executor for the column types): from 18 EXPLAIN deparses a WindowFunc
// with its window's name, which it finds only while deparsing the WindowAgg itself ("could not
// find window clause for winref N" anywhere else). From 18 the copy is a plain call of the same
// function with the same arguments and result type (printed as `f(args)`, without OVER); up to
// 17 the WindowFunc stays (printed `f(args) OVER (?)`). Never evaluated.
inline Node *pm_explainable_window_func(WindowFunc *wf) {
#if PG_VERSION_NUM >= 180000
    FuncExpr *fe = makeNode(FuncExpr);
    fe->funcid = wf->winfnoid;
    fe->funcresulttype = wf->wintype;
    fe->funcretset = false;
    fe->funcvariadic = false;
    fe->funcformat = COERCE_EXPLICIT_CALL;
    fe->funccollid = wf->wincollid;
    fe->inputcollid = wf->inputcollid;
    fe->args = wf->args;
    fe->location = wf->location;
    return reinterpret_cast<Node *>(fe);
#else
    return reinterpret_cast<Node *>(wf);
#endif
}

// A MinimalTuple copy of a heap tuple: 18 added the number of extra bytes to reserve in front.
inline MinimalTuple pm_minimal_tuple_from_heap_tuple(HeapTuple tup) {
#if PG_VERSION_NUM >= 180000
    return minimal_tuple_from_heap_tuple(tup, 0);
#else
    return minimal_tuple_from_heap_tuple(tup);
#endif
}

// Whether an Append or MergeAppend prunes partitions at run time: its PartitionPruneInfo up to
// 17; from 18 an index into PlannedStmt.partPruneInfos, -1 when none.
template <typename AppendNode>
inline bool pm_has_run_time_pruning(const AppendNode *node) {
#if PG_VERSION_NUM >= 180000
    return node->part_prune_index >= 0;
#else
    return node->part_prune_info != nullptr;
#endif
}

// get_ordering_op_properties without the strategy (18 reports a CompareType instead of an int16).
inline bool pm_get_ordering_op_properties(Oid opno, Oid *opfamily, Oid *opcintype) {
#if PG_VERSION_NUM >= 180000
    CompareType cmp;
#else
    int16 cmp;
#endif
    return get_ordering_op_properties(opno, opfamily, opcintype, &cmp);
}

// A SetOp's comparison operators: dupOperators (equality) up to 17; from 18 cmpOperators, which
// are sort operators when the SetOp sorts (callers that accept only equality operators then
// refuse, which keeps the stock plan).
inline const Oid *pm_setop_operators(const SetOp *so) {
#if PG_VERSION_NUM >= 180000
    return so->cmpOperators;
#else
    return so->dupOperators;
#endif
}

// The GUC group of a setting as PostgreSQL 15 groups them (share_settings.cpp decides by group).
// 18 split RESOURCES_ASYNCHRONOUS into RESOURCES_IO and RESOURCES_WORKER_PROCESSES, moved
// vacuum's settings into VACUUM_* groups (the freezing ages were CLIENT_CONN_STATEMENT); the
// old names are defined here for 18 with the new groups' values.
#if PG_VERSION_NUM >= 180000
constexpr config_group RESOURCES_ASYNCHRONOUS = RESOURCES_IO;
constexpr config_group RESOURCES_VACUUM_DELAY = VACUUM_COST_DELAY;
constexpr config_group AUTOVACUUM = VACUUM_AUTOVACUUM;
#endif
inline int pm_guc_group(const struct config_generic *g) {
#if PG_VERSION_NUM >= 180000
    switch (g->group) {
        case RESOURCES_WORKER_PROCESSES:
            return RESOURCES_ASYNCHRONOUS;
        case VACUUM_DEFAULT:
        case VACUUM_FREEZING:
            return CLIENT_CONN_STATEMENT;
        default:
            return g->group;
    }
#else
    return g->group;
#endif
}

// Fields a PlannedStmt sent to parallel workers carries beyond 15's, as execParallel.c's
// ExecSerializePlan sets them: the RTEPermissionInfos (16) and the unprunable relations (18;
// without them a worker's ExecGetRangeTableRelation fails with "trying to open a pruned relation").
inline void pm_set_worker_plan_fields(PlannedStmt *pstmt, EState *estate) {
#if PG_VERSION_NUM >= 160000
    pstmt->permInfos = estate->es_rteperminfos;
#endif
#if PG_VERSION_NUM >= 180000
    pstmt->unprunableRelids = estate->es_unpruned_relids;
#endif
    (void)pstmt;
    (void)estate;
}

// Sets a TupleDesc column's storage to plain (never packed into a short varlena header): 18
// caches per-column flags in CompactAttribute (attispackable), which must be refreshed after a
// change to pg_attribute's fields, or heap_fill_tuple keeps packing.
inline void pm_tupdesc_set_plain_storage(TupleDesc desc, int i) {
    TupleDescAttr(desc, i)->attstorage = TYPSTORAGE_PLAIN;
#if PG_VERSION_NUM >= 180000
    populate_compact_attribute(desc, i);
#endif
}

// A qualified name (schema.name) parsed into a List of String: stringToQualifiedNameList(s) up
// to 15, with a soft-error context argument from 16 on (NULL: errors are raised).
inline List *pm_string_to_qualified_name_list(const char *s) {
#if PG_VERSION_NUM >= 160000
    return stringToQualifiedNameList(s, nullptr);
#else
    return stringToQualifiedNameList(s);
#endif
}

// The outer joins that null a Var (varnullingrels, 16 on; nothing up to 15): read and set.
inline Relids pm_var_nullingrels(const Var *v) {
#if PG_VERSION_NUM >= 160000
    return v->varnullingrels;
#else
    (void)v;
    return nullptr;
#endif
}
inline void pm_set_var_nullingrels(Var *v, Relids r) {
#if PG_VERSION_NUM >= 160000
    v->varnullingrels = r;
#else
    (void)v;
    (void)r;
#endif
}

// A parse-analyzed Query as 15 and 17 produce it, for code that walks its range table and
// expressions (create_view's analysis): from 18 on, a query with GROUP BY gets an RTE_GROUP
// range table entry (appended last) and the target list's and HAVING's references to grouping
// expressions become Vars of that entry. This replaces them with the grouping expressions, as
// the planner does first thing, and drops the entry. Returns false (Query left as it was, the
// caller refuses) if the entry is not the last one.
inline bool pm_flatten_group_rte(Query *q) {
#if PG_VERSION_NUM >= 180000
    if (!q->hasGroupRTE) return true;
    RangeTblEntry *last = q->rtable != NIL ? static_cast<RangeTblEntry *>(llast(q->rtable)) : nullptr;
    if (last == nullptr || last->rtekind != RTE_GROUP) return false;
    q->targetList = reinterpret_cast<List *>(
        flatten_group_exprs(nullptr, q, reinterpret_cast<Node *>(q->targetList)));
    q->havingQual = flatten_group_exprs(nullptr, q, q->havingQual);
    q->rtable = list_delete_last(q->rtable);
    q->hasGroupRTE = false;
#endif
    (void)q;
    return true;
}
