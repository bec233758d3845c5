// InterfaceIndex: the kernel's index of a network interface (if_nametoindex, RTA_OIF), a strong
// type so it does not mix with table numbers, priorities or file descriptors.
#pragma once

#include <cstdint>

#include "base/strong_int.hpp"

namespace uipsec {

// 0 means "no interface".
using InterfaceIndex = StrongInt<struct InterfaceIndexTag, std::uint32_t>;

}  // namespace uipsec
