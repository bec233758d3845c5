// Shell-like splitting and quoting of ip-xfrm argument lines (see xfrm_arguments.hpp).
#include "xfrm/xfrm_arguments.hpp"

namespace uipsec {

namespace {

bool is_separator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Characters a shell reads literally outside quotes.
bool is_plain(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '_':
    case '.':
    case '/':
    case ':':
    case ',':
    case '+':
    case '=':
    case '@':
    case '%':
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<std::vector<std::string>> split_arguments(std::string_view line) {
  std::vector<std::string> out;
  std::string current;
  bool in_word = false;
  std::size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (c == '\0') {
      return Error("a NUL byte at column " + std::to_string(i + 1) + " is not allowed");
    }
    if (is_separator(c)) {
      if (in_word) out.push_back(std::move(current));
      current.clear();
      in_word = false;
      ++i;
      continue;
    }
    if (c == '\'') {
      const std::size_t close = line.find('\'', i + 1);
      if (close == std::string_view::npos) {
        return Error("unterminated single quote at column " + std::to_string(i + 1));
      }
      const std::string_view quoted = line.substr(i + 1, close - i - 1);
      if (quoted.find('\0') != std::string_view::npos) {
        return Error("a NUL byte inside quotes is not allowed");
      }
      current += quoted;
      in_word = true;
      i = close + 1;
      continue;
    }
    if (c == '"') {
      const std::size_t open = i;
      ++i;
      while (true) {
        if (i >= line.size()) {
          return Error("unterminated double quote at column " + std::to_string(open + 1));
        }
        const char q = line[i];
        if (q == '\0') return Error("a NUL byte inside quotes is not allowed");
        if (q == '"') break;
        if (q == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) {
          current += line[i + 1];
          i += 2;
          continue;
        }
        current += q;
        ++i;
      }
      in_word = true;
      ++i;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= line.size()) return Error("a backslash at the end of the line escapes nothing");
      const char next = line[i + 1];
      if (next == '\0') return Error("a NUL byte is not allowed");
      if (next != '\n') {
        current += next;
        in_word = true;
      }
      i += 2;
      continue;
    }
    current += c;
    in_word = true;
    ++i;
  }
  if (in_word) out.push_back(std::move(current));
  return out;
}

std::string join_arguments(std::span<const std::string> arguments) {
  std::string out;
  for (const std::string& argument : arguments) {
    if (!out.empty()) out += ' ';
    bool plain = !argument.empty();
    for (char c : argument) plain = plain && is_plain(c);
    if (plain) {
      out += argument;
      continue;
    }
    out += '\'';
    for (char c : argument) {
      if (c == '\'') {
        out += "'\\''";  // close, an escaped quote, reopen
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

std::vector<std::string_view> argument_views(const std::vector<std::string>& arguments) {
  return std::vector<std::string_view>(arguments.begin(), arguments.end());
}

}  // namespace uipsec
