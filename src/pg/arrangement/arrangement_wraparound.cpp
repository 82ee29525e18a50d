// arrangement_wraparound.cpp — keeps stored 32-bit xids from being misread after the xid counter
// moves on. Versions carry raw xmin/xmax; PostgreSQL compares xids modulo 2^32 and answers
// commit-log questions only for xids at or after the commit log's horizon. The heap stays safe by
// freezing; an arrangement does not freeze in place, it is rebuilt instead (the build stores
// FrozenTransactionId for frozen heap tuples). Each directory entry keeps a lower bound of the
// normal xids its versions hold (docs/arrangements.md, "Xid wraparound"):
//   * the build sets it (the scan's horizon or relfrozenxid, whichever is later, and every stored
//     xid), reclaim passes raise it (the oldest xid among the versions they keep);
//   * a reader opening the arrangement (pin_or_build) rebuilds it first when the bound precedes
//     the table's relfrozenxid (VACUUM froze or removed tuples whose xids we still hold) or the
//     commit log's horizon; so does the reclaim worker, for the commit log's horizon, without a
//     database;
//   * a clog lookup for an xid older than the commit log's horizon (a race with a concurrent
//     truncation) raises an error instead of answering (arrangement_mvcc.cpp).
#include "pg/arrangement/arrangement.hpp"
#include "pg/compat.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/transam.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
}

namespace pm::pg::arr {

namespace {

// The oldest xid whose commit status the commit log still holds.
TransactionId clog_horizon() {
    LWLockAcquire(XactTruncationLock, LW_SHARED);
    TransactionId x = pm_transam_variables()->oldestClogXid;
    LWLockRelease(XactTruncationLock);
    return x;
}

bool precedes(TransactionId a, TransactionId b) {
    return TransactionIdIsNormal(a) && TransactionIdIsNormal(b) && TransactionIdPrecedes(a, b);
}

}  // namespace

const char *xids_too_old(TransactionId oldest, TransactionId relfrozenxid) {
    if (precedes(oldest, relfrozenxid))
        return "it holds transaction ids older than the table's relfrozenxid";
    if (precedes(oldest, clog_horizon()))
        return "it holds transaction ids older than the commit log";
    return nullptr;
}

bool xids_past_clog(TransactionId oldest) { return precedes(oldest, clog_horizon()); }

void invalidate_wraparound_risks() {
    TransactionId horizon = clog_horizon();
    for (int slot = 0; slot < kMaxArrangements; ++slot) {
        EntryInfo e = pin_slot_if_ready(slot);
        if (e.slot < 0) continue;
        bool old = precedes(e.oldest_xid, horizon);
        unpin(slot);
        if (old) set_invalid(slot, "it holds transaction ids older than the commit log", LOG);
    }
}

void XidFloor::see(const core::VersionView &v) {
    TransactionId x = v.xmin;
    if (TransactionIdIsNormal(x) && (!TransactionIdIsValid(oldest) || TransactionIdPrecedes(x, oldest)))
        oldest = x;
    x = v.xmax;
    if (TransactionIdIsNormal(x) && (!TransactionIdIsValid(oldest) || TransactionIdPrecedes(x, oldest)))
        oldest = x;
}

void note_reclaim_floor(int slot, const XidFloor &floor, TransactionId horizon) {
    TransactionId bound = horizon;
    if (TransactionIdIsValid(floor.oldest) && TransactionIdPrecedes(floor.oldest, bound))
        bound = floor.oldest;
    if (TransactionIdIsNormal(bound)) raise_oldest_xid(slot, bound);
}

}  // namespace pm::pg::arr
