// QR codes as images (src/qr): a known text rendered as PNG decodes back to
// the same text with zbarimg (an independent decoder), the PNG's header and
// size follow the module count, the SVG draws exactly the dark modules, and
// the C face's two-call sizing and refusals.

#include "chatwoot_qr.h"
#include "qr/qr_image.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <string>
#include <vector>

using namespace chatwoot::qr;

namespace {

// The shape of a WhatsApp pairing QR: ref, noise key, identity key, ADV
// secret (random bytes, base64).
const std::string kText =
    "2@Xk3V9yRlq8l6oJ3q0s1hYtH4mI0Cw6h2WcN1u3pQeVZr8T5fG7bK9dA0nL2xS4jE6vU8yR1,"
    "Jm8p2u5X1cV9bN3mQ7wE4rT6yU0iO2pA5sD8fG1hJ4k=,"
    "kL7zX3cV5bN9mQ1wE6rT8yU2iO4pA7sD0fG3hJ5kL8z=,"
    "Qw3eR5tY7uI9oP1aS4dF6gH8jK0lZ2xC5vB7nM9qW1e=";

uint32_t be32(const uint8_t* p)
{
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

bool have_zbarimg()
{
    return std::system("command -v zbarimg >/dev/null 2>&1") == 0;
}

std::string run(const std::string& cmd)
{
    std::string out;
    FILE* f = popen(cmd.c_str(), "r");
    if (f == nullptr) {
        return out;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        out.append(buf, n);
    }
    pclose(f);
    return out;
}

}  // namespace

TEST(QrImage, EncodesTheSmallestVersionThatHoldsTheText)
{
    auto small = encode("hello");
    ASSERT_TRUE(small);
    EXPECT_EQ(small->width, 21u) << "version 1";
    auto m = encode(kText);
    ASSERT_TRUE(m);
    EXPECT_EQ((m->width - 17) % 4, 0u) << "21, 25, ... modules: 17 + 4 * version";
    EXPECT_GT(m->width, 21u);
    // the finder pattern's corner is dark, the module inside its ring light
    EXPECT_TRUE(m->at(0, 0));
    EXPECT_FALSE(m->at(1, 1));
    EXPECT_TRUE(m->at(m->width - 1, 0));
}

TEST(QrImage, RefusesWhatNoQrCodeHolds)
{
    EXPECT_FALSE(encode(""));
    EXPECT_FALSE(encode(std::string(4000, 'x'))) << "over version 40-M's 2331 bytes";
    unsigned char buf[16];
    EXPECT_EQ(cw_qr_render("", 0, CW_QR_PNG, buf, sizeof buf), 0u);
    EXPECT_EQ(cw_qr_render("x", 1, 7, buf, sizeof buf), 0u) << "an unknown format";
}

TEST(QrImage, PngHeaderAndSizeFollowTheModules)
{
    auto m = encode(kText);
    ASSERT_TRUE(m);
    auto png = to_png(*m);
    ASSERT_TRUE(png);
    ASSERT_GT(png->size(), 33u);
    const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    EXPECT_EQ(std::vector<uint8_t>(png->begin(), png->begin() + 8),
              std::vector<uint8_t>(sig, sig + 8));
    EXPECT_EQ(std::string(png->begin() + 12, png->begin() + 16), "IHDR");
    const uint32_t side = (m->width + 2 * kBorder) * kScale;
    EXPECT_EQ(be32(png->data() + 16), side);
    EXPECT_EQ(be32(png->data() + 20), side);
    EXPECT_EQ((*png)[24], 1) << "bit depth";
    EXPECT_EQ((*png)[25], 0) << "grey";
    EXPECT_EQ(std::string(png->end() - 8, png->end() - 4), "IEND");
}

TEST(QrImage, PngDecodesBackToTheText)
{
    if (!have_zbarimg()) {
        GTEST_SKIP() << "zbarimg (zbar-tools) is not installed";
    }
    std::vector<unsigned char> buf(1);
    const size_t need = cw_qr_render(kText.data(), kText.size(), CW_QR_PNG, buf.data(), 1);
    ASSERT_GT(need, 1u) << "too small a buffer: the size it needs";
    buf.resize(need);
    ASSERT_EQ(cw_qr_render(kText.data(), kText.size(), CW_QR_PNG, buf.data(), buf.size()), need);

    char tmpl[] = "/tmp/qr-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    const std::string file = dir + "/qr.png";
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(need));
    std::string decoded = run("zbarimg --quiet --raw " + file + " 2>/dev/null");
    std::filesystem::remove_all(dir);
    while (!decoded.empty() && decoded.back() == '\n') {
        decoded.pop_back();
    }
    EXPECT_EQ(decoded, kText);
}

TEST(QrImage, SvgDrawsExactlyTheDarkModules)
{
    auto m = encode(kText);
    ASSERT_TRUE(m);
    const std::string svg = to_svg(*m);
    const unsigned side = m->width + 2 * kBorder;
    EXPECT_NE(svg.find("viewBox=\"0 0 " + std::to_string(side) + " " + std::to_string(side)
                       + "\""),
              std::string::npos);

    // every run "M<x> <y>h<n>v1h-<n>z" marks n dark modules from (x, y)
    std::vector<bool> drawn(m->dark.size(), false);
    // (parsed by hand: std::regex trips GCC 12's -Wmaybe-uninitialized
    // under the sanitizer build)
    size_t runs = 0;
    for (size_t at = svg.find('M'); at != std::string::npos; at = svg.find('M', at + 1)) {
        unsigned x0 = 0, y0 = 0, n = 0, back = 0;
        int used = 0;
        if (std::sscanf(svg.c_str() + at, "M%u %uh%uv1h-%uz%n", &x0, &y0, &n, &back, &used) != 4
            || used == 0) {
            continue;
        }
        ASSERT_EQ(n, back);
        const unsigned x = x0 - kBorder;
        const unsigned y = y0 - kBorder;
        for (unsigned i = 0; i < n; i++) {
            ASSERT_LT(x + i, m->width);
            ASSERT_FALSE(drawn[y * m->width + x + i]) << "drawn twice";
            drawn[y * m->width + x + i] = true;
        }
        runs++;
    }
    EXPECT_GT(runs, 0u);
    EXPECT_EQ(drawn, m->dark);

    std::vector<unsigned char> buf(svg.size());
    EXPECT_EQ(cw_qr_render(kText.data(), kText.size(), CW_QR_SVG, buf.data(), buf.size()),
              svg.size());
    EXPECT_EQ(std::string(buf.begin(), buf.end()), svg);
}
