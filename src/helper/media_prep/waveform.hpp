// A voice note's waveform as WhatsApp carries it (AudioMessage.waveform):
// 64 bytes, each 0..100, the loudness of 1/64 of the clip, left to right.
//
// Fed the clip as ffmpeg decodes it to a pipe (s16le, mono, 8 kHz), in
// chunks of any size, in bounded memory whatever the length: the samples'
// energy (sum of squares) is kept in at most kMaxBlocks blocks; when they
// are all used, neighbours are merged pairwise and each block covers twice
// as many samples.  A clip of N samples ends with between kMaxBlocks/2 and
// kMaxBlocks blocks (or one per sample, when short), which are then shared
// out among the 64 bars by where each block's middle falls.
//
// A bar's loudness is its RMS in dBFS mapped linearly from -50 dB (0) to
// 0 dB (100), clamped: speech recorded at ordinary levels lands in the
// middle of the range, digital silence is 0, and a bar is an absolute
// measure (not relative to the loudest bar), so a quiet clip looks quiet.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::helper::media_prep {

inline constexpr size_t kWaveformBars = 64;
inline constexpr uint32_t kWaveformRate = 8000;  // Hz of the PCM fed in

class WaveformBuilder {
public:
    // Little-endian signed 16-bit samples; a chunk may split a sample.
    void add(std::string_view s16le);

    uint64_t samples() const { return samples_; }
    // The 64 bars (bytes 0..100).  All zero for an empty clip.
    std::string bars() const;

    static constexpr size_t kMaxBlocks = 4096;

private:
    struct Block {
        double energy = 0;  // sum of squares of the samples, full scale = 1
        uint64_t count = 0;
    };
    void push(double sample);

    std::vector<Block> blocks_;
    uint64_t block_size_ = 1;  // samples per finished block
    Block current_;
    uint64_t samples_ = 0;
    bool have_low_byte_ = false;
    unsigned char low_byte_ = 0;
};

// The bar for a mean square (full scale 1.0).
uint8_t loudness_bar(double mean_square);

}  // namespace chatwoot::helper::media_prep
