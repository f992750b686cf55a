// Fuzzes what the media layer reads that decides where the helper
// connects: the media_conn answer (a binary node) and the hosts, direct
// paths and message urls the URLs are built from.  Each must return a
// value or a reason, never crash, never read past its input; and whatever
// is accepted must be something a URL can carry safely: a host of labels
// and a port, a path that stays on its host.
//
// Input: byte 0 picks the target, the rest is its input.
//   0: a binary payload (flags byte, node) for parse_media_conn()
//   1: text for check_media_host(), upload_url() and is_allowed_media_host()
//   2: text for check_direct_path() and download_url()
//   3: text for check_message_url()
// Seeds: t/fuzz/corpus/media_conn (Baileys' encodings, from
// t/unit/wa/media_vectors.json by make-corpus.mjs).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "wa/binary/decoder.hpp"
#include "wa/media/media_conn.hpp"
#include "wa/media/media_url.hpp"

using namespace chatwoot::wa;

namespace {

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "media_conn_fuzz: %s\n", what);
        std::abort();
    }
}

// What check_media_host() promises of what it returns.
void check_host(std::string_view h)
{
    check(!h.empty() && h.size() <= media::kMaxHostName + 6, "host length");
    for (char c : h)
        check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                  c == ':',
              "host character");
    check(h.front() != '.' && h.front() != '-' && h.front() != ':', "host start");
    check(h.find("..") == std::string_view::npos, "empty label");
}

// What a URL we build or accept may hold: printable ASCII without space,
// one "https://" at the start, and no other "//" or '@' or '#'.
void check_url(std::string_view url)
{
    check(url.starts_with("https://"), "url scheme");
    std::string_view rest = url.substr(8);
    check(rest.find("//") == std::string_view::npos, "url with a second //");
    for (char c : rest) {
        const auto b = static_cast<unsigned char>(c);
        check(b > 0x20 && b < 0x7f && c != '@' && c != '#' && c != '\\', "url character");
    }
    const std::size_t slash = rest.find('/');
    check(slash != std::string_view::npos, "url without path");
    check_host(rest.substr(0, slash));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) return 0;
    const std::uint8_t selector = data[0];
    ByteView input(data + 1, size - 1);
    const std::string_view text = as_chars(input);
    const Bytes hash(32, 0xab);
    const std::vector<std::string> conn{"mmg.whatsapp.net", "127.0.0.1:8443"};

    switch (selector % 4) {
    case 0: {
        auto node = binary::decode(input);
        if (!node) return 0;
        if (auto mc = media::parse_media_conn(*node)) {
            check(!mc->auth.empty() && mc->auth.size() <= media::kMaxMediaAuth, "auth");
            check(!mc->hosts.empty() && mc->hosts.size() <= media::kMaxMediaHosts, "hosts");
            for (const std::string& h : mc->hosts) {
                check_host(h);
                auto up = media::upload_url(h, media::MediaType::image, hash, mc->auth);
                check(up.ok(), "upload_url refused a host media_conn gave");
                check_url(*up);
            }
        }
        break;
    }
    case 1:
        if (auto h = media::check_media_host(text)) {
            check_host(*h);
            if (auto up = media::upload_url(*h, media::MediaType::video, hash, "a b&c"))
                check_url(*up);
        }
        (void) media::is_allowed_media_host(text, conn);
        break;
    case 2:
        if (media::check_direct_path(text)) {
            auto url = media::download_url("mmg.whatsapp.net", text, media::MediaType::audio, hash);
            check(url.ok(), "download_url refused a checked path");
            check_url(*url);
        }
        break;
    case 3:
        if (auto url = media::check_message_url(text, conn)) {
            check_url(*url);
            const std::string_view rest = std::string_view(*url).substr(8);
            check(media::is_allowed_media_host(rest.substr(0, rest.find('/')), conn),
                  "accepted url on a host not allowed");
        }
        break;
    }
    return 0;
}
