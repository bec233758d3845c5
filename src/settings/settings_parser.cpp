// The strongswan.conf parser: a hand-written scanner over one file's text at a time, includes
// read recursively into the section that names them, every limit checked (file size, files,
// section depth, include depth, include loops). See docs/SETTINGS_SYNTAX.md.
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "settings/settings.hpp"

namespace uipsec {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Raw control characters are refused everywhere but in comments (tab, newline and carriage
// return are whitespace).
bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f;
}

// Characters that end a key or section name.
bool ends_name(char c) {
  return is_space(c) || c == '\n' || c == '#' || c == '{' || c == '}' || c == '=' || c == '"' ||
         c == ':' || is_control(c);
}

std::string describe(char c) {
  if (c == '\n') return "end of line";
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) {
    char buffer[16];
    std::snprintf(buffer, sizeof(buffer), "byte 0x%02x", u);
    return buffer;
  }
  return std::string("'") + c + "'";
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool has_wildcard(std::string_view pattern) {
  return pattern.find_first_of("*?[") != std::string_view::npos;
}

}  // namespace

// Parses files and strings into one Settings tree. One instance per parse; not thread-safe.
class SettingsParser {
 public:
  SettingsParser(Settings& settings, const SettingsParseOptions& options)
      : settings_(settings), options_(options) {}

  static void set_location(Settings& settings, std::string file) {
    settings.where_ = SourceLocation{std::move(file), 0};
  }

  // Reads `path` into `target` (a section at `depth`). `from` is the include statement that asked
  // for it (nullptr for the main file); errors are reported there.
  Result<void> parse_file_into(const std::string& path, SettingsSection& target, std::size_t depth,
                               std::size_t include_depth, const SourceLocation* from);

  Result<void> parse_text(std::string_view text, const std::string& file,
                          const std::string& directory, SettingsSection& target, std::size_t depth,
                          std::size_t include_depth);

  void count_bytes(std::size_t n) { total_size_ += n; }

 private:
  friend class FileScanner;
  Result<void> include_pattern(const std::string& pattern, const std::string& directory,
                               SettingsSection& target, std::size_t depth,
                               std::size_t include_depth, const SourceLocation& from);

  Settings& settings_;
  SettingsParseOptions options_;
  std::vector<std::string> include_stack_;  // canonical paths of the files being read
  std::size_t total_size_ = 0;
};

// The scanner for one file's text.
class FileScanner {
 public:
  FileScanner(SettingsParser& parser, std::string_view text, const std::string& file,
              const std::string& directory, std::size_t depth, std::size_t include_depth)
      : parser_(parser),
        text_(text),
        file_(file),
        directory_(directory),
        depth_(depth),
        include_depth_(include_depth) {}

  Result<void> run(SettingsSection& target);

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void advance() {
    if (text_[pos_] == '\n') ++line_;
    ++pos_;
  }
  void skip_spaces() {
    while (!at_end() && is_space(peek())) advance();
  }
  // Whitespace, line ends and comments.
  void skip_blank() {
    while (!at_end()) {
      const char c = peek();
      if (is_space(c) || c == '\n') {
        advance();
      } else if (c == '#') {
        while (!at_end() && peek() != '\n') advance();
      } else {
        break;
      }
    }
  }
  Error error(std::uint32_t line, const std::string& message) const {
    return Error(file_ + ":" + std::to_string(line) + ": " + message);
  }

  Result<void> check_name(const std::string& name, std::uint32_t line) const;
  Result<void> read_value(std::string& out);
  Result<void> read_quoted(std::string& out);
  Result<void> read_include(SettingsSection& target, std::size_t depth, std::uint32_t line);

  SettingsParser& parser_;
  std::string_view text_;
  const std::string& file_;
  const std::string& directory_;
  std::size_t depth_;
  std::size_t include_depth_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 1;
};

Result<void> FileScanner::check_name(const std::string& name, std::uint32_t line) const {
  for (char c : name) {
    if (c == '.') {
      return error(line, "'.' is not allowed in names ('" + name +
                             "'): write nested sections instead (a { b = ... })");
    }
    if (c == ',') return error(line, "',' is not allowed in names ('" + name + "')");
    if (static_cast<unsigned char>(c) >= 0x80) {
      return error(line, "names are printable ASCII: " + describe(c) + " in '" + name + "'");
    }
  }
  return {};
}

Result<void> FileScanner::read_quoted(std::string& out) {
  const std::uint32_t start = line_;
  advance();  // the opening quote
  while (true) {
    if (at_end()) return error(start, "unterminated string (missing '\"')");
    const char c = peek();
    if (c == '"') {
      advance();
      return {};
    }
    if (c == '\r') {  // ignored, as strongSwan does (CRLF files)
      advance();
      continue;
    }
    if (c == '\\') {
      advance();
      if (at_end()) return error(start, "unterminated string (missing '\"')");
      const char e = peek();
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '\n':  // a line continuation: both characters vanish
        case '\r':
          break;
        default:
          if (is_control(e)) return error(line_, "unexpected " + describe(e) + " in a string");
          out += e;
      }
      advance();
      continue;
    }
    if (is_control(c)) return error(line_, "unexpected " + describe(c) + " in a string");
    out += c;
    advance();
  }
}

Result<void> FileScanner::read_value(std::string& out) {
  bool first = true;
  while (true) {
    skip_spaces();
    if (at_end()) return {};
    char c = peek();
    if (c == '\n' || c == '#' || c == '}') return {};
    if (!first) out += ' ';
    first = false;
    if (c == '"') {
      UIPSEC_TRY(read_quoted(out));
      continue;
    }
    while (!at_end()) {
      c = peek();
      if (is_space(c) || c == '\n' || c == '#' || c == '}' || c == '"') break;
      if (is_control(c)) return error(line_, "unexpected " + describe(c) + " in a value");
      out += c;
      advance();
    }
  }
}

Result<void> FileScanner::read_include(SettingsSection& target, std::size_t depth,
                                       std::uint32_t line) {
  std::string pattern;
  if (peek() == '"') {
    UIPSEC_TRY(read_quoted(pattern));
  } else {
    while (!at_end()) {
      const char c = peek();
      if (is_space(c) || c == '\n' || c == '#' || c == '}') break;
      if (c == '"') {
        return error(line, "include: quote the whole file name (\"...\") or escape '\"' as \\\"");
      }
      if (is_control(c)) return error(line, "include: unexpected " + describe(c));
      if (c == '\\') {
        advance();
        if (!at_end() && (peek() == '"' || peek() == '#' || peek() == '}' || peek() == ' ')) {
          pattern += peek();
          advance();
        } else {
          pattern += '\\';
        }
        continue;
      }
      pattern += c;
      advance();
    }
  }
  skip_spaces();
  if (!at_end() && peek() != '\n' && peek() != '#' && peek() != '}') {
    return error(line, "include: unexpected " + describe(peek()) +
                           " after the file name (quote names that contain spaces)");
  }
  if (!parser_.options_.allow_include) return error(line, "include is not allowed here");
  if (pattern.empty()) return error(line, "include: expected a file name or pattern");
  return parser_.include_pattern(pattern, directory_, target, depth, include_depth_ + 1,
                                 SourceLocation{file_, line});
}

Result<void> FileScanner::run(SettingsSection& target) {
  struct Open {
    SettingsSection* section;
    std::uint32_t line;
  };
  std::vector<Open> open{{&target, 0}};
  while (true) {
    skip_blank();
    if (at_end()) break;
    const std::uint32_t line = line_;
    const char c = peek();
    if (c == '}') {
      if (open.size() == 1) {
        return error(line, include_depth_ > 0 || depth_ > 0
                               ? "'}' without a matching '{' in this file"
                               : "'}' without a matching '{'");
      }
      open.pop_back();
      advance();
      continue;
    }
    if (ends_name(c)) return error(line, "expected a key or section name, got " + describe(c));
    std::string name;
    while (!at_end() && !ends_name(peek())) {
      name += peek();
      advance();
    }
    UIPSEC_TRY(check_name(name, line));
    SettingsSection& current = *open.back().section;
    const std::size_t current_depth = depth_ + open.size() - 1;

    if (name == "include" && !at_end() && (peek() == ' ' || peek() == '\t')) {
      skip_spaces();
      if (at_end() || (peek() != '=' && peek() != '{')) {
        if (at_end() || peek() == '\n' || peek() == '#') {
          return error(line, "include: expected a file name or pattern");
        }
        UIPSEC_TRY(read_include(current, current_depth, line));
        continue;
      }
      // `include = value` and `include { ... }` are an ordinary key and section.
    }

    skip_spaces();
    bool open_section = false;
    if (!at_end() && peek() == '=') {
      advance();
      std::string value;
      UIPSEC_TRY(read_value(value));
      current.set_key(std::move(name), std::move(value), SourceLocation{file_, line});
      continue;
    }
    if (!at_end() && peek() == '{') {
      open_section = true;
    } else if (!at_end() && peek() == ':') {
      return error(
          line, "section references ('" + name + " : other { ... }') are not supported by uipsec");
    } else if (at_end() || peek() == '\n' || peek() == '#') {
      // strongSwan lets the brace of a section follow on a later line.
      const std::size_t pos = pos_;
      const std::uint32_t saved_line = line_;
      skip_blank();
      if (!at_end() && peek() == '{') {
        open_section = true;
      } else {
        pos_ = pos;
        line_ = saved_line;
      }
    }
    if (!open_section) {
      if (at_end() || peek() == '\n' || peek() == '#') {
        return error(line, "expected '=' or '{' after '" + name + "'");
      }
      return error(line, "expected '=' or '{' after '" + name + "', got " + describe(peek()));
    }
    if (current_depth + 1 > kSettingsMaxSectionDepth) {
      return error(line, "sections nested deeper than " + std::to_string(kSettingsMaxSectionDepth) +
                             " levels");
    }
    advance();  // '{'
    SettingsSection& section = current.open_section(std::move(name), SourceLocation{file_, line});
    open.push_back(Open{&section, line});
  }
  if (open.size() > 1) {
    const Open& last = open.back();
    return error(last.line, "section '" + last.section->path() +
                                "' is not closed: missing '}' before the end of the file");
  }
  return {};
}

Result<void> SettingsParser::parse_text(std::string_view text, const std::string& file,
                                        const std::string& directory, SettingsSection& target,
                                        std::size_t depth, std::size_t include_depth) {
  FileScanner scanner(*this, text, file, directory, depth, include_depth);
  return scanner.run(target);
}

Result<void> SettingsParser::include_pattern(const std::string& pattern,
                                             const std::string& directory, SettingsSection& target,
                                             std::size_t depth, std::size_t include_depth,
                                             const SourceLocation& from) {
  const std::string resolved = pattern.front() == '/' ? pattern : directory + "/" + pattern;
  if (!has_wildcard(pattern)) {
    return parse_file_into(resolved, target, depth, include_depth, &from);
  }
  // As strongSwan does, a pattern that matches nothing (also in a directory that does not exist
  // or cannot be read) includes nothing.
  glob_t matches{};
  const int rc = glob(resolved.c_str(), 0, nullptr, &matches);
  std::vector<std::string> paths;
  if (rc == 0) {
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
  }
  globfree(&matches);
  if (rc == GLOB_NOMATCH) return {};
  if (rc != 0) {
    return Error(from.to_string() + ": include '" + pattern + "': cannot search " + resolved +
                 (rc == GLOB_NOSPACE ? ": out of memory" : ": read error"));
  }
  if (paths.size() > kSettingsMaxFiles) {
    return Error(from.to_string() + ": include '" + pattern + "' matches more than " +
                 std::to_string(kSettingsMaxFiles) + " files");
  }
  for (const std::string& path : paths) {
    UIPSEC_TRY(parse_file_into(path, target, depth, include_depth, &from));
  }
  return {};
}

Result<void> SettingsParser::parse_file_into(const std::string& path, SettingsSection& target,
                                             std::size_t depth, std::size_t include_depth,
                                             const SourceLocation* from) {
  auto fail = [&](const std::string& message) {
    if (from == nullptr) return Error(path + ": " + message);
    return Error(from->to_string() + ": include " + path + ": " + message);
  };
  if (include_depth > kSettingsMaxIncludeDepth) {
    return fail("includes nested deeper than " + std::to_string(kSettingsMaxIncludeDepth) +
                " levels");
  }
  if (settings_.files_.size() >= kSettingsMaxFiles) {
    return fail("more than " + std::to_string(kSettingsMaxFiles) + " files included");
  }
  char real[PATH_MAX];
  if (realpath(path.c_str(), real) == nullptr) {
    return fail(std::string("cannot open: ") + std::strerror(errno));
  }
  const std::string canonical(real);
  for (std::size_t i = 0; i < include_stack_.size(); ++i) {
    if (include_stack_[i] != canonical) continue;
    std::string chain;
    for (std::size_t j = i; j < include_stack_.size(); ++j) chain += include_stack_[j] + " -> ";
    return fail("include loop: " + chain + canonical);
  }

  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return fail("not a regular file");
  }
  std::string content;
  char buffer[65536];
  bool too_large = false;
  int read_errno = 0;
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      read_errno = errno;
      break;
    }
    if (n == 0) break;
    if (content.size() + static_cast<std::size_t>(n) > kSettingsMaxFileSize) {
      too_large = true;
      break;
    }
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (read_errno != 0) return fail(std::string("cannot read: ") + std::strerror(read_errno));
  if (too_large) {
    return fail("larger than " + std::to_string(kSettingsMaxFileSize >> 20) +
                " MiB, refusing to read it");
  }
  total_size_ += content.size();
  if (total_size_ > kSettingsMaxTotalSize) {
    return fail("the configuration is larger than " + std::to_string(kSettingsMaxTotalSize >> 20) +
                " MiB in all");
  }

  settings_.files_.push_back(path);
  include_stack_.push_back(canonical);
  auto result = parse_text(content, path, directory_of(path), target, depth, include_depth);
  include_stack_.pop_back();
  return result;
}

Result<Settings> Settings::parse_file(const std::string& path,
                                      const SettingsParseOptions& options) {
  Settings settings;
  SettingsParser::set_location(settings, path);
  SettingsParser parser(settings, options);
  if (auto r = parser.parse_file_into(path, settings, 0, 0, nullptr); !r) return r.error();
  return settings;
}

Result<Settings> Settings::parse_string(std::string_view text, std::string origin,
                                        const SettingsParseOptions& options) {
  if (text.size() > kSettingsMaxFileSize) {
    return Error(origin + ": larger than " + std::to_string(kSettingsMaxFileSize >> 20) +
                 " MiB, refusing to parse it");
  }
  Settings settings;
  SettingsParser::set_location(settings, origin);
  SettingsParser parser(settings, options);
  parser.count_bytes(text.size());
  const std::string directory =
      origin.find('/') == std::string::npos ? std::string(".") : directory_of(origin);
  if (auto r = parser.parse_text(text, origin, directory, settings, 0, 0); !r) return r.error();
  return settings;
}

}  // namespace uipsec
