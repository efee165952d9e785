#pragma once
// The raw text of one member of a JSON object, as it stands in the document.
//
// Boost.JSON (1.81) keeps numbers as int64/uint64/double, so parsing an envelope and writing
// its payload again would turn 1.10 into 1.1E0 and round integers beyond 64 bits. The
// envelope therefore carries its payload as the producer's own text: this finds that text in
// a document Boost.JSON has already validated.
#include <optional>
#include <string_view>

namespace corobus::detail {

// `document` must be valid JSON (validate it first). Returns the text of the value of the
// last top-level member called `key` (its name may be written with escapes), or nothing: all
// of it between the member's ':' and the ',' or '}' that ends it, white space included, so an
// encoder that writes `"key":` + text + `}` gets exactly `text` back.
std::optional<std::string_view> raw_member(std::string_view document, std::string_view key);

}  // namespace corobus::detail
