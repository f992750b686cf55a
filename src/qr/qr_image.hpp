// A QR code's modules (libqrencode) and the images the devices API serves:
// PNG (libpng) and SVG.  Pure: text in, bytes out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::qr {

// Quiet zone and pixels per module of the PNG: the standard's four
// modules of margin, and modules big enough for a phone held at a screen.
inline constexpr unsigned kBorder = 4;
inline constexpr unsigned kScale = 8;

// The modules of a QR code: width x width, row by row, true for dark.
struct Matrix {
    unsigned width = 0;
    std::vector<bool> dark;

    bool at(unsigned x, unsigned y) const { return dark[static_cast<size_t>(y) * width + x]; }
};

// Byte mode, error correction level M, the smallest version that holds
// text.  nullopt when it cannot be encoded (empty, over a version 40's
// capacity).
std::optional<Matrix> encode(std::string_view text);

// The matrix as a PNG: (width + 2 * kBorder) * kScale pixels square, 1-bit
// grey.  nullopt when libpng fails.
std::optional<std::vector<uint8_t>> to_png(const Matrix& m);

// The matrix as an SVG document: one path of the dark runs, in module units.
std::string to_svg(const Matrix& m);

}  // namespace chatwoot::qr
