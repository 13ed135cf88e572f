// Copyright 2026 The dataloader Authors.
//
// Fingerprint: a stable 64-bit hash (FNV-1a) of bytes, the same on every machine, build and
// run, for identities that travel between servers (a dataset's listing, the content a resume
// token was issued for) and for checksums. Not cryptographic: it catches accidents (another
// config, a corrupted token), not forgeries.
//
//   Fingerprint hash;
//   hash.Add("relative/path.jpg").Add(label);
//   uint64_t value = hash.value();
//
// Thread-compatible.
#ifndef SERVER_PIPELINE_FINGERPRINT_H_
#define SERVER_PIPELINE_FINGERPRINT_H_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace dataloader::server {

class Fingerprint {
 public:
  Fingerprint& AddBytes(const void* data, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      hash_ = (hash_ ^ static_cast<const unsigned char*>(data)[i]) * 0x100000001B3u;
    }
    return *this;
  }
  // A string is added with its length first, so that ("ab", "c") and ("a", "bc") differ.
  Fingerprint& Add(absl::string_view text) {
    Add(static_cast<uint64_t>(text.size()));
    return AddBytes(text.data(), text.size());
  }
  // Integers and floating-point numbers by their little-endian bytes.
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  Fingerprint& Add(T value) {
    return AddBytes(&value, sizeof value);
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xCBF29CE484222325u;
};

// The fingerprint of `bytes` as one run (no length prefix).
inline uint64_t FingerprintOf(absl::string_view bytes) {
  return Fingerprint().AddBytes(bytes.data(), bytes.size()).value();
}

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_FINGERPRINT_H_
