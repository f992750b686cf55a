#!/usr/bin/env node
// The baseline of t/bench/media.pl: Node's own crypto doing the helper's
// download work on the same blob from the same loopback media host.  One
// GET over TLS (Origin as WhatsApp's hosts want it), and as the bytes come:
// SHA-256 of the body (fileEncSha256), HMAC-SHA256 of iv || ciphertext (the
// last 10 bytes held back: the MAC), AES-256-CBC decryption into a file,
// SHA-256 of the plaintext; at the end the MAC, both hashes and the length
// are checked and the file is fsynced, as the helper does before its rename.
// Nothing is kept in memory beyond the stream's chunks.
//
//   node t/bench/media-download.mjs '{"url":…, "ca":<pem path>, "media_key":<b64>,
//        "keys":"Video", "file_enc_sha256":<b64>, "file_sha256":<b64>, "length":N,
//        "out":<path>, "repeat":3}'
//
// Prints one JSON line: {runs: [{ms, cpu_ms, bytes}], ok: true} (a failed
// check exits 1 naming it).
import crypto from 'node:crypto'
import fs from 'node:fs'
import https from 'node:https'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'

const spec = JSON.parse(process.argv[2] ?? '{}')
for (const k of ['url', 'media_key', 'keys', 'file_enc_sha256', 'file_sha256', 'out']) {
    if (!spec[k]) { console.error(`media-download: ${k} is missing`); process.exit(2) }
}
const ca = spec.ca ? fs.readFileSync(spec.ca) : undefined
const mediaKey = Buffer.from(spec.media_key, 'base64')
const x = Buffer.from(crypto.hkdfSync('sha256', mediaKey, Buffer.alloc(0), `WhatsApp ${spec.keys} Keys`, 112))
const iv = x.subarray(0, 16), cipherKey = x.subarray(16, 48), macKey = x.subarray(48, 80)

// Verify-then-decrypt as the bytes stream: everything but the last 10
// bytes is ciphertext.
class VerifyDecrypt extends Transform {
    constructor() {
        super()
        this.encHash = crypto.createHash('sha256')
        this.hmac = crypto.createHmac('sha256', macKey).update(iv)
        this.decipher = crypto.createDecipheriv('aes-256-cbc', cipherKey, iv)
        this.plainHash = crypto.createHash('sha256')
        this.tail = Buffer.alloc(0)
        this.plainLength = 0
    }
    out(buf) {
        if (buf.length) { this.plainHash.update(buf); this.plainLength += buf.length; this.push(buf) }
    }
    _transform(chunk, _enc, done) {
        this.encHash.update(chunk)
        const all = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk
        const keep = Math.min(10, all.length)
        const ct = all.subarray(0, all.length - keep)
        this.tail = Buffer.from(all.subarray(all.length - keep))
        if (ct.length) { this.hmac.update(ct); this.out(this.decipher.update(ct)) }
        done()
    }
    _flush(done) {
        try {
            if (!this.encHash.digest().equals(Buffer.from(spec.file_enc_sha256, 'base64'))) throw new Error('fileEncSha256 does not match')
            if (this.tail.length !== 10 || !crypto.timingSafeEqual(this.hmac.digest().subarray(0, 10), this.tail)) throw new Error('the MAC does not verify')
            this.out(this.decipher.final())
            if (!this.plainHash.digest().equals(Buffer.from(spec.file_sha256, 'base64'))) throw new Error('fileSha256 does not match')
            if (spec.length !== undefined && this.plainLength !== Number(spec.length)) throw new Error('the length does not match')
            done()
        } catch (e) { done(e) }
    }
}

function get(url) {
    return new Promise((resolve, reject) => {
        const req = https.get(url, { ca, headers: { origin: 'https://web.whatsapp.com', referer: 'https://web.whatsapp.com/' } }, res => {
            if (res.statusCode !== 200) { res.resume(); reject(new Error(`HTTP ${res.statusCode}`)); return }
            resolve(res)
        })
        req.on('error', reject)
    })
}

const runs = []
try {
    for (let i = 0; i < Number(spec.repeat ?? 1); i++) {
        const c0 = process.cpuUsage(), t0 = performance.now()
        const res = await get(spec.url)
        const file = fs.createWriteStream(spec.out, { mode: 0o600 })
        await pipeline(res, new VerifyDecrypt(), file)
        const fd = fs.openSync(spec.out, 'r')
        fs.fsyncSync(fd)
        fs.closeSync(fd)
        const t1 = performance.now(), c1 = process.cpuUsage(c0)
        runs.push({ ms: t1 - t0, cpu_ms: (c1.user + c1.system) / 1000, bytes: fs.statSync(spec.out).size })
        fs.unlinkSync(spec.out)
    }
} catch (e) {
    console.error(`media-download: ${e.message}`)
    process.exit(1)
}
console.log(JSON.stringify({ runs, ok: true }))
