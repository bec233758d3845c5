#include "base/system_error.hpp"

#include <cstring>

namespace uipsec {

std::string errno_text(int error) {
  char buffer[128];
  // GNU strerror_r: returns a pointer to the text (a static string or `buffer`).
  const char* text = ::strerror_r(error, buffer, sizeof(buffer));
  return text;
}

Error system_error(std::string_view doing, int error, std::string_view hint) {
  std::string message(doing);
  message += ": ";
  message += errno_text(error);
  if (!hint.empty()) {
    message += " (";
    message += hint;
    message += ")";
  }
  return Error(std::move(message));
}

}  // namespace uipsec
