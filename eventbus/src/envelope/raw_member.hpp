#pragma once
// The raw text of one member of a JSON object, as it stands in the document.
//
// Boost.JSON (1.81) keeps numbers as int64/uint64/double, so parsing an envelope and writing
// its payload again would turn 1.10 into 1.1E0 and round integers beyond 64 bits. The
// envelope therefore carries its payload as the producer's own text: this finds that text in
// a document Boost.JSON has already validated.
#include <optional>
#include <string>
#include <string_view>

namespace corobus::detail {

// The text of the value of the last top-level member called `key` (its name may be written
// with escapes), or nothing: all of it between the member's ':' and the ',' or '}' that ends
// it, white space included, so an encoder that writes `"key":` + text + `}` gets exactly
// `text` back. Safe on any text, but only valid JSON gives a value a parser would agree with:
// validate first where that matters.
std::optional<std::string_view> raw_member(std::string_view document, std::string_view key);

// The aggregate id an envelope's text names, read without decoding it: what picks an
// envelope's lane before the lane decodes it, whatever key or headers its producer wrote.
// Any text: nothing when it has no top-level string member "aggregate_id" (then it is no valid
// envelope either). For a text that decodes, the same id as envelope::decode gives (the last
// such member). A view into `text`, or into `scratch` when the id is written with escapes.
std::optional<std::string_view> aggregate_id_of(std::string_view text, std::string& scratch);

}  // namespace corobus::detail
