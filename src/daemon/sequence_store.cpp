// SequenceStore: persisted reservations of outbound sequence numbers (see the header).
#include "daemon/sequence_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "base/unique_fd.hpp"

namespace uipsec {

namespace {

constexpr std::string_view kMagic = "uipsec-sequence-reservation 1";

std::string errno_text(const std::string& what, const std::filesystem::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

Result<void> write_all(int fd, std::string_view text, const std::filesystem::path& path) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(errno_text("cannot write", path));
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> fsync_directory(const std::filesystem::path& directory) {
  UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Error(errno_text("cannot open", directory));
  if (::fsync(fd.get()) != 0) return Error(errno_text("cannot fsync", directory));
  return {};
}

bool plain_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

std::filesystem::path SequenceFiles::path_of(std::string_view name) const {
  std::string file;
  for (char c : name) {
    if (plain_name_char(c)) {
      file += c;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const auto byte = static_cast<unsigned char>(c);
      file += '%';
      file += kHex[byte >> 4];
      file += kHex[byte & 0xf];
    }
  }
  return directory_ / (file + ".seq");
}

Result<std::optional<std::uint64_t>> SequenceFiles::load(std::string_view name) const {
  const std::filesystem::path path = path_of(name);
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::uint64_t>{};
    return Error(errno_text("cannot read", path));
  }
  auto malformed = [&](const std::string& why) {
    return Error(path.string() + ": " + why +
                 " (a damaged reservation: check the disk; deleting the file makes the SA start "
                 "at its configured sequence number, which the peer's replay window may reject)");
  };
  std::string line;
  if (!std::getline(in, line) || line != kMagic) {
    return malformed("expected '" + std::string(kMagic) + "' on the first line");
  }
  std::optional<std::uint64_t> bound;
  while (std::getline(in, line)) {
    if (line.rfind("bound ", 0) != 0) continue;  // spi, destination: for people
    const std::string_view digits = std::string_view(line).substr(6);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
      return malformed("'bound' is not a decimal number");
    }
    bound = value;
  }
  if (in.bad()) return Error(errno_text("cannot read", path));
  if (!bound) return malformed("no 'bound' line");
  return bound;
}

Result<void> SequenceFiles::save(std::string_view name, const SaId& id, std::uint64_t bound) const {
  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  if (ec) return Error("cannot create " + directory_.string() + ": " + ec.message());
  const std::filesystem::path path = path_of(name);
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  std::ostringstream text;
  text << kMagic << "\nspi 0x" << std::hex << id.spi.value() << std::dec << "\ndestination "
       << id.destination.to_string() << "\nbound " << bound << "\n";
  {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return Error(errno_text("cannot create", temporary));
    if (auto r = write_all(fd.get(), text.str(), temporary); !r.ok()) {
      ::unlink(temporary.c_str());
      return r;
    }
    if (::fsync(fd.get()) != 0) {
      const Error error(errno_text("cannot fsync", temporary));
      ::unlink(temporary.c_str());
      return error;
    }
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const Error error(errno_text("cannot rename to", path));
    ::unlink(temporary.c_str());
    return error;
  }
  // The rename is durable only once the directory is on disk.
  return fsync_directory(directory_);
}

SequenceReservations::SequenceReservations(std::filesystem::path directory, std::uint64_t block,
                                           Log log)
    : files_(std::move(directory)),
      block_(std::max<std::uint64_t>(block, 2)),
      log_(std::move(log)) {}

Result<void> SequenceReservations::prepare(std::string_view name, SaConfig& config) {
  if (config.direction == SaDirection::kIn) return {};
  auto persisted = files_.load(name);
  if (!persisted) {
    return persisted.error().with_context(
        "cannot read the outbound sequence reservation (uipsec.state_directory)");
  }
  const std::uint64_t limit = config.flags.esn ? std::numeric_limits<std::uint64_t>::max()
                                               : std::numeric_limits<std::uint32_t>::max();
  // Above everything an earlier run may have sent; an exhausted space stays exhausted (the SA
  // raises its hard expire at the first packet and must be replaced).
  const std::uint64_t start =
      std::min(std::max(config.outbound_sequence, persisted->value_or(0)), limit);
  const std::uint64_t bound = limit - start < block_ ? limit : start + block_;
  config.outbound_sequence = start;
  entries_.push_back(Entry{std::string(name), config.id(), bound, limit, false});
  return {};
}

SecurityAssociation* SequenceReservations::find(const SaDatabase& sad, const Entry& e) {
  SecurityAssociation* sa = sad.get(e.id);
  if (sa == nullptr || sa->sequence_reserved() == kUnreservedSequence) return nullptr;
  return sa;
}

Result<void> SequenceReservations::attach(SaDatabase& sad) {
  for (const Entry& e : entries_) {
    if (auto r = files_.save(e.name, e.id, e.bound); !r.ok()) {
      return r.error().with_context("SA " + e.name +
                                    ": cannot reserve outbound sequence numbers "
                                    "(uipsec.state_directory)");
    }
    if (SecurityAssociation* sa = sad.get(e.id)) sa->set_sequence_reserved(e.bound);
  }
  return {};
}

void SequenceReservations::tick(SaDatabase& sad) {
  for (Entry& e : entries_) {
    if (e.bound >= e.limit) continue;  // reserved up to the end of the space
    SecurityAssociation* sa = find(sad, e);
    if (sa == nullptr) continue;
    const std::uint64_t last = sa->outbound_sequence().last();
    if (e.bound - std::min(last, e.bound) > block_ / 2) continue;
    // A full block ahead of the last number sent.
    const std::uint64_t bound = e.limit - last < block_ ? e.limit : last + block_;
    if (auto r = files_.save(e.name, e.id, bound); !r.ok()) {
      if (!e.failing) {
        log_("SA " + e.id.to_string() + " (" + e.name + "): " + r.error().message() +
             "; packets beyond sequence number " + std::to_string(e.bound) +
             " are dropped (sequence-unreserved) until a reservation can be written");
      }
      e.failing = true;
      continue;
    }
    if (e.failing) log_("SA " + e.id.to_string() + " (" + e.name + "): reservation written again");
    e.failing = false;
    e.bound = bound;
    sa->set_sequence_reserved(bound);  // only now may the packet path go past the old bound
  }
}

const SequenceReservations::Entry* SequenceReservations::entry(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

Result<void> SequenceReservations::release(std::string_view name,
                                           std::optional<std::uint64_t> last_sent) {
  const auto it = std::find_if(entries_.begin(), entries_.end(),
                               [&](const Entry& e) { return e.name == name; });
  if (it == entries_.end()) return {};
  const Entry e = *it;
  entries_.erase(it);
  if (!last_sent) return {};
  if (auto r = files_.save(e.name, e.id, std::min(*last_sent, e.bound)); !r.ok()) {
    return r.error().with_context("SA " + e.name + ": the reservation up to " +
                                  std::to_string(e.bound) + " stays");
  }
  return {};
}

Result<void> SequenceReservations::persist(std::string_view name) {
  const Entry* e = entry(name);
  if (e == nullptr) return {};
  if (auto r = files_.save(e->name, e->id, e->bound); !r.ok()) {
    return r.error().with_context("SA " + e->name +
                                  ": cannot reserve outbound sequence numbers "
                                  "(uipsec.state_directory)");
  }
  return {};
}

void SequenceReservations::enforce(std::string_view name, SaDatabase& sad) {
  const Entry* e = entry(name);
  if (e == nullptr) return;
  if (SecurityAssociation* sa = sad.get(e->id)) sa->set_sequence_reserved(e->bound);
}

bool SequenceReservations::checkpoint(const SaDatabase& sad) {
  bool ok = true;
  for (Entry& e : entries_) {
    SecurityAssociation* sa = find(sad, e);
    if (sa == nullptr) continue;
    // Numbers above last() were never sent (the workers have stopped).
    const std::uint64_t last = std::min(sa->outbound_sequence().last(), e.bound);
    if (auto r = files_.save(e.name, e.id, last); !r.ok()) {
      log_("SA " + e.id.to_string() + " (" + e.name + "): " + r.error().message() +
           "; the reservation up to " + std::to_string(e.bound) + " stays");
      ok = false;
      continue;
    }
    e.bound = last;
    sa->set_sequence_reserved(last);
  }
  return ok;
}

}  // namespace uipsec
