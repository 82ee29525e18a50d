// view_left.cpp — maintained views with LEFT JOINs (docs/views.md, "LEFT JOIN views").
// Shape (the allowlist): the query's join tree holds one to kMaxOuterJoins outer joins, each
// LEFT (or RIGHT, read the other way round) with these properties (several: left_delta_sql's
// comment); below, one of them, whose nullable side is one table b; its ON clause holds an
// equality `p.x = b.y` between a column of the preserved side and one of b, and the view outputs
// p.x as a plain column. Any other condition may reference b (ON, WHERE, inner joins above).
// Then the query is Q = Σ over rows p of the other tables' product of f(p, b restricted to the
// rows whose y equals p.x): linear in every other input, and its rows for p depend on b only
// through b's rows with key p.x. Maintenance (one SQL statement, netted and applied by
// apply_delta like a join view's delta):
//   (A) the changes of every other input: the existing inclusion-exclusion delta terms over
//       those positions only, with b at its new state, keeping the rows whose key is not one
//       that b's changes touched;
//   (B) minus the view table's rows whose key is one that b's changes touched (K), and
//   (C) plus the query's rows restricted to the keys in K (a per-key recompute, as the aggregate
//       views' group recompute). Rows in both (B) and (C) cancel in the netting.
// Exact because, for p with key outside K, f(p, b_old) = f(p, b_new) (a b row that matches p
// satisfies p.x = b.y, so its key is p.x), so the change there is (A)'s; for keys in K the view
// holds exactly Q_old's rows of those keys, replaced by Q_new's.
#include "pg/views/views.hpp"

extern "C" {
#include "access/relation.h"
#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "optimizer/optimizer.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
}

namespace pm::pg::views {

namespace {

[[noreturn]] void refuse(const char *construct, const char *hint = nullptr) {
    refuse_construct(construct, hint != nullptr
                                    ? hint
                                    : "Supported: one LEFT JOIN (or RIGHT JOIN) whose nullable side is "
                                      "one table, with an equality between a column of each side in "
                                      "its ON clause, the preserved side's column in the output; inner "
                                      "joins elsewhere.");
}

struct Found {
    int n = 0;
    JoinExpr *j[kMaxOuterJoins + 1] = {};  // the first ones, in join-tree order
};

void find_outer(Node *n, Found *f) {
    if (n == nullptr) return;
    if (IsA(n, FromExpr)) {
        ListCell *lc;
        foreach (lc, castNode(FromExpr, n)->fromlist) find_outer(static_cast<Node *>(lfirst(lc)), f);
    } else if (IsA(n, JoinExpr)) {
        JoinExpr *j = castNode(JoinExpr, n);
        if (j->jointype != JOIN_INNER) {
            if (f->n <= kMaxOuterJoins) f->j[f->n] = j;
            ++f->n;
        }
        find_outer(j->larg, f);
        find_outer(j->rarg, f);
    }
}

const char *op_text(Oid opno) {
    HeapTuple tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for operator %u", opno);
    Form_pg_operator o = reinterpret_cast<Form_pg_operator>(GETSTRUCT(tup));
    const char *s = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(o->oprnamespace)),
                             NameStr(o->oprname));
    ReleaseSysCache(tup);
    return s;
}

const char *type_text(Oid type) {
    return format_type_extended(type, -1, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
}

char *strip_semicolon(char *s) {
    int len = static_cast<int>(strlen(s));
    while (len > 0 && (s[len - 1] == ';' || s[len - 1] == ' ' || s[len - 1] == '\n')) s[--len] = '\0';
    return s;
}

// Whether n references range-table entry rt (directly, or through a join alias variable).
bool refs_rt(Query *q, Node *n, int rt);
struct RefsCtx {
    Query *q;
    int rt;
};
bool refs_walker(Node *n, void *cx) {
    if (n == nullptr) return false;
    RefsCtx *c = static_cast<RefsCtx *>(cx);
    if (IsA(n, Var)) {
        Var *v = castNode(Var, n);
        if (v->varlevelsup != 0) return false;
        if (static_cast<int>(v->varno) == c->rt) return true;
        RangeTblEntry *rte = rt_fetch(v->varno, c->q->rtable);
        if (rte->rtekind != RTE_JOIN) return false;
        if (v->varattno == 0) return refs_rt(c->q, reinterpret_cast<Node *>(rte->joinaliasvars), c->rt);
        if (v->varattno > 0 && v->varattno <= list_length(rte->joinaliasvars))
            return refs_rt(c->q, static_cast<Node *>(list_nth(rte->joinaliasvars, v->varattno - 1)), c->rt);
        return false;
    }
    return expression_tree_walker(n, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)(void)>(refs_walker)), cx);
}
bool refs_rt(Query *q, Node *n, int rt) {
    RefsCtx c{q, rt};
    return refs_walker(n, &c);
}

}  // namespace

bool has_outer_join(Query *q) {
    Found f;
    find_outer(reinterpret_cast<Node *>(q->jointree), &f);
    return f.n > 0;
}

// One outer join's shape (the allowlist); false (or a refusal with check) when unsupported.
static bool one_left_join(Query *q, JoinExpr *j, int idx, bool aggregate, LeftJoin *out, bool check) {
    *out = LeftJoin{};
    if (check) {
        if (j->jointype == JOIN_FULL) refuse("FULL JOIN");
        if (j->jointype != JOIN_LEFT && j->jointype != JOIN_RIGHT) refuse("this kind of join");
    }
    if (j->jointype != JOIN_LEFT && j->jointype != JOIN_RIGHT) return false;
    Node *nullable = j->jointype == JOIN_RIGHT ? j->larg : j->rarg;
    if (!IsA(nullable, RangeTblRef)) {
        if (check)
            refuse("a LEFT or RIGHT JOIN whose nullable side is a join",
                   "The nullable side of the LEFT JOIN must be one table.");
        return false;
    }
    out->b_rtindex = castNode(RangeTblRef, nullable)->rtindex;
    out->keys_enr = idx == 0 ? "pm_lkeys" : psprintf("pm_lkeys%d", idx + 1);
    // An aggregate or DISTINCT view recomputes every group a write can change; its groups are
    // found through the preserved side's rows, so no group key may read the nullable side
    // (docs/views.md, "Aggregates over a LEFT JOIN"). Its key needs no output column.
    if (aggregate && check) {
        ListCell *tc;
        foreach (tc, q->targetList) {
            TargetEntry *te = static_cast<TargetEntry *>(lfirst(tc));
            if (te->ressortgroupref == 0) continue;
            if (get_sortgroupref_clause_noerr(te->ressortgroupref, q->groupClause) == nullptr &&
                get_sortgroupref_clause_noerr(te->ressortgroupref, q->distinctClause) == nullptr)
                continue;
            if (refs_rt(q, reinterpret_cast<Node *>(te->expr), out->b_rtindex))
                refuse("GROUP BY or DISTINCT of a column of a LEFT JOIN's nullable side",
                       "Group an aggregate view over a LEFT JOIN by columns of the preserved side; "
                       "aggregate the nullable side's columns.");
        }
    }
    // The key: the first equality of the ON clause between a column of b and a column of the
    // preserved side that the view outputs.
    List *conj = make_ands_implicit(reinterpret_cast<Expr *>(j->quals));
    bool equality = false;
    ListCell *lc;
    foreach (lc, conj) {
        Node *c = static_cast<Node *>(lfirst(lc));
        if (!IsA(c, OpExpr) || list_length(castNode(OpExpr, c)->args) != 2) continue;
        OpExpr *op = castNode(OpExpr, c);
        Var *l = base_var(q, static_cast<Node *>(linitial(op->args)));
        Var *r = base_var(q, static_cast<Node *>(lsecond(op->args)));
        if (l == nullptr || r == nullptr) continue;
        bool bl = static_cast<int>(l->varno) == out->b_rtindex, br = static_cast<int>(r->varno) == out->b_rtindex;
        if (bl == br) continue;
        Oid lt = exprType(static_cast<Node *>(linitial(op->args)));
        if (!op_mergejoinable(op->opno, lt) && !op_hashjoinable(op->opno, lt)) continue;
        equality = true;
        Var *pv = bl ? r : l, *bv = bl ? l : r;
        // the output column that copies pv
        const char *col = nullptr;
        ListCell *tc;
        foreach (tc, q->targetList) {
            TargetEntry *te = static_cast<TargetEntry *>(lfirst(tc));
            if (te->resjunk || te->resname == nullptr) continue;
            Var *v = base_var(q, reinterpret_cast<Node *>(te->expr));
            if (v != nullptr && v->varno == pv->varno && v->varattno == pv->varattno) {
                col = quote_identifier(te->resname);
                break;
            }
        }
        if (aggregate) col = psprintf("__pm_lk%d", idx + 1);  // a column of its delta source (left_agg_delta_sql)
        if (col == nullptr) continue;
        HeapTuple tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(op->opno));
        if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for operator %u", op->opno);
        Form_pg_operator o = reinterpret_cast<Form_pg_operator>(GETSTRUCT(tup));
        out->ltype = o->oprleft;
        out->rtype = o->oprright;
        ReleaseSysCache(tup);
        out->opno = op->opno;
        out->b_left = bl;
        out->collation = op->inputcollid;
        out->b_attnum = bv->varattno;
        out->b_relid = rt_fetch(out->b_rtindex, q->rtable)->relid;
        out->key_col = col;
        out->p_varno = pv->varno;
        out->p_attno = pv->varattno;
        out->p_type = pv->vartype;
        out->p_typmod = pv->vartypmod;
        out->p_coll = pv->varcollid;
        Oid btype = bv->vartype;
        Oid opc = GetDefaultOpClass(btype, BTREE_AM_OID);
        out->distinct_ok = OidIsValid(opc) &&
                           get_op_opfamily_strategy(op->opno, get_opclass_family(opc)) == BTEqualStrategyNumber;
        return true;
    }
    if (check) {
        if (!equality)
            refuse("a LEFT JOIN without an equality between a column of each side in its ON clause",
                   "Write the LEFT JOIN's condition as preserved.x = nullable.y [AND ...].");
        refuse("a LEFT JOIN view that does not output the preserved side's join column",
               "Add the preserved side's column of the ON equality to the SELECT list: the rows of "
               "each key written on the nullable side are recomputed by it.");
    }
    out->b_rtindex = 0;
    return false;
}

int left_joins(Query *q, LeftJoins *out, bool check) {
    *out = LeftJoins{};
    Found f;
    find_outer(reinterpret_cast<Node *>(q->jointree), &f);
    if (f.n == 0) return 0;
    if (check && f.n > kMaxOuterJoins)
        refuse(psprintf("more than %d outer joins (LEFT or RIGHT JOIN)", kMaxOuterJoins),
               "Join the other tables with inner joins.");
    if (f.n > kMaxOuterJoins) return 0;
    const bool aggregate = is_aggregate_query(q);
    for (int k = 0; k < f.n; ++k)
        if (!one_left_join(q, f.j[k], k, aggregate, &out->j[k], check)) {
            *out = LeftJoins{};
            return 0;
        }
    out->n = f.n;
    return f.n;
}

// EXISTS (a key of b's changed rows, in pm_lkeys, equal to expr by the ON clause's equality).
static char *in_keys(const LeftJoin &lj, const char *expr) {
    const char *coll = OidIsValid(lj.collation) ? psprintf(" COLLATE %s", generate_collation_name(lj.collation)) : "";
    const char *y = psprintf("(k.y)::%s", type_text(lj.b_left ? lj.ltype : lj.rtype));
    const char *x = psprintf("(%s)::%s", expr, type_text(lj.b_left ? lj.rtype : lj.ltype));
    return psprintf("EXISTS (SELECT FROM %s k WHERE %s%s %s %s)", lj.keys_enr, lj.b_left ? y : x, coll,
                    op_text(lj.opno), lj.b_left ? x : y);
}

static Expr *as_type(Expr *e, Oid type, Oid coll) {
    if (exprType(reinterpret_cast<Node *>(e)) == type) return e;
    return reinterpret_cast<Expr *>(makeRelabelType(e, type, -1, coll, COERCE_IMPLICIT_CAST));
}

// The query restricted to the keys of pm_lkeys: (C)'s rows. With distinct keys (distinct_ok), an
// inner join of pm_lkeys with the preserved side's key column, which the planner can start from
// (probing the preserved side's arrangement or index); otherwise an EXISTS filter.
static char *restricted_sql(Query *q, const LeftJoin &lj) {
    if (!lj.distinct_ok)
        return psprintf("SELECT s.*, 1 AS __pm_sign FROM (%s) s WHERE %s", strip_semicolon(deparse_qualified(q)),
                        in_keys(lj, psprintf("s.%s", lj.key_col)));
    Query *c = static_cast<Query *>(copyObject(q));
    Form_pg_attribute ya = nullptr;
    HeapTuple atup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(lj.b_relid), Int16GetDatum(lj.b_attnum));
    if (!HeapTupleIsValid(atup)) elog(ERROR, "cache lookup failed for attribute %d of %u", lj.b_attnum, lj.b_relid);
    ya = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(atup));
    Oid ytype = ya->atttypid, ycoll = ya->attcollation;
    int32 ytypmod = ya->atttypmod;
    ReleaseSysCache(atup);
    RangeTblEntry *k = makeNode(RangeTblEntry);
    k->rtekind = RTE_CTE;
    k->ctename = pstrdup(lj.keys_enr);
    k->ctelevelsup = 0;
    k->alias = makeAlias("pm_k", NIL);
    k->eref = makeAlias("pm_k", list_make1(makeString(pstrdup("y"))));
    k->coltypes = list_make1_oid(ytype);
    k->coltypmods = list_make1_int(ytypmod);
    k->colcollations = list_make1_oid(ycoll);
    k->inFromCl = true;
    c->rtable = lappend(c->rtable, k);
    int kidx = list_length(c->rtable);
    RangeTblRef *ref = makeNode(RangeTblRef);
    ref->rtindex = kidx;
    c->jointree->fromlist = lcons(ref, c->jointree->fromlist);
    Var *kv = makeVar(kidx, 1, ytype, ytypmod, ycoll, 0);
    Var *pv = makeVar(lj.p_varno, lj.p_attno, lj.p_type, lj.p_typmod, lj.p_coll, 0);
    Expr *bl = as_type(reinterpret_cast<Expr *>(kv), lj.b_left ? lj.ltype : lj.rtype, ycoll);
    Expr *pl = as_type(reinterpret_cast<Expr *>(pv), lj.b_left ? lj.rtype : lj.ltype, lj.p_coll);
    Expr *eq = make_opclause(lj.opno, BOOLOID, false, lj.b_left ? bl : pl, lj.b_left ? pl : bl, InvalidOid,
                             lj.collation);
    castNode(OpExpr, eq)->opfuncid = get_opcode(lj.opno);
    c->jointree->quals = make_and_qual(c->jointree->quals, reinterpret_cast<Node *>(eq));
    char *body = strip_semicolon(deparse_qualified(c));
    return psprintf("SELECT s.*, 1 AS __pm_sign FROM (%s) s", body);
}

// The nullable positions (skipped by the delta terms) and which nullable tables changed.
static Bitmapset *nullable_set(const LeftJoins &ljs) {
    Bitmapset *b = nullptr;
    for (int k = 0; k < ljs.n; ++k) b = bms_add_member(b, ljs.j[k].b_rtindex);
    return b;
}
static bool changed(const LeftJoin &lj, const PgArray<DeltaInput> &deltas) {
    for (const DeltaInput &d : deltas)
        if (d.relid == lj.b_relid) return true;
    return false;
}

// With several outer joins (each nullable side one table b_i with key p_i.x = b_i.y, p_i.x an
// output column), a row is *touched* when some p_i.x is in K_i, the keys of b_i's changed rows.
// A combination of the other inputs' rows whose rows are untouched gives the same rows under
// the old and the new state of every b_i (each b_i's matches depend on b_i only through the rows
// of key p_i.x), so (A) keeps the untouched rows of the other inputs' terms, (B) removes the
// view's touched rows and (C) adds the query's touched rows: C_i, the rows with p_i.x in K_i and
// no earlier p_h.x in K_h (each touched row once).
char *left_delta_sql(Query *q, const PgArray<DeltaInput> &deltas, Oid viewrel, const LeftJoins &ljs) {
    char *a = delta_terms_sql(q, deltas, nullable_set(ljs));  // (A): the other inputs' changes
    if (a == nullptr) return nullptr;                         // too many terms: recompute
    bool any = false;
    for (int k = 0; k < ljs.n; ++k) any = any || changed(ljs.j[k], deltas);
    if (!any) return a;
    // untouched(x): no changed join's key of row x in its keys
    auto untouched = [&](const char *x) {
        StringInfoData c;
        initStringInfo(&c);
        for (int k = 0; k < ljs.n; ++k)
            if (changed(ljs.j[k], deltas))
                appendStringInfo(&c, "%sNOT %s", c.len > 0 ? " AND " : "",
                                 in_keys(ljs.j[k], psprintf("%s.%s", x, ljs.j[k].key_col)));
        return c.data;
    };
    StringInfoData sql;
    initStringInfo(&sql);
    if (a[0] != '\0') appendStringInfo(&sql, "SELECT * FROM (%s) d WHERE %s\nUNION ALL\n", a, untouched("d"));
    Relation rel = relation_open(viewrel, AccessShareLock);
    const char *vname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                                   RelationGetRelationName(rel));
    char *vcols = view_columns_sql(rel, "v");
    relation_close(rel, NoLock);
    // (B) the view's touched rows out, (C) the query's touched rows in.
    appendStringInfo(&sql, "SELECT %s, -1 AS __pm_sign FROM ONLY %s v WHERE NOT (%s)", vcols, vname,
                     untouched("v"));
    StringInfoData before;  // NOT in the keys of the earlier changed joins
    initStringInfo(&before);
    for (int k = 0; k < ljs.n; ++k) {
        const LeftJoin &lj = ljs.j[k];
        if (!changed(lj, deltas)) continue;
        if (before.len == 0)
            appendStringInfo(&sql, "\nUNION ALL\n%s", restricted_sql(q, lj));
        else
            appendStringInfo(&sql, "\nUNION ALL\nSELECT * FROM (%s) c WHERE %s", restricted_sql(q, lj), before.data);
        appendStringInfo(&before, "%sNOT %s", before.len > 0 ? " AND " : "",
                         in_keys(lj, psprintf("c.%s", lj.key_col)));
    }
    return sql.data;
}

// Drops the conditions that read b outside the outer join's own ON clause (WHERE, inner joins'
// ON): then every combination of the other inputs' rows that passes their own conditions gives
// at least one row, matched or NULL-extended, whatever b holds.
static Node *drop_b_quals(Query *q, Node *quals, const LeftJoins &ljs) {
    if (quals == nullptr) return nullptr;
    List *keep = NIL;
    ListCell *lc;
    foreach (lc, make_ands_implicit(reinterpret_cast<Expr *>(quals))) {
        Node *c = static_cast<Node *>(lfirst(lc));
        bool reads = false;
        for (int k = 0; k < ljs.n && !reads; ++k) reads = refs_rt(q, c, ljs.j[k].b_rtindex);
        if (!reads) keep = lappend(keep, c);
    }
    return keep == NIL ? nullptr : reinterpret_cast<Node *>(make_ands_explicit(keep));
}
static void relax(Query *q, Node *n, const LeftJoins &b) {
    if (n == nullptr) return;
    if (IsA(n, FromExpr)) {
        FromExpr *f = castNode(FromExpr, n);
        f->quals = drop_b_quals(q, f->quals, b);
        ListCell *lc;
        foreach (lc, f->fromlist) relax(q, static_cast<Node *>(lfirst(lc)), b);
    } else if (IsA(n, JoinExpr)) {
        JoinExpr *j = castNode(JoinExpr, n);
        if (j->jointype == JOIN_INNER) j->quals = drop_b_quals(q, j->quals, b);
        relax(q, j->larg, b);
        relax(q, j->rarg, b);
    }
}

char *left_agg_delta_sql(Query *q, const PgArray<DeltaInput> &deltas, const LeftJoins &ljs) {
    // R: the join before grouping (group keys __pm_k<i>, aggregate arguments __pm_a<j>), the
    // nullable sides' conditions outside their outer joins' ON dropped, and each outer join's
    // preserved key as __pm_lk<k>.
    Query *r = static_cast<Query *>(copyObject(delta_source_query(q)));
    relax(r, reinterpret_cast<Node *>(r->jointree), ljs);
    StringInfoData cols;
    initStringInfo(&cols);
    ListCell *lc;
    foreach (lc, r->targetList) {
        TargetEntry *te = static_cast<TargetEntry *>(lfirst(lc));
        appendStringInfo(&cols, "x.%s, ", quote_identifier(te->resname));
    }
    for (int k = 0; k < ljs.n; ++k) {
        const LeftJoin &lj = ljs.j[k];
        Var *pv = makeVar(lj.p_varno, lj.p_attno, lj.p_type, lj.p_typmod, lj.p_coll, 0);
        r->targetList = lappend(r->targetList,
                                makeTargetEntry(reinterpret_cast<Expr *>(pv),
                                                static_cast<AttrNumber>(list_length(r->targetList) + 1),
                                                pstrdup(lj.key_col), false));
    }
    char *a = delta_terms_sql(r, deltas, nullable_set(ljs));  // the other inputs' changes, b new
    if (a == nullptr) return nullptr;                         // too many terms: recompute
    // Every row's sign is +1: the rows only name the groups to recompute, and rows of opposite
    // signs must not cancel (a preserved row replaced by an equal one whose b condition differs).
    StringInfoData sql;
    initStringInfo(&sql);
    if (a[0] != '\0') appendStringInfo(&sql, "SELECT %s1 AS __pm_sign FROM (%s) x", cols.data, a);
    for (int k = 0; k < ljs.n; ++k)
        if (changed(ljs.j[k], deltas))
            appendStringInfo(&sql, "%sSELECT %s1 AS __pm_sign FROM (%s) x", sql.len > 0 ? "\nUNION ALL\n" : "",
                             cols.data, restricted_sql(r, ljs.j[k]));
    return sql.data;
}

static void register_keys(const LeftJoin &lj, const PgArray<DeltaInput> &deltas) {
    const char *ycol = quote_identifier(get_attname(lj.b_relid, lj.b_attnum, false));
    StringInfoData k;
    initStringInfo(&k);
    for (const DeltaInput &d : deltas) {
        if (d.relid != lj.b_relid) continue;
        if (k.len > 0) appendStringInfoString(&k, " UNION ALL ");
        appendStringInfo(&k, "SELECT %s AS y FROM %s", ycol, quote_identifier(delta_enr_name(d.relid, d.deleted)));
    }
    if (k.len == 0) return;
    // Distinct by the default equality of b's key type, which is the ON equality's family
    // (distinct_ok): each preserved key then matches at most one of them. NULLs match nothing.
    char *sql = psprintf("SELECT %s k.y FROM (%s) k WHERE k.y IS NOT NULL", lj.distinct_ok ? "DISTINCT" : "",
                         k.data);
    if (SPI_execute(sql, true, 0) != SPI_OK_SELECT) elog(ERROR, "view key query failed: %s", sql);
    TupleDesc desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
    Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
    for (uint64 r = 0; r < SPI_processed; ++r) tuplestore_puttuple(ts, SPI_tuptable->vals[r]);
    double n = static_cast<double>(SPI_processed);
    SPI_freetuptable(SPI_tuptable);
    (void)register_tuplestore(lj.keys_enr, desc, ts, n);
}

void register_left_keys(const LeftJoins &ljs, const PgArray<DeltaInput> &deltas) {
    for (int k = 0; k < ljs.n; ++k) register_keys(ljs.j[k], deltas);
}

}  // namespace pm::pg::views
