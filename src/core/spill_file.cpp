// spill_file.cpp — spill-file handles: io_uring (batched writes) and a pread/pwrite fallback.
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <liburing.h>
#include <unistd.h>

#include "parallel_material/core/tuple_log.hpp"

namespace pm::core {

namespace {

[[noreturn]] void io_error(const char *what, int err, uint64_t offset) {
    throw Error(Error::Code::Io, std::string("spill file: ") + what + " at offset " +
                                     std::to_string(offset) + ": " + std::strerror(err));
}

class SyncSpillFile final : public SpillFile {
  public:
    explicit SyncSpillFile(int fd) : fd_(fd) {}

    void write(uint64_t offset, const void *data, size_t len) override {
        const char *p = static_cast<const char *>(data);
        while (len > 0) {
            ssize_t r = ::pwrite(fd_, p, len, static_cast<off_t>(offset));
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                io_error("pwrite", errno, offset);
            }
            if (r == 0)
                io_error("pwrite wrote nothing", EIO, offset);
            p += r;
            offset += static_cast<uint64_t>(r);
            len -= static_cast<size_t>(r);
        }
    }

    void read(uint64_t offset, void *buf, size_t len) override {
        char *p = static_cast<char *>(buf);
        while (len > 0) {
            ssize_t r = ::pread(fd_, p, len, static_cast<off_t>(offset));
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                io_error("pread", errno, offset);
            }
            if (r == 0)
                io_error("pread hit end of file", EIO, offset);
            p += r;
            offset += static_cast<uint64_t>(r);
            len -= static_cast<size_t>(r);
        }
    }

    const char *mode_name() const override { return "sync"; }

  private:
    int fd_;
};

// One ring per handle. A mutex keeps the handle usable from several threads of one process
// (io_uring submission/completion queues are single-threaded).
class UringSpillFile final : public SpillFile {
  public:
    static constexpr unsigned kDepth = 16;

    explicit UringSpillFile(int fd) : fd_(fd) {
        int r = io_uring_queue_init(kDepth, &ring_, 0);
        if (r < 0)
            throw Error(Error::Code::Io,
                        std::string("spill file: io_uring_queue_init: ") + std::strerror(-r));
    }
    ~UringSpillFile() override { io_uring_queue_exit(&ring_); }
    UringSpillFile(const UringSpillFile &) = delete;
    UringSpillFile &operator=(const UringSpillFile &) = delete;

    void write(uint64_t offset, const void *data, size_t len) override {
        write_batch(&offset, &data, len, 1);
    }

    void write_batch(const uint64_t *offsets, const void *const *datas, size_t len,
                     size_t count) override {
        std::vector<Op> ops(count);
        for (size_t i = 0; i < count; ++i)
            ops[i] = Op{offsets[i], const_cast<char *>(static_cast<const char *>(datas[i])), len};
        run(ops, true);
    }

    void read(uint64_t offset, void *buf, size_t len) override {
        std::vector<Op> ops{Op{offset, static_cast<char *>(buf), len}};
        run(ops, false);
    }

    const char *mode_name() const override { return "io_uring"; }

  private:
    struct Op {
        uint64_t offset;
        char *buf;
        size_t left;
    };

    // Submits every unfinished op (up to the ring depth at a time), waits for all of their
    // completions, and resubmits the rest of short transfers until everything is done.
    void run(std::vector<Op> &ops, bool is_write) {
        std::lock_guard<std::mutex> lock(mu_);
        size_t next = 0;  // ops before next have been submitted at least once
        std::vector<size_t> retry;
        size_t in_flight = 0;
        int first_err = 0;
        uint64_t err_off = 0;
        while (next < ops.size() || !retry.empty() || in_flight > 0) {
            // Fill the submission queue.
            while (in_flight < kDepth && (!retry.empty() || next < ops.size())) {
                size_t i;
                if (!retry.empty()) {
                    i = retry.back();
                    retry.pop_back();
                } else {
                    i = next++;
                }
                io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
                if (sqe == nullptr) {
                    retry.push_back(i);
                    break;
                }
                const unsigned n = static_cast<unsigned>(std::min<size_t>(ops[i].left, 1u << 30));
                if (is_write)
                    io_uring_prep_write(sqe, fd_, ops[i].buf, n, ops[i].offset);
                else
                    io_uring_prep_read(sqe, fd_, ops[i].buf, n, ops[i].offset);
                io_uring_sqe_set_data64(sqe, i);
                ++in_flight;
            }
            int r = io_uring_submit_and_wait(&ring_, 1);
            if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
                drain(in_flight);
                io_error(is_write ? "io_uring submit (write)" : "io_uring submit (read)", -r,
                         ops.empty() ? 0 : ops[0].offset);
            }
            io_uring_cqe *cqe;
            unsigned head, seen = 0;
            io_uring_for_each_cqe(&ring_, head, cqe) {
                ++seen;
                const size_t i = static_cast<size_t>(io_uring_cqe_get_data64(cqe));
                const int res = cqe->res;
                --in_flight;
                if (res == -EINTR || res == -EAGAIN) {
                    retry.push_back(i);
                } else if (res < 0) {
                    if (first_err == 0) {
                        first_err = -res;
                        err_off = ops[i].offset;
                    }
                } else if (res == 0) {
                    if (first_err == 0) {
                        first_err = EIO;
                        err_off = ops[i].offset;
                    }
                } else {
                    ops[i].buf += res;
                    ops[i].offset += static_cast<uint64_t>(res);
                    ops[i].left -= static_cast<size_t>(res);
                    if (ops[i].left > 0)
                        retry.push_back(i);  // short transfer: submit the rest
                }
            }
            io_uring_cq_advance(&ring_, seen);
            if (first_err != 0) {
                drain(in_flight);
                io_error(is_write ? "io_uring write" : "io_uring read (or end of file)", first_err,
                         err_off);
            }
        }
    }

    // Waits out completions still in flight before throwing (their buffers belong to callers).
    void drain(size_t in_flight) {
        while (in_flight > 0) {
            io_uring_cqe *cqe;
            int r = io_uring_wait_cqe(&ring_, &cqe);
            if (r == -EINTR)
                continue;
            if (r < 0)
                return;
            io_uring_cqe_seen(&ring_, cqe);
            --in_flight;
        }
    }

    int fd_;
    io_uring ring_{};
    std::mutex mu_;
};

}  // namespace

void SpillFile::write_batch(const uint64_t *offsets, const void *const *datas, size_t len,
                            size_t count) {
    for (size_t i = 0; i < count; ++i) write(offsets[i], datas[i], len);
}

std::unique_ptr<SpillFile> open_spill_file(int fd, SpillMode mode) {
    if (fd < 0)
        throw Error(Error::Code::InvalidArgument, "spill file: bad file descriptor");
    switch (mode) {
        case SpillMode::Sync:
            return std::make_unique<SyncSpillFile>(fd);
        case SpillMode::IoUring:
            return std::make_unique<UringSpillFile>(fd);
        case SpillMode::Auto:
        default:
            try {
                return std::make_unique<UringSpillFile>(fd);
            } catch (const Error &) {
                return std::make_unique<SyncSpillFile>(fd);
            }
    }
}

}  // namespace pm::core
