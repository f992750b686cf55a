#include "ipc/login_page.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace chatwoot::ipc {

extern const unsigned char kLoginPage[];
extern const std::size_t kLoginPage_size;

std::string_view login_page() noexcept
{
    return std::string_view(reinterpret_cast<const char*>(kLoginPage), kLoginPage_size);
}

std::string csp_hash(std::string_view text)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(text.data(), text.size(), digest, &n, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed");
    }
    std::string b64(4 * ((n + 2) / 3) + 1, '\0');
    const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), digest,
                                    static_cast<int>(n));
    b64.resize(static_cast<size_t>(len));
    return "'sha256-" + b64 + "'";
}

namespace {

// The hash sources of every <tag ...>text</tag> element in html, as the
// browser hashes them: the text between the tags, byte for byte.  An
// element left open adds nothing (the browser would not run it either).
std::string hashes_of(std::string_view html, std::string_view tag)
{
    const std::string open = "<" + std::string(tag);
    const std::string close = "</" + std::string(tag) + ">";
    std::string sources;
    size_t at = 0;
    while ((at = html.find(open, at)) != std::string_view::npos) {
        const size_t after = at + open.size();
        // "<scripts>" is no <script>
        if (after >= html.size() || (html[after] != '>' && html[after] != ' ')) {
            at = after;
            continue;
        }
        const size_t start = html.find('>', after);
        if (start == std::string_view::npos) {
            break;
        }
        const size_t end = html.find(close, start + 1);
        if (end == std::string_view::npos) {
            break;
        }
        sources += ' ';
        sources += csp_hash(html.substr(start + 1, end - start - 1));
        at = end + close.size();
    }
    return sources;
}

}  // namespace

std::string content_security_policy(std::string_view html)
{
    const std::string scripts = hashes_of(html, "script");
    const std::string styles = hashes_of(html, "style");
    return "default-src 'none'; script-src" + (scripts.empty() ? " 'none'" : scripts)
           + "; style-src" + (styles.empty() ? " 'none'" : styles)
           + "; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
             "frame-ancestors 'none'";
}

}  // namespace chatwoot::ipc
