// Copyright 2026 The dataloader Authors.
//
// QuoteClientText: how a status message or log line shows text a client sent (a pipeline
// name, a field of a resume token). A client's text may be megabytes long or not UTF-8; echoed
// whole it would break the client's metadata limit (a status message travels as a header) and
// flood the log. Shown: quoted, non-printable bytes escaped, cut after kMaxShownBytes with its
// length said.
#ifndef SERVER_SERVICE_CLIENT_TEXT_H_
#define SERVER_SERVICE_CLIENT_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dataloader::server {

inline constexpr size_t kMaxShownBytes = 64;

inline std::string QuoteClientText(absl::string_view text) {
  if (text.size() <= kMaxShownBytes) return absl::StrCat("'", absl::CHexEscape(text), "'");
  return absl::StrCat("'", absl::CHexEscape(text.substr(0, kMaxShownBytes)), "...' (", text.size(),
                      " bytes)");
}

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_CLIENT_TEXT_H_
