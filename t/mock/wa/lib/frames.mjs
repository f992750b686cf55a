// The client->server byte stream (waweb.md 1.1, 1.2): an optional edge
// routing preface ("ED", 0, 1, u24 length, routing info), the 4-byte intro
// header "WA" 6 3 once, then frames of a u24 big-endian length and a body.
// A WebSocket message may hold part of a frame or several, so this
// reassembles.  push() returns the complete frames or throws a
// FrameError whose message says what the server refused.
import { WA_HEADER } from './noise.mjs'

export class FrameError extends Error {}

const ED_MAGIC = Buffer.from([0x45, 0x44, 0, 1])

export class FrameReader {
    // maxFrame may change between stages (handshake frames are small).
    constructor({ maxFrame }) {
        this.buf = Buffer.alloc(0)
        this.introDone = false
        this.maxFrame = maxFrame
        this.routingInfo = null
    }

    push(chunk) {
        this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk)
        if (!this.introDone && !this.readIntro()) return []
        const frames = []
        while (this.buf.length >= 3) {
            const len = this.buf.readUIntBE(0, 3)
            if (len === 0) throw new FrameError('empty frame (length 0)')
            if (len > this.maxFrame) throw new FrameError(`frame of ${len} bytes exceeds the limit of ${this.maxFrame} at this stage`)
            if (this.buf.length < 3 + len) break
            frames.push(this.buf.subarray(3, 3 + len))
            this.buf = this.buf.subarray(3 + len)
        }
        return frames
    }

    // True once the header is consumed; false while more bytes are needed.
    readIntro() {
        if (this.buf[0] === 0x45) { // 'E': the edge routing preface comes first
            const have = Math.min(this.buf.length, 4)
            if (!this.buf.subarray(0, have).equals(ED_MAGIC.subarray(0, have)))
                throw new FrameError(`bad edge routing preface ${this.buf.subarray(0, have).toString('hex')}`)
            if (this.buf.length < 7) return false
            const len = this.buf.readUIntBE(4, 3)
            if (len === 0 || len > 4096) throw new FrameError(`edge routing info of ${len} bytes`)
            if (this.buf.length < 7 + len) return false
            this.routingInfo = Buffer.from(this.buf.subarray(7, 7 + len))
            this.buf = this.buf.subarray(7 + len)
        }
        const have = Math.min(this.buf.length, 4)
        if (!this.buf.subarray(0, have).equals(WA_HEADER.subarray(0, have)))
            throw new FrameError(`bad intro header ${this.buf.subarray(0, have).toString('hex')}, want 57410603`)
        if (this.buf.length < 4) return false
        this.buf = this.buf.subarray(4)
        this.introDone = true
        return true
    }

    get pending() { return this.buf.length }
}

export const frame = body => {
    if (body.length >= 1 << 24) throw new Error(`frame body of ${body.length} bytes does not fit a u24 length`)
    const head = Buffer.alloc(3)
    head.writeUIntBE(body.length, 0, 3)
    return Buffer.concat([head, body])
}
