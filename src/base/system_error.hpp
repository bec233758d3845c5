// Error messages for failed system calls on the control path: what we were doing, the errno text
// and, where we know one, what the user can do about it.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace uipsec {

// The C library's text for `error` ("Operation not permitted"). Thread-safe.
std::string errno_text(int error);

// "<doing>: <errno text>" or "<doing>: <errno text> (<hint>)" when `hint` is not empty.
Error system_error(std::string_view doing, int error, std::string_view hint = {});

}  // namespace uipsec
