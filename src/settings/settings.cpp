// The settings tree: lookups by dotted path, typed getters, unknown-key checks with suggestions,
// and writing the tree back in strongswan.conf syntax.
#include "settings/settings.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace uipsec {

std::string SourceLocation::to_string() const { return file + ":" + std::to_string(line); }

Error SettingsKey::error(std::string_view message) const {
  return Error(where.to_string() + ": " + path + ": " + std::string(message));
}

void SettingsSection::set_key(std::string name, std::string value, SourceLocation where) {
  if (auto it = key_index_.find(name); it != key_index_.end()) {
    SettingsKey& key = keys_[it->second];
    key.value = std::move(value);
    key.where = std::move(where);
    return;
  }
  std::string path = path_.empty() ? name : path_ + "." + name;
  key_index_.emplace(name, keys_.size());
  keys_.push_back(
      SettingsKey{std::move(name), std::move(value), std::move(path), std::move(where)});
}

SettingsSection& SettingsSection::open_section(std::string name, SourceLocation where) {
  if (auto it = section_index_.find(name); it != section_index_.end()) {
    return sections_[it->second];
  }
  std::string path = path_.empty() ? name : path_ + "." + name;
  section_index_.emplace(name, sections_.size());
  return sections_.emplace_back(
      SettingsSection(std::move(name), std::move(path), std::move(where)));
}

namespace {

// Splits "a.b.c" into "a.b" and "c" (no '.': "" and the whole path).
std::pair<std::string_view, std::string_view> split_last(std::string_view path) {
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos) return {std::string_view(), path};
  return {path.substr(0, dot), path.substr(dot + 1)};
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Decimal, or hexadecimal with a 0x prefix; the whole text must be the number.
bool parse_number(std::string_view text, std::uint64_t& out) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && end == text.data() + text.size();
}

// A number followed by an optional one-letter suffix, multiplied by the suffix's factor.
bool parse_scaled(std::string_view text, std::string_view suffixes,
                  std::span<const std::uint64_t> factors, std::uint64_t& out) {
  std::uint64_t factor = 1;
  if (!text.empty()) {
    const auto at = suffixes.find(lower(text.back()));
    if (at != std::string_view::npos) {
      factor = factors[at];
      text.remove_suffix(1);
    }
  }
  // Suffixed values are decimal only ("0x1k" would be ambiguous).
  if (factor != 1 && (text.size() > 1 && (text[1] == 'x' || text[1] == 'X'))) return false;
  std::uint64_t number = 0;
  if (!parse_number(text, number)) return false;
  if (number > std::numeric_limits<std::uint64_t>::max() / factor) return false;
  out = number * factor;
  return true;
}

std::string range_text(std::uint64_t min, std::uint64_t max) {
  return std::to_string(min) + ".." + std::to_string(max);
}

// Edit distance (insertions, deletions, substitutions, and swaps of neighbours), for "did you
// mean" suggestions between short names.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    prev2.swap(prev);
    prev.swap(cur);
  }
  return prev[m];
}

std::string suggestion(std::string_view name, std::span<const std::string_view> known) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view k : known) {
    const std::size_t d = edit_distance(name, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  // Close enough to be a typo: at most 2 edits, and fewer than half of the name.
  if (best.empty() || best_distance > 2 || best_distance * 2 > std::max(name.size(), best.size()))
    return "";
  return " (did you mean '" + std::string(best) + "'?)";
}

bool contains(std::span<const std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// True when `value` reads back unchanged without quotes: a value is split at whitespace and
// rejoined with single spaces, and '#', '}' and '"' end or start other tokens.
bool is_bare_value(std::string_view value) {
  if (value.empty() || value.front() == ' ' || value.back() == ' ') return false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '#' || c == '}' || c == '"' || c == '\t' || c == '\n' || c == '\r') return false;
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    if (c == ' ' && value[i + 1] == ' ') return false;
  }
  return true;
}

void write_value(std::string& out, std::string_view value) {
  if (is_bare_value(value)) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  out += '"';
}

}  // namespace

const SettingsSection* SettingsSection::find_section(std::string_view path) const {
  const SettingsSection* section = this;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const std::string_view name = path.substr(0, dot);
    const auto it = section->section_index_.find(name);
    if (it == section->section_index_.end()) return nullptr;
    section = &section->sections_[it->second];
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
    if (path.empty()) return nullptr;  // "a." names nothing
  }
  return section;
}

const SettingsKey* SettingsSection::find_key(std::string_view path) const {
  const auto [section_path, key_name] = split_last(path);
  if (key_name.empty()) return nullptr;
  if (section_path.empty() && path.find('.') != std::string_view::npos) return nullptr;  // ".key"
  const SettingsSection* section = find_section(section_path);
  if (section == nullptr) return nullptr;
  const auto it = section->key_index_.find(key_name);
  return it == section->key_index_.end() ? nullptr : &section->keys_[it->second];
}

std::string SettingsSection::get_string(std::string_view path, std::string_view fallback) const {
  const SettingsKey* key = find_key(path);
  if (key == nullptr || key->value.empty()) return std::string(fallback);
  return key->value;
}

Result<bool> SettingsSection::get_bool(std::string_view path, bool fallback) const {
  const SettingsKey* key = find_key(path);
  if (key == nullptr || key->value.empty()) return fallback;
  for (std::string_view yes : {"yes", "true", "enabled", "1"}) {
    if (equals_ignoring_case(key->value, yes)) return true;
  }
  for (std::string_view no : {"no", "false", "disabled", "0"}) {
    if (equals_ignoring_case(key->value, no)) return false;
  }
  return key->error("expected yes or no (also true/false, enabled/disabled, 1/0), got '" +
                    key->value + "'");
}

Result<std::uint64_t> SettingsSection::get_uint(std::string_view path, std::uint64_t min,
                                                std::uint64_t max, std::uint64_t fallback) const {
  const SettingsKey* key = find_key(path);
  if (key == nullptr || key->value.empty()) return fallback;
  std::uint64_t value = 0;
  if (!parse_number(key->value, value) || value < min || value > max) {
    return key->error("expected an integer " + range_text(min, max) + ", got '" + key->value + "'");
  }
  return value;
}

Result<std::uint64_t> SettingsSection::get_size(std::string_view path, std::uint64_t min,
                                                std::uint64_t max, std::uint64_t fallback) const {
  const SettingsKey* key = find_key(path);
  if (key == nullptr || key->value.empty()) return fallback;
  static constexpr std::uint64_t kFactors[] = {1ull << 10, 1ull << 20, 1ull << 30};
  std::uint64_t value = 0;
  if (!parse_scaled(key->value, "kmg", kFactors, value) || value < min || value > max) {
    return key->error("expected a size in bytes " + range_text(min, max) +
                      " (a number, optionally with k, m or g for KiB, MiB, GiB), got '" +
                      key->value + "'");
  }
  return value;
}

Result<std::uint64_t> SettingsSection::get_seconds(std::string_view path, std::uint64_t min,
                                                   std::uint64_t max,
                                                   std::uint64_t fallback) const {
  const SettingsKey* key = find_key(path);
  if (key == nullptr || key->value.empty()) return fallback;
  static constexpr std::uint64_t kFactors[] = {1, 60, 3600, 86400};
  std::uint64_t value = 0;
  if (!parse_scaled(key->value, "smhd", kFactors, value) || value < min || value > max) {
    return key->error("expected a time of " + range_text(min, max) +
                      " seconds (a number, optionally with s, m, h or d), got '" + key->value +
                      "'");
  }
  return value;
}

Result<void> SettingsSection::check_known(std::span<const std::string_view> known_keys,
                                          std::span<const std::string_view> known_sections) const {
  const std::string where = path_.empty() ? "at the top level" : "in section " + path_;
  for (const SettingsKey& key : keys_) {
    if (contains(known_keys, key.name)) continue;
    std::string message = key.where.to_string() + ": unknown key '" + key.name + "' " + where;
    if (contains(known_sections, key.name)) {
      message += " ('" + key.name + "' is a section: write " + key.name + " { ... })";
    } else {
      message += suggestion(key.name, known_keys);
    }
    return Error(message);
  }
  for (const SettingsSection& section : sections_) {
    if (contains(known_sections, section.name_)) continue;
    std::string message =
        section.where_.to_string() + ": unknown section '" + section.name_ + "' " + where;
    if (contains(known_keys, section.name_)) {
      message += " ('" + section.name_ + "' is a key: write " + section.name_ + " = value)";
    } else {
      message += suggestion(section.name_, known_sections);
    }
    return Error(message);
  }
  return {};
}

void SettingsSection::write(std::string& out, std::size_t indent) const {
  for (const SettingsKey& key : keys_) {
    out.append(indent, '\t');
    out += key.name;
    out += " =";
    if (!key.value.empty()) {
      out += ' ';
      write_value(out, key.value);
    }
    out += '\n';
  }
  for (const SettingsSection& section : sections_) {
    out.append(indent, '\t');
    out += section.name_;
    out += " {\n";
    section.write(out, indent + 1);
    out.append(indent, '\t');
    out += "}\n";
  }
}

std::string SettingsSection::to_string() const {
  std::string out;
  write(out, 0);
  return out;
}

bool operator==(const SettingsSection& a, const SettingsSection& b) {
  if (a.name_ != b.name_ || a.keys_.size() != b.keys_.size() ||
      a.sections_.size() != b.sections_.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.keys_.size(); ++i) {
    if (a.keys_[i].name != b.keys_[i].name || a.keys_[i].value != b.keys_[i].value) return false;
  }
  for (std::size_t i = 0; i < a.sections_.size(); ++i) {
    if (!(a.sections_[i] == b.sections_[i])) return false;
  }
  return true;
}

}  // namespace uipsec
