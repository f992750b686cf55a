// QR codes as images (qr_image.hpp) and their C face (include/chatwoot_qr.h).

#include "qr/qr_image.hpp"

#include <csetjmp>
#include <cstring>
#include <exception>
#include <memory>

#include <png.h>
#include <qrencode.h>

#include "chatwoot_qr.h"

namespace chatwoot::qr {

namespace {

struct QrFree {
    void operator()(QRcode* q) const noexcept { QRcode_free(q); }
};

// Where libpng writes, and whether appending failed (it must not throw
// through libpng's C frames; png_error() is called after the catch).
struct PngSink {
    std::vector<uint8_t>* out;
};

void png_write(png_structp png, png_bytep data, png_size_t n) noexcept
{
    auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
    bool ok = true;
    try {
        sink->out->insert(sink->out->end(), data, data + n);
    } catch (...) {
        ok = false;
    }
    if (!ok) {
        png_error(png, "out of memory");
    }
}

void png_flush(png_structp) noexcept {}

// libpng's default handlers print to stderr (a worker's error log): ours
// only jump back, the caller reports the failure.
void png_fail(png_structp png, png_const_charp) noexcept
{
    png_longjmp(png, 1);
}

void png_warn(png_structp, png_const_charp) noexcept {}

// Everything a longjmp may skip is made before setjmp and is trivially
// destructible from setjmp on: `rows` and `sink` belong to the caller.
bool write_png(PngSink* sink, const uint8_t* rows, size_t row_bytes, uint32_t side) noexcept
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, png_fail,
                                              png_warn);
    if (png == nullptr) {
        return false;
    }
    png_infop info = png_create_info_struct(png);
    if (info == nullptr) {
        png_destroy_write_struct(&png, nullptr);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_set_write_fn(png, sink, png_write, png_flush);
    png_set_IHDR(png, info, side, side, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < side; y++) {
        png_write_row(png, const_cast<png_bytep>(rows + static_cast<size_t>(y) * row_bytes));
    }
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return true;
}

}  // namespace

std::optional<Matrix> encode(std::string_view text)
{
    if (text.empty() || text.size() > 8192) {
        return std::nullopt;
    }
    std::unique_ptr<QRcode, QrFree> code(
        QRcode_encodeData(static_cast<int>(text.size()),
                          reinterpret_cast<const unsigned char*>(text.data()), 0, QR_ECLEVEL_M));
    if (!code) {
        return std::nullopt;   // ERANGE: too long for a QR code; ENOMEM
    }
    Matrix m;
    m.width = static_cast<unsigned>(code->width);
    m.dark.resize(static_cast<size_t>(m.width) * m.width);
    for (size_t i = 0; i < m.dark.size(); i++) {
        m.dark[i] = (code->data[i] & 1) != 0;   // bit 0: dark; the others are libqrencode's
    }
    return m;
}

std::optional<std::vector<uint8_t>> to_png(const Matrix& m)
{
    const uint32_t side = (m.width + 2 * kBorder) * kScale;
    const size_t row_bytes = (side + 7) / 8;
    // 1 is white in a grey PNG of depth 1: start white, clear the dark
    std::vector<uint8_t> rows(row_bytes * side, 0xff);
    for (uint32_t y = 0; y < side; y++) {
        const uint32_t my = y / kScale;
        if (my < kBorder || my >= kBorder + m.width) {
            continue;
        }
        uint8_t* row = rows.data() + static_cast<size_t>(y) * row_bytes;
        for (uint32_t x = 0; x < side; x++) {
            const uint32_t mx = x / kScale;
            if (mx >= kBorder && mx < kBorder + m.width && m.at(mx - kBorder, my - kBorder)) {
                row[x / 8] &= static_cast<uint8_t>(~(0x80u >> (x % 8)));
            }
        }
    }
    std::vector<uint8_t> out;
    out.reserve(4096);
    PngSink sink{&out};
    if (!write_png(&sink, rows.data(), row_bytes, side)) {
        return std::nullopt;
    }
    return out;
}

std::string to_svg(const Matrix& m)
{
    const unsigned side = m.width + 2 * kBorder;
    std::string s;
    s.reserve(256 + static_cast<size_t>(m.width) * m.width * 4);
    s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ";
    s += std::to_string(side) + " " + std::to_string(side) + "\" width=\""
         + std::to_string(side * kScale) + "\" height=\"" + std::to_string(side * kScale)
         + "\" shape-rendering=\"crispEdges\">\n<rect width=\"" + std::to_string(side)
         + "\" height=\"" + std::to_string(side) + "\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"";
    for (unsigned y = 0; y < m.width; y++) {
        unsigned x = 0;
        while (x < m.width) {
            if (!m.at(x, y)) {
                x++;
                continue;
            }
            unsigned run = 1;
            while (x + run < m.width && m.at(x + run, y)) {
                run++;
            }
            s += "M" + std::to_string(x + kBorder) + " " + std::to_string(y + kBorder) + "h"
                 + std::to_string(run) + "v1h-" + std::to_string(run) + "z";
            x += run;
        }
    }
    s += "\"/>\n</svg>\n";
    return s;
}

}  // namespace chatwoot::qr

extern "C" size_t cw_qr_render(const char* text, size_t len, unsigned format,
                               unsigned char* buf, size_t cap) noexcept
{
    using namespace chatwoot::qr;
    try {
        auto m = encode(std::string_view(text, len));
        if (!m) {
            return 0;
        }
        size_t n = 0;
        if (format == CW_QR_PNG) {
            auto png = to_png(*m);
            if (!png) {
                return 0;
            }
            n = png->size();
            if (n <= cap) {
                std::memcpy(buf, png->data(), n);
            }
        } else if (format == CW_QR_SVG) {
            std::string svg = to_svg(*m);
            n = svg.size();
            if (n <= cap) {
                std::memcpy(buf, svg.data(), n);
            }
        }
        return n;
    } catch (...) {
        return 0;   // std::bad_alloc
    }
}
