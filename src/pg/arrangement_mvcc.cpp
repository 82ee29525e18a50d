// arrangement_mvcc.cpp — visibility of stored versions: HeapTupleSatisfiesMVCC's rules applied to
// the (xmin, cmin, xmax, cmax) a version carries, plus the "current version of a TID" and "dead to
// every snapshot" tests used by maintenance and reclaim. Plain PostgreSQL code: callers wrap each
// call in pg_call (clog lookups may raise errors).
#include "pg/arrangement.hpp"

extern "C" {
#include "access/transam.h"
#include "access/xact.h"
#include "storage/procarray.h"
#include "utils/snapmgr.h"
}

namespace pm::pg::arr {

bool version_visible(const core::VersionView &v, Snapshot snap) {
    TransactionId xmin = v.xmin;
    TransactionId xmax = v.xmax;
    if (TransactionIdIsCurrentTransactionId(xmin)) {
        if (v.cmin >= snap->curcid) return false;  // inserted by this or a later command
        if (!TransactionIdIsValid(xmax)) return true;
        // Deleted by a subtransaction that aborted: still there.
        if (!TransactionIdIsCurrentTransactionId(xmax)) return true;
        return v.cmax >= snap->curcid;  // deleted by this or a later command: still visible
    }
    if (XidInMVCCSnapshot(xmin, snap)) return false;
    if (!TransactionIdDidCommit(xmin)) return false;  // aborted or crashed
    // The inserter committed before the snapshot.
    if (!TransactionIdIsValid(xmax)) return true;
    if (TransactionIdIsCurrentTransactionId(xmax)) return v.cmax >= snap->curcid;
    if (XidInMVCCSnapshot(xmax, snap)) return true;
    if (!TransactionIdDidCommit(xmax)) return true;  // deleter aborted
    return false;
}

bool version_current(const core::VersionView &v) {
    TransactionId xmax = v.xmax;
    if (!TransactionIdIsValid(xmax)) return true;
    if (TransactionIdIsCurrentTransactionId(xmax)) return false;
    // Another deleter of the same row has finished (row locks order deleters): committed means
    // the row is gone, anything else means it aborted (or crashed).
    return !TransactionIdIsInProgress(xmax) && !TransactionIdDidCommit(xmax);
}

bool version_dead(const core::VersionView &v, TransactionId oldest_xmin) {
    TransactionId xmin = v.xmin;
    if (TransactionIdIsNormal(xmin) && TransactionIdPrecedes(xmin, oldest_xmin) &&
        !TransactionIdDidCommit(xmin))
        return true;  // inserter aborted (finished before every running transaction)
    TransactionId xmax = v.xmax;
    return TransactionIdIsNormal(xmax) && TransactionIdPrecedes(xmax, oldest_xmin) &&
           TransactionIdDidCommit(xmax);
}

}  // namespace pm::pg::arr
