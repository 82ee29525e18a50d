// share_allowlist.cpp — the catalog checks behind share_analysis' allowlist: which functions,
// operators (with the support functions of their operator families), types, indexes and domains
// a shareable subtree may use. "Built-in" means an oid below FirstGenbkiObjectId: the objects
// of the .dat files, compiled into the server, whose code no role can replace without being
// superuser and editing pg_proc by hand. Objects between FirstGenbkiObjectId and
// FirstNormalObjectId are created by initdb's SQL scripts (information_schema, system_views,
// system_functions.sql: SQL-language functions, replaceable with CREATE OR REPLACE) and are not
// on the list.
#include "pg/share/share_allowlist.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/transam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/guc.h"
}

namespace pm::pg {

namespace {

bool builtin(Oid oid) { return oid < FirstGenbkiObjectId; }

bool debug_trust_immutable_functions = false;

const char *volatility_word(char v) {
    return v == PROVOLATILE_STABLE ? "stable" : v == PROVOLATILE_VOLATILE ? "volatile" : "mutable";
}

}  // namespace

const char *function_reason(Oid funcid) {
    if (!OidIsValid(funcid)) return "function not resolved";
    HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
    if (!HeapTupleIsValid(tup)) return "function not found";
    auto *p = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tup));
    char volatility = p->provolatile;
    bool text_search = p->prorettype == REGCONFIGOID || p->prorettype == REGDICTIONARYOID;
    for (int i = 0; i < p->pronargs && !text_search; i++) {
        Oid t = p->proargtypes.values[i];
        text_search = t == REGCONFIGOID || t == REGDICTIONARYOID;
    }
    ReleaseSysCache(tup);
    if (!builtin(funcid) && !(debug_trust_immutable_functions && volatility == PROVOLATILE_IMMUTABLE))
        return psprintf("function %s is not built-in", format_procedure(funcid));
    if (volatility != PROVOLATILE_IMMUTABLE)
        return psprintf("%s function %s", volatility_word(volatility), format_procedure(funcid));
    // Immutable, but its result follows ALTER TEXT SEARCH CONFIGURATION/DICTIONARY, which no
    // data version counts.
    if (text_search)
        return psprintf("function %s reads a text search configuration", format_procedure(funcid));
    return nullptr;
}

const char *operator_reason(Oid opno) {
    if (!OidIsValid(opno)) return "operator not resolved";
    if (!builtin(opno)) return psprintf("operator %s is not built-in", format_operator(opno));
    return function_reason(get_opcode(opno));
}

const char *family_compare_reason(Oid opfamily, Oid lefttype, Oid righttype) {
    if (!builtin(opfamily)) return "operator family is not built-in";
    Oid cmp = get_opfamily_proc(opfamily, lefttype, righttype, BTORDER_PROC);
    if (!OidIsValid(cmp)) return "operator family has no comparison function";
    if (const char *r = function_reason(cmp)) return r;
    Oid ssup = get_opfamily_proc(opfamily, lefttype, righttype, BTSORTSUPPORT_PROC);
    return OidIsValid(ssup) ? function_reason(ssup) : nullptr;
}

const char *sort_operator_reason(Oid opno) {
    if (const char *r = operator_reason(opno)) return r;
    Oid opfamily, opcintype;
    // Not a B-tree ordering operator (an index scan's ORDER BY distance operator): the operator
    // alone is what runs.
    if (!pm_get_ordering_op_properties(opno, &opfamily, &opcintype)) return nullptr;
    return family_compare_reason(opfamily, opcintype, opcintype);
}

const char *equality_operator_reason(Oid opno) {
    if (const char *r = operator_reason(opno)) return r;
    RegProcedure lhs = InvalidOid, rhs = InvalidOid;
    if (get_op_hash_functions(opno, &lhs, &rhs)) {
        if (const char *r = function_reason(lhs)) return r;
        if (rhs != lhs)
            if (const char *r = function_reason(rhs)) return r;
    }
    return nullptr;
}

const char *type_reason(Oid typid) {
    check_stack_depth();
    if (typid == RECORDOID || typid == RECORDARRAYOID) return "anonymous record column";
    if (builtin(typid)) return nullptr;
    HeapTuple tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
    if (!HeapTupleIsValid(tup)) return "type not found";
    auto *t = reinterpret_cast<Form_pg_type>(GETSTRUCT(tup));
    char typtype = t->typtype;
    Oid base = t->typbasetype, elem = t->typelem, relid = t->typrelid;
    bool is_array = OidIsValid(elem) && t->typsubscript == F_ARRAY_SUBSCRIPT_HANDLER;
    bool builtin_io = builtin(t->typinput) && builtin(t->typoutput) &&
                      (!OidIsValid(t->typreceive) || builtin(t->typreceive)) &&
                      (!OidIsValid(t->typsend) || builtin(t->typsend));
    ReleaseSysCache(tup);
    switch (typtype) {
        case TYPTYPE_ENUM:
            return nullptr;  // the value is a pg_enum oid, the same in every backend
        case TYPTYPE_DOMAIN:
            return type_reason(base);
        case TYPTYPE_RANGE:
            return type_reason(get_range_subtype(typid));
        case TYPTYPE_MULTIRANGE:
            return type_reason(get_multirange_range(typid));
        case TYPTYPE_COMPOSITE: {
            // A named row type: its values carry the type's oid (typmod -1), readable anywhere.
            if (!OidIsValid(relid)) return "anonymous record column";
            TupleDesc desc = lookup_rowtype_tupdesc(typid, -1);
            const char *reason = nullptr;
            for (int i = 0; i < desc->natts && reason == nullptr; i++) {
                Form_pg_attribute a = TupleDescAttr(desc, i);
                if (!a->attisdropped) reason = type_reason(a->atttypid);
            }
            ReleaseTupleDesc(desc);
            return reason;
        }
        case TYPTYPE_BASE:
            if (is_array) return type_reason(elem);
            if (builtin_io) return nullptr;
            return psprintf("type %s is not built-in", format_type_be(typid));
        default:
            return psprintf("type %s is not supported for sharing", format_type_be(typid));
    }
}

const char *index_reason(Oid indexid, List **exprs) {
    *exprs = NIL;
    HeapTuple rel = SearchSysCache1(RELOID, ObjectIdGetDatum(indexid));
    if (!HeapTupleIsValid(rel)) return "index not found";
    Oid am = reinterpret_cast<Form_pg_class>(GETSTRUCT(rel))->relam;
    ReleaseSysCache(rel);
    if (!builtin(am)) return psprintf("index %s has an access method that is not built-in",
                                      get_rel_name(indexid));
    HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexid));
    if (!HeapTupleIsValid(tup)) return "index not found";
    const char *reason = nullptr;
    bool isnull;
    Datum d = SysCacheGetAttr(INDEXRELID, tup, Anum_pg_index_indclass, &isnull);
    if (!isnull) {
        auto *classes = reinterpret_cast<oidvector *>(DatumGetPointer(d));
        for (int i = 0; i < classes->dim1 && reason == nullptr; i++)
            if (!builtin(classes->values[i]))
                reason = psprintf("index %s has an operator class that is not built-in",
                                  get_rel_name(indexid));
    }
    const AttrNumber expr_atts[] = {Anum_pg_index_indexprs, Anum_pg_index_indpred};
    for (AttrNumber att : expr_atts) {
        if (reason != nullptr) break;
        d = SysCacheGetAttr(INDEXRELID, tup, att, &isnull);
        if (!isnull) *exprs = lappend(*exprs, stringToNode(TextDatumGetCString(d)));
    }
    ReleaseSysCache(tup);
    return reason;
}

const char *domain_reason(Oid domaintype) {
    if (DomainHasConstraints(domaintype))
        return psprintf("domain %s has constraints", format_type_be(domaintype));
    return nullptr;
}

void define_share_allowlist_gucs() {
    DefineCustomBoolVariable("parallel_material.debug_trust_immutable_functions",
                             "Test only: user-defined IMMUTABLE functions may be shared across "
                             "sessions (they could lie: never in production).",
                             nullptr, &debug_trust_immutable_functions, false, PGC_SUSET,
                             GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

}  // namespace pm::pg
