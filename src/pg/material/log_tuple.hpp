// log_tuple.hpp — the form in which a row enters a tuple log or a shared result entry.
//
// A materialized row is read many times: once per rescan of a nested loop's inner side, once per
// outer row of a SubPlan. PostgreSQL stores every short varlena with a 1-byte header, and a
// function that reads its argument with PG_DETOAST_DATUM (numeric, arrays, jsonb, ranges, ...)
// copies such a value into a palloc'd 4-byte-header form on every call: a palloc, a copy and a
// free per comparison, for every read of the row. Stock Material keeps the packed form, so a
// join filter over numeric columns of its inner pays that on every rescan. LogTupleForm stores
// those values unpacked once, when the row is materialized (an aligned 4-byte header, as an
// on-disk value longer than 126 bytes already has), so every later read uses them in place.
// Only rows the child computes (virtual slots, formed into a tuple anyway) are; a table row
// passed up unchanged is copied whole as before (re-forming it would cost more than it saves).
// The tuple is the same row for every reader (any deforming code handles both header forms);
// only its bytes differ. String types (text, varchar, bpchar, bytea, ...) stay packed: their
// functions read short headers directly, so unpacking them would only cost space.
// Every place a row enters a log or an entry goes through one form, so the bytes a session
// produces and the bytes a take-over reader re-checks are formed alike.
#pragma once

#include "pg/pg.hpp"

extern "C" {
#include "executor/tuptable.h"
}

namespace pm::pg {

struct LogTupleForm {
    MemoryContext cxt;    // where the form lives (the query's memory); null: not prepared
    bool ready;           // set up for the rows' descriptor (on the first row)
    bool any;             // some attribute is unpacked; otherwise rows are fetched as usual
    int natts;
    bool *unpack;         // per attribute
    TupleDesc plain;      // the slot's descriptor with plain storage for unpacked attributes
    Datum *values;        // scratch
    MemoryContext row_cxt;  // the formed tuple and unpacked copies of the current row
};

// Prepares an all-zero form; its allocations go to cxt (the query's memory), made on the first
// row, for that row's descriptor.
inline void log_tuple_prepare(LogTupleForm *f, MemoryContext cxt) {
    *f = LogTupleForm{};
    f->cxt = cxt;
}

// The row in slot as the minimal tuple to append. Valid until the next call (should_free is
// then false), or owned by the caller when should_free is set. May ereport.
MinimalTuple log_tuple_fetch(LogTupleForm *f, TupleTableSlot *slot, bool *should_free);

}  // namespace pm::pg
