// The voice-note waveform (helper/media_prep/waveform.hpp) on PCM made
// here: 64 bars, 0 for silence, the dB scale's fixed points, bars that
// follow the loudness along the clip, chunks split anywhere (even inside a
// sample), and a ten-minute clip measured in bounded blocks as exactly as
// a short one.
#include "helper/media_prep/waveform.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using namespace chatwoot::helper::media_prep;

namespace {

void put(std::string& pcm, double v)
{
    const auto s = static_cast<int16_t>(std::lround(std::clamp(v, -1.0, 32767.0 / 32768) * 32768));
    pcm.push_back(static_cast<char>(s & 0xFF));
    pcm.push_back(static_cast<char>((s >> 8) & 0xFF));
}

// `seconds` of a 440 Hz sine at `amplitude(t)` (t in 0..1 of the clip).
template <typename F>
std::string sine(double seconds, F amplitude)
{
    std::string pcm;
    const auto n = static_cast<size_t>(seconds * kWaveformRate);
    for (size_t i = 0; i < n; i++) {
        const double t = static_cast<double>(i) / static_cast<double>(n);
        put(pcm, amplitude(t) * std::sin(2 * M_PI * 440 * static_cast<double>(i) / kWaveformRate));
    }
    return pcm;
}

std::string bars_of(const std::string& pcm)
{
    WaveformBuilder w;
    w.add(pcm);
    return w.bars();
}

}  // namespace

TEST(Waveform, LoudnessScale)
{
    EXPECT_EQ(loudness_bar(0), 0);
    EXPECT_EQ(loudness_bar(1.0), 100);          // 0 dBFS
    EXPECT_EQ(loudness_bar(1e-5), 0);           // -50 dBFS: the floor
    EXPECT_EQ(loudness_bar(1e-9), 0);           // below it
    EXPECT_EQ(loudness_bar(std::pow(10, -2.5)), 50);  // -25 dBFS: half way
}

TEST(Waveform, EmptyClipIsAllZero)
{
    WaveformBuilder w;
    EXPECT_EQ(w.samples(), 0u);
    EXPECT_EQ(w.bars(), std::string(64, '\0'));
}

TEST(Waveform, SilenceIsFlatZero)
{
    std::string pcm(2 * 2 * kWaveformRate, '\0');
    EXPECT_EQ(bars_of(pcm), std::string(64, '\0'));
}

TEST(Waveform, SteadySineIsLoudEverywhere)
{
    // RMS of a 0.5 sine: 0.354, -9.0 dBFS -> 82.
    const std::string bars = bars_of(sine(2, [](double) { return 0.5; }));
    ASSERT_EQ(bars.size(), 64u);
    for (char b : bars) {
        EXPECT_NEAR(static_cast<unsigned char>(b), 82, 1);
    }
}

TEST(Waveform, BarsFollowTheLoudnessAlongTheClip)
{
    // Loud first half, silent second half.
    const std::string halves = bars_of(sine(4, [](double t) { return t < 0.5 ? 0.5 : 0.0; }));
    for (size_t i = 0; i < 64; i++) {
        if (i < 31) {
            EXPECT_GT(static_cast<unsigned char>(halves[i]), 70) << i;
        } else if (i > 32) {
            EXPECT_EQ(halves[i], 0) << i;
        }
    }
    // A fade-in: every bar at least as loud as the one before, and the
    // last much louder than the first.
    const std::string ramp = bars_of(sine(4, [](double t) { return t; }));
    for (size_t i = 1; i < 64; i++) {
        EXPECT_GE(static_cast<unsigned char>(ramp[i]) + 1, static_cast<unsigned char>(ramp[i - 1])) << i;
    }
    EXPECT_GT(static_cast<unsigned char>(ramp[63]), static_cast<unsigned char>(ramp[1]) + 30);
}

TEST(Waveform, ChunksMaySplitASample)
{
    const std::string pcm = sine(1, [](double t) { return t; });
    WaveformBuilder split;
    for (size_t i = 0; i < pcm.size();) {
        const size_t n = std::min<size_t>(pcm.size() - i, 1 + (i % 7));  // odd and even sizes
        split.add(std::string_view(pcm).substr(i, n));
        i += n;
    }
    EXPECT_EQ(split.samples(), pcm.size() / 2);
    EXPECT_EQ(split.bars(), bars_of(pcm));
}

TEST(Waveform, LongClipInBoundedBlocks)
{
    // Ten minutes (4.8 M samples, far past kMaxBlocks): the halves still
    // land on their bars.
    const std::string pcm = sine(600, [](double t) { return t < 0.25 ? 0.0 : 0.5; });
    WaveformBuilder w;
    for (size_t i = 0; i < pcm.size(); i += 65536) {
        w.add(std::string_view(pcm).substr(i, 65536));
    }
    EXPECT_EQ(w.samples(), 600u * kWaveformRate);
    const std::string bars = w.bars();
    for (size_t i = 0; i < 15; i++) {
        EXPECT_EQ(bars[i], 0) << i;
    }
    for (size_t i = 17; i < 64; i++) {
        EXPECT_NEAR(static_cast<unsigned char>(bars[i]), 82, 1) << i;
    }
}
