// futex_wait.cpp — FutexWaitHooks: sleep/wake on a shared 32-bit word with futex(2).
#include <cerrno>
#include <climits>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "parallel_material/core/tuple_log.hpp"

namespace pm::core {

namespace {
// Not FUTEX_PRIVATE_FLAG: the word lives in memory shared by fork()ed processes.
long futex(std::atomic<uint32_t> *word, int op, uint32_t val, const timespec *timeout) {
    return ::syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), op, val, timeout, nullptr, 0);
}
}  // namespace

void FutexWaitHooks::prepare_to_sleep() {
    seen_ = word_->load(std::memory_order_acquire);
}

void FutexWaitHooks::sleep() {
    // The timeout is only a safety net (e.g. a writer without hooks); wake_all is the signal.
    const timespec ts{0, 10 * 1000 * 1000};
    futex(word_, FUTEX_WAIT, seen_, &ts);
}

void FutexWaitHooks::wake_all() {
    word_->fetch_add(1, std::memory_order_acq_rel);
    futex(word_, FUTEX_WAKE, INT_MAX, nullptr);
}

}  // namespace pm::core
