// Settings: a configuration file in strongSwan's strongswan.conf syntax (sections, key = value,
// comments, include) as a tree that remembers where every key and section was set, with typed
// getters whose errors name the file, the line and the key. Syntax: docs/SETTINGS_SYNTAX.md.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace uipsec {

// Where something was written: the file as it was opened (or the origin name given to
// parse_string) and a 1-based line number.
struct SourceLocation {
  std::string file;
  std::uint32_t line = 0;
  // "file:line"
  std::string to_string() const;
};

struct SettingsKey {
  std::string name;
  // Value parts joined by single spaces, quoted parts verbatim; empty for `key =`, which strongSwan
  // reads as "not set" (the getters then return their fallback).
  std::string value;
  std::string path;  // the full dotted path, "uipsec.tun.mtu"
  SourceLocation where;

  // An error about this key: "file:line: path: message".
  Error error(std::string_view message) const;
};

// Limits that keep parsing bounded whatever the input; exceeding one is an error, never a crash.
inline constexpr std::size_t kSettingsMaxSectionDepth = 32;
inline constexpr std::size_t kSettingsMaxIncludeDepth = 16;
inline constexpr std::size_t kSettingsMaxFileSize = 1u << 20;  // per file, and for parse_string
inline constexpr std::size_t kSettingsMaxFiles = 256;          // files read by one parse
inline constexpr std::size_t kSettingsMaxTotalSize = 16u << 20;

// One section: its keys and subsections in the order they first appeared. Keys and sections have
// separate name spaces, as in strongSwan (`a = 1` and `a { }` may both exist). Not thread-safe
// for writing; a parsed tree is immutable and may be read from any thread.
class SettingsSection {
 public:
  SettingsSection() = default;

  const std::string& name() const { return name_; }  // "" for the top level
  const std::string& path() const { return path_; }  // "uipsec.tun"; "" for the top level
  // Where the section was first opened (file:0 for the top level of a file).
  const SourceLocation& where() const { return where_; }
  const std::vector<SettingsKey>& keys() const { return keys_; }
  const std::deque<SettingsSection>& sections() const { return sections_; }

  // Lookups by a dotted path relative to this section ("tun.mtu"); nullptr when absent. Returned
  // pointers live as long as this tree.
  const SettingsKey* find_key(std::string_view path) const;
  // "" is this section itself.
  const SettingsSection* find_section(std::string_view path) const;

  // Typed getters: `fallback` when the key is absent or its value is empty. Errors read
  // "file:line: uipsec.tun.mtu: expected an integer 576..65535, got 'big'".
  std::string get_string(std::string_view path, std::string_view fallback) const;
  // strongSwan's booleans: yes/no, true/false, enabled/disabled, 1/0 (any case).
  Result<bool> get_bool(std::string_view path, bool fallback) const;
  // Decimal or 0x-prefixed hexadecimal, within [min, max].
  Result<std::uint64_t> get_uint(std::string_view path, std::uint64_t min, std::uint64_t max,
                                 std::uint64_t fallback) const;
  // Bytes, with an optional binary suffix k, m or g (any case: 1k = 1024), within [min, max].
  Result<std::uint64_t> get_size(std::string_view path, std::uint64_t min, std::uint64_t max,
                                 std::uint64_t fallback) const;
  // Seconds, with strongSwan's optional suffix s, m, h or d ("30m"), within [min, max].
  Result<std::uint64_t> get_seconds(std::string_view path, std::uint64_t min, std::uint64_t max,
                                    std::uint64_t fallback) const;

  // Refuses the first key of this section not in `known_keys` and the first subsection not in
  // `known_sections`: "file:line: unknown key 'mtuu' in section uipsec.tun (did you mean
  // 'mtu'?)". Subsections are not checked recursively.
  Result<void> check_known(std::span<const std::string_view> known_keys,
                           std::span<const std::string_view> known_sections) const;

  // The body of this section in strongswan.conf syntax (keys first, then subsections, each in
  // order), such that parsing it gives back an equal tree.
  std::string to_string() const;

  // Compares names, values and order; not where things were written.
  friend bool operator==(const SettingsSection& a, const SettingsSection& b);

 private:
  friend class SettingsParser;
  friend class FileScanner;

  SettingsSection(std::string name, std::string path, SourceLocation where)
      : name_(std::move(name)), path_(std::move(path)), where_(std::move(where)) {}
  // Sets (or replaces, keeping its place) a key; opens (or reopens) a subsection.
  void set_key(std::string name, std::string value, SourceLocation where);
  SettingsSection& open_section(std::string name, SourceLocation where);
  void write(std::string& out, std::size_t indent) const;

  std::string name_;
  std::string path_;
  SourceLocation where_;
  std::vector<SettingsKey> keys_;
  std::map<std::string, std::size_t, std::less<>> key_index_;
  std::deque<SettingsSection> sections_;  // a deque: references stay valid while it grows
  std::map<std::string, std::size_t, std::less<>> section_index_;
};

struct SettingsParseOptions {
  // false refuses `include` (untrusted text, fuzzing); true reads files relative to the
  // including file (for parse_string: relative to the directory of `origin`, or the current
  // directory when `origin` has no '/').
  bool allow_include = true;
};

// A parsed configuration: the top-level section plus the files it was read from.
class Settings : public SettingsSection {
 public:
  // Reads `path` and everything it includes. Errors name the file and line:
  // "/etc/uipsec/uipsec.conf:7: expected '=' or '{' after 'mtu'".
  static Result<Settings> parse_file(const std::string& path,
                                     const SettingsParseOptions& options = {});
  // Parses `text` as if it were a file named `origin`.
  static Result<Settings> parse_string(std::string_view text, std::string origin = "<string>",
                                       const SettingsParseOptions& options = {});

  // Every file read, in the order they were opened (the main file first; none for parse_string).
  const std::vector<std::string>& files() const { return files_; }

 private:
  friend class SettingsParser;
  std::vector<std::string> files_;
};

}  // namespace uipsec
