// Text formatting between WhatsApp and Chatwoot, both directions.
//
// WhatsApp's formatting (what a contact types):
//   *bold*  _italic_  ~strike~  ```monospace```  `inline code`
//   "> quote", "* item" / "- item" / "1. item" lists.
//   A marker opens only at a word boundary (start, whitespace or
//   punctuation before it) with a non-space after it, and closes only after
//   a non-space with the end, whitespace or punctuation after it; markers
//   never pair across a newline and nothing inside code is formatted.
//
// Chatwoot renders message content as CommonMark: the dashboard with
// markdown-it (html off, linkify on, breaks on; strikethrough is markdown-it's
// "~~"), e-mails and server-side views with CommonMarker (cmark-gfm with the
// strikethrough and autolink extensions).  Chatwoot's own reply editor
// writes **bold**, *italic*, ~~strike~~, `code`, ``` fences, "* " bullets
// and "\" + newline for empty lines (@chatwoot/prosemirror-schema's
// serializer); since 4.13 the webhook turns that "\\\n" into "\n"
// (chatwoot/CONTRACT.md section 4.3).
//
// Mapping chosen:
//   WhatsApp -> Chatwoot:  *b* -> **b**,  _i_ -> *i*,  ~s~ -> ~~s~~
//     Italic becomes *i*, not _i_: it is what Chatwoot's editor writes, and
//     CommonMark's '*' emphasis has no intraword/punctuation restriction,
//     while markdown-it does not count emoji (astral characters) as
//     punctuation, so "_obrigado_🙏" would stay plain with underscores.
//   Chatwoot -> WhatsApp:  **b** / __b__ -> *b*,  *i* / _i_ -> _i_,
//     ~~s~~ -> ~s~,  [text](url) -> "text (url)" (just url when equal),
//     <url> -> url,  "# Title" -> *Title*,  \* -> *,  "\" + newline -> newline,
//     fences -> ``` fences without the info string; code kept verbatim.
//
// Both functions are total (only std::bad_alloc escapes), run in time
// linear in the input, and only insert, drop or replace ASCII bytes at
// ASCII positions, so valid UTF-8 in gives valid UTF-8 out and a
// multi-byte sequence is never split.
#pragma once

#include <string>
#include <string_view>

namespace chatwoot::bridge {

// A WhatsApp message body or caption -> Chatwoot message content.  Only real
// WhatsApp formatting is converted; everything else (snake_case, e-mail
// addresses, URLs, stray markers, runs like "**" that WhatsApp does not
// pair) is copied unchanged.  A ```block``` that spans lines becomes a
// fenced code block with its fences on lines of their own, because
// CommonMark would otherwise read its first line as an info string.
std::string whatsapp_to_chatwoot(std::string_view text);

// A Chatwoot agent reply (CommonMark) -> WhatsApp text.  Emphasis that
// CommonMark would render but WhatsApp could not (inside a word, say
// "a**b**c") is left as the original characters rather than dropped, so no
// text is lost.  Emphasis running over several lines is closed at each
// line end and reopened on the next line, since WhatsApp never pairs
// markers across a newline.
std::string chatwoot_to_whatsapp(std::string_view markdown);

}  // namespace chatwoot::bridge
