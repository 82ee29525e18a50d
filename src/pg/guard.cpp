// guard.cpp — out-of-line parts of the boundary guards (see guard.hpp).
#include "pg/guard.hpp"

namespace pm::pg {

const char *PgException::what() const noexcept {
    return edata_ != nullptr && edata_->message != nullptr ? edata_->message : "PostgreSQL error";
}

namespace detail {

void throw_pg_exception(ErrorData *edata) { throw PgException(edata); }

void copy_message(char *dst, size_t size, const char *src) noexcept {
    if (src == nullptr) src = "";
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int sqlstate_for(core::Error::Code code) noexcept {
    switch (code) {
        case core::Error::Code::OutOfMemory:
            return ERRCODE_OUT_OF_MEMORY;
        case core::Error::Code::InvalidArgument:
            return ERRCODE_INVALID_PARAMETER_VALUE;
        case core::Error::Code::Io:
            return ERRCODE_IO_ERROR;
        case core::Error::Code::Cancelled:
            return ERRCODE_QUERY_CANCELED;
        case core::Error::Code::Internal:
            break;
    }
    return ERRCODE_INTERNAL_ERROR;
}

// Called with no C++ object alive in the calling frame that needs destruction.
void raise_from_cpp(ErrorData *edata, int sqlerrcode, const char *message) {
    if (edata != nullptr) ReThrowError(edata);
    ereport(ERROR, (errcode(sqlerrcode), errmsg("parallel_material: %s", message)));
    pg_unreachable();
}

}  // namespace detail
}  // namespace pm::pg
