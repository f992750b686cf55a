// The operator's login page (src/ipc/login_page.html, embedded at build
// time by cmake/embed_text.cmake) and the Content-Security-Policy it is
// served with.  The policy is computed from the page itself: every inline
// <script> and <style> element is allowed by the SHA-256 of its text and
// nothing else runs, so an edit of the page can never leave it with a
// stale hash (the browser would refuse the script) or a loosened policy.
#pragma once

#include <string>
#include <string_view>

namespace chatwoot::ipc {

// The embedded page.
std::string_view login_page() noexcept;

// The policy for `html`: default-src 'none', its scripts and styles by
// hash, images, fetches and forms of its own origin only, no framing.
std::string content_security_policy(std::string_view html);

// What a CSP hash source names: 'sha256-<base64 of SHA-256(text)>'.
std::string csp_hash(std::string_view text);

}  // namespace chatwoot::ipc
