// SequenceStore: how far a static SA's outbound sequence numbers may go, kept on disk, so that
// after a restart the SA continues above every number it ever sent — the peer's anti-replay
// window (RFC 4303 §3.4.3) accepts the new packets and no (key, sequence) pair is used twice
// (RFC 4303 §3.3.3). docs/OPERATIONS.md explains the scheme.
//
// The scheme: one file per static SA, `<directory>/<name>.seq`, holding a reserved upper bound
// B. The packet path sends numbers <= B only (SecurityAssociation::sequence_reserved()). At
// start, an SA continues after the persisted B (or its configured start, whichever is higher)
// and a new bound B' = start + block is written (temporary file, fsync, rename, fsync of the
// directory) before the SA may use it. The control thread tops the reservation up when less
// than half a block is left; it writes first and raises the SA's bound after. When the write
// fails the bound stays, and packets beyond it are dropped (`sequence-unreserved`) — never sent
// with a number that a later restart could send again. A clean stop writes the last number sent,
// so that only a crash skips the unused rest of a block.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "sa/sa_config.hpp"
#include "sa/sa_database.hpp"

namespace uipsec {

// Reservations outbound sequence numbers at a time (one write per block): 2^20 skips at most
// 0.02 % of the 32-bit space per crash and lasts ~0.7 s at one worker's full rate, against a
// top-up every 100 ms.
inline constexpr std::uint64_t kDefaultSequenceReservation = std::uint64_t{1} << 20;

// The files: one per SA name. No state besides the directory; any thread, but the daemon uses
// it from the control thread only.
class SequenceFiles {
 public:
  explicit SequenceFiles(std::filesystem::path directory) : directory_(std::move(directory)) {}

  const std::filesystem::path& directory() const { return directory_; }
  // `<directory>/<name>.seq`; characters other than [A-Za-z0-9_-] (and a leading '.') are
  // written as %XX so that a name never leaves the directory.
  std::filesystem::path path_of(std::string_view name) const;
  // The persisted bound, nullopt when there is no file. Errors: unreadable or malformed file
  // (the message names the file and says what to do).
  Result<std::optional<std::uint64_t>> load(std::string_view name) const;
  // Creates the directory (0700) when missing, writes `<path>.tmp`, fsyncs it, renames it over
  // the file and fsyncs the directory. On error the old file is intact.
  Result<void> save(std::string_view name, const SaId& id, std::uint64_t bound) const;

 private:
  std::filesystem::path directory_;
};

// The reservations of the daemon's static SAs. Owner: the control thread (every call).
class SequenceReservations {
 public:
  using Log = std::function<void(const std::string&)>;
  // `block` >= 2; `log` receives one line per change of a reservation's health (a write failed,
  // writing works again), never one per tick.
  SequenceReservations(std::filesystem::path directory, std::uint64_t block, Log log);

  // Before the SA is installed: reads its file and moves `config.outbound_sequence` up to the
  // persisted bound. Writes nothing yet, so that a configuration that fails later leaves the
  // files as they were. Errors (the daemon refuses to start): a malformed or unreadable file.
  // An SA that cannot send (direction in) is not tracked.
  Result<void> prepare(std::string_view name, SaConfig& config);
  // After the SAs were installed, before any worker runs: writes each prepared SA's first
  // reservation (start + block), then gives the SA that bound. Errors: a reservation could not
  // be written (the daemon refuses to start). Precondition: the SAs prepared are in `sad`.
  Result<void> attach(SaDatabase& sad);
  // Control thread, every ~100 ms: writes a new reservation for each SA with less than half a
  // block left, then raises the SA's bound. SAs no longer in `sad` (deleted through the control
  // socket) or replaced by an SA without a bound are skipped.
  void tick(SaDatabase& sad);
  // After the workers stopped: writes each SA's last number sent, so that a restart skips
  // nothing. Returns false when a write failed (the old, higher reservation stays; still safe).
  bool checkpoint(const SaDatabase& sad);

  // Reload (docs/OPERATIONS.md): stops tracking the SA `name` (removed, or about to be replaced).
  // `last_sent`, the SA's final outbound number, may be given only once the SA can send no more
  // (its numbers frozen): it is written, so that a successor with the same keys continues right
  // after it rather than above the whole reserved block. Without it the file keeps its bound,
  // which is always safe. Errors: that write failed (the entry is gone anyway and the file keeps
  // the higher bound). Unknown names are ignored.
  Result<void> release(std::string_view name, std::optional<std::uint64_t> last_sent);
  // Reload, for an SA prepared under `name` after the workers started: persist() writes its first
  // reservation before the SA is added (so that the disk covers every number it can reach),
  // enforce() gives the added SA that bound right after. Unknown names: nothing to do.
  Result<void> persist(std::string_view name);
  void enforce(std::string_view name, SaDatabase& sad);

  bool tracks(std::string_view name) const { return entry(name) != nullptr; }
  std::size_t size() const { return entries_.size(); }
  std::uint64_t block() const { return block_; }
  const SequenceFiles& files() const { return files_; }

 private:
  struct Entry {
    std::string name;
    SaId id;
    std::uint64_t bound = 0;  // what the file says and the SA may reach
    std::uint64_t limit = 0;  // the SA's last possible number
    bool failing = false;     // the last write failed (logged once)
  };
  // The SA this entry reserves for, or null (gone, or replaced by one without a reservation).
  static SecurityAssociation* find(const SaDatabase& sad, const Entry& e);
  const Entry* entry(std::string_view name) const;

  SequenceFiles files_;
  std::uint64_t block_;
  Log log_;
  std::vector<Entry> entries_;
};

}  // namespace uipsec
