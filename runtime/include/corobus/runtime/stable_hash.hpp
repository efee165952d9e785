#pragma once
// FNV-1a, 32 bit: the key -> lane hash. Stable across runs, processes and platforms, so the
// same key always lands in the same lane (the original used fnv32a % 256 as well).
#include <cstdint>
#include <string_view>

namespace corobus {

constexpr std::uint32_t stable_hash(std::string_view key) noexcept {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace corobus
