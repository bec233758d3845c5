// Command-line words for the ip-xfrm syntax: splitting a configuration line into arguments the
// way a POSIX shell does for simple quoting, and joining arguments back into such a line.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace uipsec {

// Splits `line` at unquoted whitespace (space, tab, CR, LF). 'single quotes' keep everything
// literally; "double quotes" keep everything but \" and \\ (a backslash before anything else
// stays); outside quotes a backslash keeps the next character (backslash-newline vanishes).
// Quoted parts join with their neighbours ("a'b'c" is one argument, '' is an empty one). No
// variables, globs or comments. Refuses unbalanced quotes, a trailing backslash and NUL bytes.
Result<std::vector<std::string>> split_arguments(std::string_view line);

// The inverse: arguments joined by single spaces, each quoted (with single quotes) only where
// split_arguments or a shell would otherwise change it.
std::string join_arguments(std::span<const std::string> arguments);

// Views of `arguments` for the parse_* functions; valid while `arguments` lives unchanged.
std::vector<std::string_view> argument_views(const std::vector<std::string>& arguments);

}  // namespace uipsec
