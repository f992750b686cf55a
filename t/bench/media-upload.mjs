#!/usr/bin/env node
// The upload baseline of t/bench/media.pl: Node's own crypto doing the
// helper's encrypt-and-upload on the same file to the same loopback media
// host.  As the helper does: the plaintext streams through AES-256-CBC
// (HKDF-SHA256 "WhatsApp <keys> Keys" of a fresh media key) and
// HMAC-SHA256 over iv || ciphertext (its first 10 bytes appended) into a
// temporary <out> file, SHA-256 of the plaintext and of the upload body
// taken on the way; then one POST over TLS of that file, streamed from disk
// with its Content-Length, to /mms/<mms>/<token>?auth=&token= (the token is
// base64url(SHA-256(body)), so the body must be whole before the POST
// starts), Origin as WhatsApp's hosts want it.  Nothing is kept in memory
// beyond the streams' chunks.
//
//   node t/bench/media-upload.mjs '{"file":<path>, "host":"localhost:PORT",
//        "ca":<pem path>, "auth":<media_conn auth>, "mms":"document",
//        "keys":"Document", "out":<path>, "repeat":3}'
//
// Prints one JSON line: {runs: [{ms, encrypt_ms, cpu_ms, bytes, enc_length,
// enc_sha256, direct_path}], ok: true} (a refused upload exits 1 naming it).
import crypto from 'node:crypto'
import fs from 'node:fs'
import https from 'node:https'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'

const spec = JSON.parse(process.argv[2] ?? '{}')
for (const k of ['file', 'host', 'auth', 'mms', 'keys', 'out']) {
    if (!spec[k]) { console.error(`media-upload: ${k} is missing`); process.exit(2) }
}
const ca = spec.ca ? fs.readFileSync(spec.ca) : undefined
const ORIGIN = 'https://web.whatsapp.com'

// Encrypt-and-MAC as the bytes stream: ciphertext out, then the MAC's 10.
class EncryptMac extends Transform {
    constructor(mediaKey) {
        super()
        const x = Buffer.from(crypto.hkdfSync('sha256', mediaKey, Buffer.alloc(0), `WhatsApp ${spec.keys} Keys`, 112))
        const iv = x.subarray(0, 16)
        this.cipher = crypto.createCipheriv('aes-256-cbc', x.subarray(16, 48), iv)
        this.hmac = crypto.createHmac('sha256', x.subarray(48, 80)).update(iv)
        this.plainHash = crypto.createHash('sha256')
        this.encHash = crypto.createHash('sha256')
        this.length = 0
    }
    out(buf) {
        if (!buf.length) return
        this.encHash.update(buf)
        this.length += buf.length
        this.push(buf)
    }
    _transform(chunk, _enc, done) {
        this.plainHash.update(chunk)
        const ct = this.cipher.update(chunk)
        this.hmac.update(ct)
        this.out(ct)
        done()
    }
    _flush(done) {
        const ct = this.cipher.final()
        this.hmac.update(ct)
        this.out(ct)
        this.out(this.hmac.digest().subarray(0, 10))
        done()
    }
}

function post(token, length) {
    const [hostname, port] = spec.host.split(':')
    const path = `/mms/${spec.mms}/${token}?auth=${encodeURIComponent(spec.auth)}&token=${token}`
    return new Promise((resolve, reject) => {
        const req = https.request({ hostname, port: Number(port), path, method: 'POST', ca,
            headers: { origin: ORIGIN, referer: `${ORIGIN}/`, 'content-type': 'application/octet-stream', 'content-length': length } }, res => {
            const parts = []
            res.on('data', d => parts.push(d))
            res.on('end', () => {
                const text = Buffer.concat(parts).toString()
                if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text}`))
                else resolve(JSON.parse(text))
            })
            res.on('error', reject)
        })
        req.on('error', reject)
        pipeline(fs.createReadStream(spec.out), req).catch(reject)
    })
}

const runs = []
try {
    for (let i = 0; i < Number(spec.repeat ?? 1); i++) {
        const c0 = process.cpuUsage(), t0 = performance.now()
        const enc = new EncryptMac(crypto.randomBytes(32))
        await pipeline(fs.createReadStream(spec.file), enc, fs.createWriteStream(spec.out, { mode: 0o600 }))
        const t1 = performance.now()
        const encSha256 = enc.encHash.digest()
        const answer = await post(encSha256.toString('base64url'), enc.length)
        const t2 = performance.now(), c1 = process.cpuUsage(c0)
        if (!answer.direct_path) throw new Error(`no direct_path in ${JSON.stringify(answer)}`)
        runs.push({ ms: t2 - t0, encrypt_ms: t1 - t0, cpu_ms: (c1.user + c1.system) / 1000, bytes: fs.statSync(spec.file).size,
            enc_length: enc.length, enc_sha256: encSha256.toString('base64'), direct_path: answer.direct_path })
        fs.unlinkSync(spec.out)
    }
} catch (e) {
    console.error(`media-upload: ${e.message}`)
    process.exit(1)
}
console.log(JSON.stringify({ runs, ok: true }))
