// view_analyze.cpp — the allowlist of create_view (docs/views.md, "Supported queries"): inner
// equi-joins of plain tables (and one LEFT JOIN, view_left.cpp), immutable filters and projections. Everything else is refused with
// an error naming the construct and a hint of what is supported. Ownership of every named table
// is checked on the raw parse tree, before analysis takes any lock; then every input is locked in
// ShareRowExclusiveLock (OID order, as CREATE TRIGGER would) so that no writer runs while the view
// is filled and its triggers are installed.
#include "pg/compat.hpp"
#include "pg/views/views.hpp"

#include <algorithm>

extern "C" {
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "miscadmin.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/bytea.h"
#include "utils/float.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
}

namespace pm::pg::views {

[[noreturn]] void refuse_construct(const char *construct, const char *hint) {
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("create_view does not support %s", construct), errhint("%s", hint)));
    pg_unreachable();
}

namespace {

constexpr int kMaxInputs = 16;

[[noreturn]] void refuse(const char *construct, const char *hint = nullptr) {
    refuse_construct(construct, hint != nullptr
                                    ? hint
                                    : "Supported: SELECT of immutable expressions FROM plain tables "
                                      "joined by inner equality conditions (JOIN ... ON or WHERE), "
                                      "with immutable WHERE filters.");
}

// ---- raw parse tree: constructs refused before any lock, and the tables it names ----

bool find_sublink(Node *node, void *) {
    if (node == nullptr) return false;
    if (IsA(node, SubLink)) return true;
    return raw_expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(find_sublink)),
                                      nullptr);
}

void raw_from_item(Node *n, PgArray<RangeVar *> &rvs) {
    if (IsA(n, RangeVar)) {
        rvs.push(castNode(RangeVar, n));
    } else if (IsA(n, JoinExpr)) {
        JoinExpr *j = castNode(JoinExpr, n);
        // LEFT and RIGHT JOIN: their shape is checked on the analyzed query (view_left.cpp).
        if (j->jointype == JOIN_FULL)
            refuse("FULL JOIN", "Supported outer joins: one LEFT JOIN (or RIGHT JOIN) whose nullable "
                                "side is one table.");
        if (j->quals != nullptr && find_sublink(j->quals, nullptr)) refuse("subqueries");
        raw_from_item(j->larg, rvs);
        raw_from_item(j->rarg, rvs);
    } else if (IsA(n, RangeSubselect)) {
        refuse("subqueries in FROM", "Name the tables themselves in FROM.");
    } else if (IsA(n, RangeFunction) || IsA(n, RangeTableFunc)) {
        refuse("functions in FROM", "Only plain tables are supported as inputs.");
    } else if (IsA(n, RangeTableSample)) {
        refuse("TABLESAMPLE");
    } else {
        refuse("this FROM item");
    }
}

SelectStmt *raw_checks(RawStmt *raw, PgArray<RangeVar *> &rvs) {
    if (!IsA(raw->stmt, SelectStmt)) refuse("statements other than SELECT");
    SelectStmt *s = castNode(SelectStmt, raw->stmt);
    if (s->op != SETOP_NONE) refuse("UNION, INTERSECT or EXCEPT");
    if (s->valuesLists != NIL) refuse("VALUES");
    if (s->withClause != nullptr) refuse("WITH (common table expressions)");
    if (s->intoClause != nullptr) refuse("SELECT INTO");
    if (s->lockingClause != NIL) refuse("FOR UPDATE or FOR SHARE");
    // DISTINCT, GROUP BY, HAVING: checked on the analyzed query (view_aggregate.cpp).
    if (s->windowClause != NIL) refuse("window functions");
    if (s->sortClause != NIL) refuse("ORDER BY", "A view is a table: order it when you read it.");
    if (s->limitCount != nullptr || s->limitOffset != nullptr) refuse("LIMIT or OFFSET");
    if (s->fromClause == NIL) refuse("a query without tables");
    if (find_sublink(reinterpret_cast<Node *>(s->targetList), nullptr) ||
        find_sublink(s->whereClause, nullptr))
        refuse("subqueries", "Write the subquery as an inner join.");
    ListCell *lc;
    foreach (lc, s->fromClause) raw_from_item(static_cast<Node *>(lfirst(lc)), rvs);
    return s;
}

void check_owner(Oid relid, const char *name) {
    if (!pm_class_ownercheck(relid, GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, name);
}

// ---- analyzed query ----

void check_input_relation(Oid relid) {
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", relid);
    Form_pg_class c = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
    char relkind = c->relkind;
    char persistence = c->relpersistence;
    bool rls = c->relrowsecurity;
    bool ispartition = c->relispartition;
    ReleaseSysCache(tup);
    if (relkind == RELKIND_PARTITIONED_TABLE || ispartition)
        refuse("partitioned tables or partitions",
               "Inputs must be plain tables: statement triggers on a partition do not see writes "
               "made through its parent.");
    if (relkind == RELKIND_VIEW || relkind == RELKIND_MATVIEW) refuse("views as inputs");
    if (relkind == RELKIND_FOREIGN_TABLE) refuse("foreign tables");
    if (relkind != RELKIND_RELATION) refuse("this kind of relation as an input");
    if (persistence == RELPERSISTENCE_TEMP) refuse("temporary tables");
    if (IsCatalogRelationOid(relid)) refuse("system catalogs");
    if (rls) refuse("tables with row-level security",
                    "The view table would show rows the policies hide.");
    if (has_subclass(relid) || has_superclass(relid))
        refuse("tables with inheritance parents or children",
               "Statement triggers on a child do not see writes made through its parent.");
    ViewDef vd;
    if (load_view_def_by_rel(relid, &vd)) refuse("a maintained view as an input");
}

void add_column(PgArray<JoinColumn> &cols, Oid relid, AttrNumber attnum) {
    for (const JoinColumn &c : cols)
        if (c.relid == relid && c.attnum == attnum) return;
    cols.push(JoinColumn{relid, attnum});
}

struct Walk {
    Query *q;
    PgArray<JoinColumn> used;
};


bool collect_vars(Node *node, Walk *w) {
    if (node == nullptr) return false;
    if (IsA(node, Var)) {
        Var *v = castNode(Var, node);
        if (v->varlevelsup != 0) refuse("outer references");
        if (v->varattno <= 0) refuse("system columns or whole-row references",
                                     "Name the columns (t.* expands to them).");
        RangeTblEntry *rte = rt_fetch(v->varno, w->q->rtable);
        if (rte->rtekind == RTE_JOIN) {
            if (v->varattno > list_length(rte->joinaliasvars)) refuse("this join column");
            return collect_vars(static_cast<Node *>(list_nth(rte->joinaliasvars, v->varattno - 1)), w);
        }
        add_column(w->used, rte->relid, v->varattno);
        return false;
    }
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(collect_vars)), w);
}

int find_root(int *parent, int i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
}

}  // namespace

// The join and WHERE conditions of a FROM tree, in order; refuse_outer: an outer join is refused
// (create_view), otherwise its conditions are collected like an inner join's.
void collect_quals(Node *n, List **quals, bool refuse_outer) {
    if (n == nullptr) return;
    if (IsA(n, FromExpr)) {
        FromExpr *f = castNode(FromExpr, n);
        ListCell *lc;
        foreach (lc, f->fromlist) collect_quals(static_cast<Node *>(lfirst(lc)), quals, refuse_outer);
        if (f->quals != nullptr) *quals = lappend(*quals, f->quals);
    } else if (IsA(n, JoinExpr)) {
        JoinExpr *j = castNode(JoinExpr, n);
        if (refuse_outer && j->jointype != JOIN_INNER) refuse("outer joins (LEFT, RIGHT, FULL JOIN)");
        collect_quals(j->larg, quals, refuse_outer);
        collect_quals(j->rarg, quals, refuse_outer);
        if (j->quals != nullptr) *quals = lappend(*quals, j->quals);
    }
}


// Base-table Var of a (possibly join-alias) expression, or nullptr.
Var *base_var(Query *q, Node *n) {
    while (n != nullptr && IsA(n, RelabelType)) n = reinterpret_cast<Node *>(castNode(RelabelType, n)->arg);
    if (n == nullptr || !IsA(n, Var)) return nullptr;
    Var *v = castNode(Var, n);
    if (v->varlevelsup != 0) return nullptr;
    RangeTblEntry *rte = rt_fetch(v->varno, q->rtable);
    if (rte->rtekind == RTE_JOIN) {
        if (v->varattno <= 0 || v->varattno > list_length(rte->joinaliasvars)) return nullptr;
        return base_var(q, static_cast<Node *>(list_nth(rte->joinaliasvars, v->varattno - 1)));
    }
    return rte->rtekind == RTE_RELATION ? v : nullptr;
}

Analysis analyze_view_query(const char *sql) {
    List *raws = raw_parser(sql, RAW_PARSE_DEFAULT);
    if (list_length(raws) != 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("create_view needs exactly one SELECT statement")));
    RawStmt *raw = linitial_node(RawStmt, raws);
    PgArray<RangeVar *> rvs;
    raw_checks(raw, rvs);
    // Ownership before any lock: a role that may not create the view fails at once instead of
    // queueing behind the owner's writers (and blocking them).
    PgArray<Oid> named;
    for (RangeVar *rv : rvs) {
        Oid relid = RangeVarGetRelid(rv, NoLock, true);
        if (!OidIsValid(relid)) continue;  // analysis reports it
        check_owner(relid, rv->relname);
        named.push(relid);
    }
    std::sort(named.begin(), named.end());
    named.n = static_cast<int>(std::unique(named.begin(), named.end()) - named.begin());
    for (Oid relid : named) LockRelationOid(relid, ShareRowExclusiveLock);

    Query *q = parse_analyze_fixedparams(raw, sql, nullptr, 0, nullptr);
    if (q->commandType != CMD_SELECT || q->utilityStmt != nullptr) refuse("this statement");
    if (!pm_flatten_group_rte(q)) refuse("this GROUP BY");  // 18's RTE_GROUP (compat.hpp)
    if (q->hasWindowFuncs) refuse("window functions");
    if (q->hasTargetSRFs) refuse("set-returning functions");
    if (q->hasSubLinks) refuse("subqueries", "Write the subquery as an inner join.");
    if (q->hasRecursive || q->cteList != NIL) refuse("WITH (common table expressions)");
    if (q->hasModifyingCTE || q->hasForUpdate || q->rowMarks != NIL) refuse("FOR UPDATE or data-modifying WITH");
    LeftJoins ljs;
    (void)left_joins(q, &ljs, true);  // LEFT JOINs of the supported shape, or none
    if (is_aggregate_query(q)) check_aggregate_query(q);  // GROUP BY, aggregates, DISTINCT
    if (q->sortClause != NIL || q->limitCount != nullptr || q->limitOffset != nullptr)
        refuse("ORDER BY, LIMIT or OFFSET");
    if (q->setOperations != nullptr) refuse("UNION, INTERSECT or EXCEPT");

    Analysis a;
    a.query = q;
    int pos = 0;
    ListCell *lc;
    foreach (lc, q->rtable) {
        ++pos;
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        if (rte->rtekind == RTE_JOIN) {
            if (rte->jointype != JOIN_INNER && rte->jointype != JOIN_LEFT && rte->jointype != JOIN_RIGHT)
                refuse("outer joins other than LEFT or RIGHT JOIN");
            continue;
        }
        if (rte->rtekind != RTE_RELATION) refuse("this FROM item");
        if (rte->tablesample != nullptr) refuse("TABLESAMPLE");
        // Names resolved by analysis must be the ones whose ownership was checked (and locked).
        if (!std::binary_search(named.begin(), named.end(), rte->relid))
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("a table of the query changed while create_view ran"),
                            errhint("Retry.")));
        check_owner(rte->relid, get_rel_name(rte->relid));
        check_input_relation(rte->relid);
        a.inputs.push(Input{pos, rte->relid});
        a.relids.push(rte->relid);
    }
    if (a.inputs.empty()) refuse("a query without tables");
    if (a.inputs.size() > kMaxInputs) refuse("more than 16 table references");
    std::sort(a.relids.begin(), a.relids.end());
    a.relids.n = static_cast<int>(std::unique(a.relids.begin(), a.relids.end()) - a.relids.begin());

    // Output columns: named, distinct, of a storable type.
    PgArray<const char *> names;
    foreach (lc, q->targetList) {
        TargetEntry *te = static_cast<TargetEntry *>(lfirst(lc));
        if (te->resjunk) continue;
        if (te->resname == nullptr || strcmp(te->resname, "?column?") == 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
                            errmsg("every output column of a maintained view needs a name"),
                            errhint("Add AS name to expression %d.", te->resno)));
        if (strncmp(te->resname, "__pm", 4) == 0)
            ereport(ERROR, (errcode(ERRCODE_RESERVED_NAME),
                            errmsg("column names starting with \"__pm\" are reserved")));
        bool twice = false;
        for (const char *other : names) twice = twice || strcmp(other, te->resname) == 0;
        names.push(te->resname);
        if (twice)
            ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                            errmsg("column \"%s\" appears twice in the view's output", te->resname),
                            errhint("Give the columns distinct names with AS.")));
        Oid type = exprType(reinterpret_cast<Node *>(te->expr));
        if (get_typtype(type) == TYPTYPE_PSEUDO)
            refuse("output columns of a pseudo-type (an anonymous record, say)");
    }
    if (names.empty()) refuse("a query without output columns");

    // Immutable expressions only: the maintenance computes each row's value again, later and in
    // another context, and must get what the defining query gives.
    List *quals = NIL;
    collect_quals(reinterpret_cast<Node *>(q->jointree), &quals, false);  // outer: checked above
    if (contain_mutable_functions(reinterpret_cast<Node *>(q->targetList)) ||
        contain_mutable_functions(reinterpret_cast<Node *>(quals)) ||
        contain_mutable_functions(q->havingQual))
        refuse("volatile or stable functions or operators",
               "Only immutable expressions are supported (now(), random(), or a cast to text of a "
               "timestamp are not).");

    Walk w{q, PgArray<JoinColumn>{}};
    collect_vars(reinterpret_cast<Node *>(q->targetList), &w);
    collect_vars(reinterpret_cast<Node *>(quals), &w);
    collect_vars(q->havingQual, &w);  // HAVING's aggregate arguments (a group's recompute reads them)

    // Equi-join clauses between inputs; every input must be connected to the others by them.
    auto index_of = [&](int rtindex) {
        for (int i = 0; i < a.inputs.size(); ++i)
            if (a.inputs[i].rtindex == rtindex) return i;
        return 0;
    };
    int *parent = static_cast<int *>(palloc(sizeof(int) * static_cast<size_t>(a.inputs.size())));
    for (int i = 0; i < a.inputs.size(); ++i) parent[i] = i;
    List *conj = NIL;
    foreach (lc, quals) conj = list_concat(conj, make_ands_implicit(static_cast<Expr *>(lfirst(lc))));
    foreach (lc, conj) {
        Node *c = static_cast<Node *>(lfirst(lc));
        if (!IsA(c, OpExpr) || list_length(castNode(OpExpr, c)->args) != 2) continue;
        OpExpr *op = castNode(OpExpr, c);
        Var *l = base_var(q, static_cast<Node *>(linitial(op->args)));
        Var *r = base_var(q, static_cast<Node *>(lsecond(op->args)));
        if (l == nullptr || r == nullptr || l->varno == r->varno) continue;
        Oid lt = exprType(static_cast<Node *>(linitial(op->args)));
        if (!op_mergejoinable(op->opno, lt) && !op_hashjoinable(op->opno, lt)) continue;
        int li = index_of(static_cast<int>(l->varno)), ri = index_of(static_cast<int>(r->varno));
        parent[find_root(parent, li)] = find_root(parent, ri);
        add_column(a.join_columns, rt_fetch(l->varno, q->rtable)->relid, l->varattno);
        add_column(a.join_columns, rt_fetch(r->varno, q->rtable)->relid, r->varattno);
    }
    for (int i = 1; i < a.inputs.size(); ++i)
        if (find_root(parent, i) != find_root(parent, 0))
            refuse("cross joins (inputs not connected by equality conditions between columns)",
                   "Join every table to another one with an equality between their columns.");
    a.used_columns = w.used;
    return a;
}

namespace {
// Each pinned setting, its value, and whether the variable it sets (what the code that reads the
// setting reads) holds that value already.
struct PinnedSetting {
    const char *name;
    const char *value;
    bool (*holds)();
};
const PinnedSetting kPinnedSettings[] = {
    {"search_path", "pg_catalog, pg_temp",
     [] { return namespace_search_path != nullptr && strcmp(namespace_search_path, "pg_catalog, pg_temp") == 0; }},
    {"extra_float_digits", "1", [] { return extra_float_digits == 1; }},
    {"bytea_output", "hex", [] { return bytea_output == BYTEA_OUTPUT_HEX; }},
    {"standard_conforming_strings", "on", [] { return standard_conforming_strings; }},
    // read when the (cached) deparsed SQL's constants are parsed again
    {"DateStyle", "ISO, MDY", [] { return DateStyle == USE_ISO_DATES && DateOrder == DATEORDER_MDY; }},
    {"IntervalStyle", "postgres", [] { return IntervalStyle == INTSTYLE_POSTGRES; }},
    {"array_nulls", "on", [] { return Array_nulls; }},
};
}  // namespace

void pin_view_settings() {
    for (const auto &kv : kPinnedSettings)
        (void)set_config_option(kv.name, kv.value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                                false);
}

int pin_view_settings_where_needed() {
    int level = -1;
    for (const auto &kv : kPinnedSettings) {
        if (kv.holds()) continue;
        if (level < 0) level = NewGUCNestLevel();
        (void)set_config_option(kv.name, kv.value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                                false);
    }
    return level;
}

void unpin_view_settings(int level) {
    if (level >= 0) AtEOXact_GUC(true, level);
}

char *deparse_qualified(Query *q) {
    int level = NewGUCNestLevel();
    pin_view_settings();
    char *sql = pg_get_querydef(static_cast<Query *>(copyObject(q)), false);
    AtEOXact_GUC(true, level);
    return sql;
}

}  // namespace pm::pg::views
