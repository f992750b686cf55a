#include "waveform.hpp"

#include <algorithm>
#include <cmath>

namespace chatwoot::helper::media_prep {

uint8_t loudness_bar(double mean_square)
{
    constexpr double kFloorDb = -50;
    if (!(mean_square > 0)) {
        return 0;
    }
    // 10*log10 of the mean square is 20*log10 of the RMS.
    const double db = 10 * std::log10(mean_square);
    const double v = (db - kFloorDb) / -kFloorDb * 100;
    return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 100.0)));
}

void WaveformBuilder::add(std::string_view s16le)
{
    size_t i = 0;
    if (have_low_byte_ && !s16le.empty()) {
        const auto hi = static_cast<unsigned char>(s16le[0]);
        push(static_cast<int16_t>(static_cast<uint16_t>(low_byte_ | (hi << 8))) / 32768.0);
        have_low_byte_ = false;
        i = 1;
    }
    for (; i + 1 < s16le.size(); i += 2) {
        const auto lo = static_cast<unsigned char>(s16le[i]);
        const auto hi = static_cast<unsigned char>(s16le[i + 1]);
        push(static_cast<int16_t>(static_cast<uint16_t>(lo | (hi << 8))) / 32768.0);
    }
    if (i < s16le.size()) {
        low_byte_ = static_cast<unsigned char>(s16le[i]);
        have_low_byte_ = true;
    }
}

void WaveformBuilder::push(double sample)
{
    samples_++;
    current_.energy += sample * sample;
    current_.count++;
    if (current_.count < block_size_) {
        return;
    }
    blocks_.push_back(current_);
    current_ = Block{};
    if (blocks_.size() == kMaxBlocks) {
        // Halve the resolution: memory stays at kMaxBlocks whatever the length.
        for (size_t k = 0; k < kMaxBlocks / 2; k++) {
            blocks_[k] = Block{blocks_[2 * k].energy + blocks_[2 * k + 1].energy,
                               blocks_[2 * k].count + blocks_[2 * k + 1].count};
        }
        blocks_.resize(kMaxBlocks / 2);
        block_size_ *= 2;
    }
}

std::string WaveformBuilder::bars() const
{
    std::string out(kWaveformBars, '\0');
    if (samples_ == 0) {
        return out;
    }
    Block sums[kWaveformBars];
    uint64_t start = 0;  // the block's first sample
    auto share = [&](const Block& b) {
        if (b.count == 0) {
            return;
        }
        // The bar whose 1/64 of the clip holds the block's middle sample.
        const uint64_t middle = start + b.count / 2;
        const size_t bar = std::min<uint64_t>(middle * kWaveformBars / samples_, kWaveformBars - 1);
        sums[bar].energy += b.energy;
        sums[bar].count += b.count;
        start += b.count;
    };
    for (const auto& b : blocks_) {
        share(b);
    }
    share(current_);
    for (size_t i = 0; i < kWaveformBars; i++) {
        out[i] = static_cast<char>(
            sums[i].count == 0 ? 0 : loudness_bar(sums[i].energy / static_cast<double>(sums[i].count)));
    }
    return out;
}

}  // namespace chatwoot::helper::media_prep
