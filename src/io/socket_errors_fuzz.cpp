// Fuzzes the error-queue parser: the first byte chooses how much of the rest is msg_name, the
// remainder is the control (cmsg) buffer, aligned as the kernel's would be.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "io/socket_errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t name_length = std::min<std::size_t>(data[0], size - 1);
  std::vector<std::uint64_t> name((name_length + 7) / 8);
  if (name_length != 0) std::memcpy(name.data(), data + 1, name_length);
  const std::size_t control_length = size - 1 - name_length;
  std::vector<std::uint64_t> control((control_length + 7) / 8);
  if (control_length != 0) std::memcpy(control.data(), data + 1 + name_length, control_length);
  const auto error = uipsec::parse_socket_error(
      uipsec::ByteSpan(reinterpret_cast<const std::uint8_t*>(name.data()), name_length),
      uipsec::ByteSpan(reinterpret_cast<const std::uint8_t*>(control.data()), control_length));
  if (error) {
    const auto report = uipsec::path_mtu_report(*error);
    // A report always names the destination the error is about and a nonzero MTU.
    if (report && (!error->destination || report->mtu == 0)) __builtin_trap();
  }
  return 0;
}
