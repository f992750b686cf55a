// Bytes -> NodeView: the decoder of a session's receive loop.  The same
// grammar, strictness, limits and errors (code, text and offset) as
// decode() (decoder.hpp, whose header lists what is refused), but the node
// borrows from the frame instead of copying it (node_view.hpp).
//
// One ViewDecoder per session, reused frame after frame: it keeps the
// arrays the nodes live in and the text of packed strings, so a warm
// decoder decodes a typical stanza without allocating.  A node it returns
// stays valid until its next decode (or its end), and only while the
// frame's bytes stay where they were.
//
// Arrays are sized from counts the input announces, but never beyond what
// the input left could fill (a node takes 3 bytes at least, an attribute
// 2), so a hostile count costs no more memory than its frame's size
// allows.  What an unusually large frame needed past a budget (128 KiB of
// nodes, 64 KiB of attributes, 16 KiB of text) is returned at the next
// decode.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "wa/binary/decoder.hpp"
#include "wa/binary/node_view.hpp"
#include "wa/bytes.hpp"
#include "wa/error.hpp"

namespace chatwoot::wa::binary {

namespace detail {

// Contiguous runs of T at stable addresses: chunks that are never moved,
// reused from one decode to the next.  A run never spans two chunks.
template <class T>
class Slab {
public:
    Slab(std::size_t chunk_size, std::size_t kept_budget)
        : chunk_size_(chunk_size), kept_budget_(kept_budget)
    {
    }

    // `n` contiguous elements holding whatever an earlier decode left.
    T* take(std::size_t n)
    {
        while (current_ < chunks_.size()) {
            Chunk& c = chunks_[current_];
            if (c.size - used_ >= n) {
                T* p = c.data.get() + used_;
                used_ += n;
                return p;
            }
            ++current_;
            used_ = 0;
        }
        const std::size_t size = n > chunk_size_ ? n : chunk_size_;
        chunks_.push_back(Chunk{std::make_unique<T[]>(size), size});
        used_ = n;
        return chunks_.back().data.get();
    }

    // Everything taken becomes free again.  Chunks are kept, in order,
    // while they fit the budget; the rest (made for one odd frame) are
    // released, so a rare huge frame does not pin its memory for the
    // session while a recurring large one (a group's participant list)
    // does not allocate each time.
    void reset()
    {
        std::size_t kept = 0;
        std::size_t kept_bytes = 0;
        for (std::size_t i = 0; i < chunks_.size(); ++i) {
            const std::size_t bytes = chunks_[i].size * sizeof(T);
            if (kept_bytes + bytes <= kept_budget_) {
                if (kept != i) {
                    chunks_[kept] = std::move(chunks_[i]);
                }
                ++kept;
                kept_bytes += bytes;
            }
        }
        chunks_.resize(kept);
        current_ = 0;
        used_ = 0;
    }

    // Bytes held in chunks now.
    std::size_t capacity_bytes() const
    {
        std::size_t n = 0;
        for (const Chunk& c : chunks_) {
            n += c.size * sizeof(T);
        }
        return n;
    }

private:
    struct Chunk {
        std::unique_ptr<T[]> data;
        std::size_t size = 0;
    };

    std::size_t chunk_size_;
    std::size_t kept_budget_;
    std::vector<Chunk> chunks_;
    std::size_t current_ = 0;
    std::size_t used_ = 0;
};

}  // namespace detail

class ViewDecoder {
public:
    explicit ViewDecoder(const DecodeLimits& limits = {});

    // A frame payload: the flags byte, zlib-inflated (into this decoder)
    // when it has 0x02, then the node.
    Result<NodeView> decode(ByteView payload);
    // One node from the bytes after the flags byte; all of `body` must be
    // the node.
    Result<NodeView> decode_node(ByteView body);

    const DecodeLimits& limits() const { return limits_; }

    // Memory this decoder holds for its nodes (arrays, packed text, the
    // last inflated frame): what a session pays for it between frames.
    std::size_t retained_bytes() const;

private:
    DecodeLimits limits_;
    detail::Slab<NodeView> nodes_;
    detail::Slab<AttrView> attrs_;
    detail::Slab<char> text_;
    Bytes inflated_;
};

}  // namespace chatwoot::wa::binary
