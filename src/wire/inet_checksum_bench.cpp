// The Internet checksum over common packet sizes, against the word-at-a-time loop of RFC 1071 §4.1.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "wire/inet_checksum.hpp"

namespace {

std::uint16_t word_at_a_time_sum(uipsec::ByteSpan data) {
  std::uint32_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += uipsec::load_be16(&data[i]);
  if (i < data.size()) sum += std::uint32_t{data[i]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::vector<std::uint8_t> packet(std::size_t size) {
  std::vector<std::uint8_t> bytes(size + 1);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 131 + 7);
  return bytes;
}

void BM_InetSum(benchmark::State& state) {
  const auto bytes = packet(static_cast<std::size_t>(state.range(0)));
  // Start one byte in, as an IP header behind an odd-sized link header would.
  const uipsec::ByteSpan data(bytes.data() + 1, bytes.size() - 1);
  for (auto _ : state) benchmark::DoNotOptimize(uipsec::inet_sum(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_InetSum)->Arg(20)->Arg(64)->Arg(576)->Arg(1500)->Arg(9000)->Arg(65535);

void BM_WordAtATimeSum(benchmark::State& state) {
  const auto bytes = packet(static_cast<std::size_t>(state.range(0)));
  const uipsec::ByteSpan data(bytes.data() + 1, bytes.size() - 1);
  for (auto _ : state) benchmark::DoNotOptimize(word_at_a_time_sum(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_WordAtATimeSum)->Arg(20)->Arg(64)->Arg(576)->Arg(1500)->Arg(9000)->Arg(65535);

}  // namespace
