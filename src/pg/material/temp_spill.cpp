// temp_spill.cpp — opens, accounts and removes the temporary files that hold spilled pages.
#include "pg/material/temp_spill.hpp"
#include "pg/compat.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "pg/gucs.hpp"

extern "C" {
#include "catalog/pg_tablespace_d.h"
#include "commands/tablespace.h"
#include "storage/fd.h"
}

namespace pm::pg {

namespace {
std::atomic<uint64_t> g_file_counter{0};
}

core::SpillMode spill_mode_setting() {
    switch (static_cast<SpillIo>(settings.spill_io)) {
        case SpillIo::IoUring:
            return core::SpillMode::IoUring;
        case SpillIo::Sync:
            return core::SpillMode::Sync;
        case SpillIo::Auto:
            break;
    }
    return core::SpillMode::Auto;
}

void TempSpillFile::temp_dir(char *out, size_t size) {
    PrepareTempTablespaces();
    Oid tablespace = GetNextTempTableSpace();
    if (!OidIsValid(tablespace)) tablespace = MyDatabaseTableSpace;
    char path[MAXPGPATH];
    TempTablespacePath(path, tablespace);
    strlcpy(out, path, size);
}

TempSpillFile::TempSpillFile(const char *dir, core::SpillMode mode) : mode_(mode) {
    strlcpy(dir_, dir, sizeof(dir_));
}

TempSpillFile::TempSpillFile(Shared, const char *path, core::SpillMode mode) : mode_(mode) {
    dir_[0] = '\0';
    strlcpy(shared_path_, path, sizeof(shared_path_));
}

void TempSpillFile::create_shared(const char *dir, char *out, size_t size) {
    (void)mkdir(dir, S_IRWXU);
    snprintf(out, size, "%s/%s%d.pmshared%llu", dir, PG_TEMP_FILE_PREFIX, MyProcPid,
             static_cast<unsigned long long>(g_file_counter.fetch_add(1)));
    int fd = open(out, O_RDWR | O_CREAT | O_EXCL | PG_BINARY, S_IRUSR | S_IWUSR);
    if (fd < 0)
        throw core::Error(core::Error::Code::Io, std::string("could not create spill file \"") +
                                                     out + "\": " + strerror(errno));
    close(fd);
}

OpenedSpillFile::~OpenedSpillFile() {
    inner_.reset();
    if (fd_ >= 0) {
        close(fd_);
        ReleaseExternalFD();
    }
}

core::SpillFile &OpenedSpillFile::open(const char *path, int flags, core::SpillMode mode,
                                       const char *what) {
    if (!AcquireExternalFD())
        throw core::Error(core::Error::Code::Io,
                          "could not open a spill file: too many open files in this backend");
    const int fd = ::open(path, flags | PG_BINARY, S_IRUSR | S_IWUSR);
    if (fd < 0) {
        const int err = errno;
        ReleaseExternalFD();
        throw core::Error(core::Error::Code::Io,
                          std::string(what) + " \"" + path + "\": " + strerror(err));
    }
    try {
        inner_ = core::open_spill_file(fd, mode);
    } catch (...) {
        close(fd);
        ReleaseExternalFD();
        throw;
    }
    fd_ = fd;
    return *inner_;
}

TempSpillFile::~TempSpillFile() = default;

core::SpillFile &TempSpillFile::file() {
    if (file_.opened()) return file_.get();
    if (shared_path_[0] != '\0')  // shared: the leader created it; gone when the query is over
        return file_.open(shared_path_, O_RDWR, mode_, "could not open spill file");
    (void)mkdir(dir_, S_IRWXU);  // like MakePGDirectory; EEXIST is fine
    char path[MAXPGPATH];
    snprintf(path, sizeof(path), "%s/%s%d.pm%llu", dir_, PG_TEMP_FILE_PREFIX, MyProcPid,
             static_cast<unsigned long long>(g_file_counter.fetch_add(1)));
    core::SpillFile &f = file_.open(path, O_RDWR | O_CREAT | O_EXCL, mode_,
                                    "could not create spill file");
    unlink(path);  // anonymous from now on: gone when closed or when the process dies
    return f;
}

void TempSpillFile::write(uint64_t offset, const void *data, size_t len) {
    file().write(offset, data, len);
}

void TempSpillFile::read(uint64_t offset, void *buf, size_t len) { file().read(offset, buf, len); }

void TempSpillFile::write_batch(const uint64_t *offsets, const void *const *datas, size_t len,
                                size_t count) {
    file().write_batch(offsets, datas, len, count);
}

const char *TempSpillFile::mode_name() const { return file_.mode_name(); }

}  // namespace pm::pg
