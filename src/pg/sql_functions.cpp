// sql_functions.cpp — SQL-callable functions: version, cluster-wide stats, boundary diagnostics.
// Each is a thin extern "C" shim over pm::pg::guarded.
#include "pg/guard.hpp"
#include "pg/shmem.hpp"

extern "C" {
#include "access/htup_details.h"
}

extern "C" {
PGDLLEXPORT Datum pm_version(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_stats(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pm_debug_boundary(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pm_version);
PG_FUNCTION_INFO_V1(pm_stats);
PG_FUNCTION_INFO_V1(pm_debug_boundary);
}

namespace {

// Counts destructors that ran while a PostgreSQL error unwound C++ frames (debug_boundary).
long g_unwound_destructors = 0;

struct UnwindWitness {
    ~UnwindWitness() { ++g_unwound_destructors; }
};

Datum debug_boundary(FunctionCallInfo fcinfo) {
    const char *mode = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (strcmp(mode, "destructors") == 0) return Int64GetDatum(g_unwound_destructors);
    if (strcmp(mode, "ok") == 0) return Int64GetDatum(0);
    if (strcmp(mode, "cxx_error") == 0) throw std::runtime_error("C++ exception raised on purpose");
    if (strcmp(mode, "core_error") == 0)
        throw pm::core::Error(pm::core::Error::Code::InvalidArgument, "core error raised on purpose");
    if (strcmp(mode, "bad_alloc") == 0) throw std::bad_alloc();
    if (strcmp(mode, "pg_error") == 0) {
        // A PostgreSQL error raised under a C++ frame that owns a destructor: pg_call turns it
        // into PgException, the witness is destroyed, guarded() re-raises it with its SQLSTATE.
        UnwindWitness witness;
        Datum d = pm::pg::pg_call(
            [] { return DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
        return d;
    }
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("unknown debug_boundary mode \"%s\"", mode),
                    errhint("Valid modes: ok, cxx_error, core_error, bad_alloc, pg_error, "
                            "destructors.")));
    pg_unreachable();
}

Datum stats(FunctionCallInfo fcinfo) {
    pm::pg::SharedState *state = pm::pg::require_shared_state("parallel_material.stats");
    TupleDesc tupdesc;
    if (get_call_result_type(fcinfo, nullptr, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "return type must be a row type");
    tupdesc = BlessTupleDesc(tupdesc);
    Datum values[5];
    bool nulls[5] = {false, false, false, false, false};
    values[0] = Int64GetDatum(pg_atomic_read_u64(&state->stats.materializations));
    values[1] = Int64GetDatum(pg_atomic_read_u64(&state->stats.rows_written));
    values[2] = Int64GetDatum(pg_atomic_read_u64(&state->stats.bytes_written));
    values[3] = Int64GetDatum(pg_atomic_read_u64(&state->stats.pages_spilled));
    values[4] = Int64GetDatum(pg_atomic_read_u64(&state->stats.fallbacks));
    return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

}  // namespace

Datum pm_version(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return CStringGetTextDatum("0.2"); });
}

Datum pm_stats(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return stats(fcinfo); });
}

Datum pm_debug_boundary(PG_FUNCTION_ARGS) {
    return pm::pg::guarded([&] { return debug_boundary(fcinfo); });
}
