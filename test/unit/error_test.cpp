// error_test.cpp — core::Error carries its code and message (the adapter maps code to SQLSTATE).
#include <gtest/gtest.h>

#include "parallel_material/core/error.hpp"

using pm::core::Error;

TEST(Error, KeepsCodeAndMessage) {
    try {
        throw Error(Error::Code::Io, "disk full");
    } catch (const Error &e) {
        EXPECT_EQ(e.code(), Error::Code::Io);
        EXPECT_STREQ(e.what(), "disk full");
        return;
    }
    FAIL() << "not thrown";
}

TEST(Error, IsAStdException) {
    EXPECT_THROW(throw Error(Error::Code::Internal, "x"), std::runtime_error);
}
