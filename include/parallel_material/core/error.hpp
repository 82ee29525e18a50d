// error.hpp — the one exception type core code throws; the adapter maps its Code to a SQLSTATE.
#pragma once

#include <stdexcept>
#include <string>

namespace pm::core {

class Error : public std::runtime_error {
public:
    enum class Code { Internal, OutOfMemory, InvalidArgument, Io, Cancelled };

    Error(Code code, const std::string &message) : std::runtime_error(message), code_(code) {}
    Code code() const noexcept { return code_; }

private:
    Code code_;
};

}  // namespace pm::core
