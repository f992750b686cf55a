// WhatsApp's media servers, as the mock plays them (waweb.md 2; issue 11):
// media_conn (hosts and an upload auth), the upload (POST /mms/<type>/<token>)
// and the download (GET <direct_path>&hash=&mms-type=&__wa-mms=) on the mock's
// own HTTP(S) listeners, the blobs kept in memory; the media cipher the
// senders of the world use (our own code on Node's crypto: HKDF-SHA256 ->
// AES-256-CBC + a 10-byte HMAC-SHA256), and the phone's side of a media
// retry (the server-error receipt in, the mediaretry notification out;
// AES-256-GCM under HKDF(mediaKey, "WhatsApp Media Retry Notification")).
//
// Strict where the real servers are: a wrong or expired auth is 401, a token
// that is not the body's SHA-256 is 400, an unknown mms-type 400 (upload) or
// 404 (download), an unknown blob 404 and an expired one 410.  The server
// cannot check an upload's MAC (it has no key), so it does not.
import crypto from 'node:crypto'
import fs from 'node:fs'
import * as B from 'baileys'
import { WorldError } from './world.mjs'

const P = B.proto

// The upload paths' mms-types (whatsmeow's mediaTypes and Baileys'
// MEDIA_PATH_MAP agree on these) and the direct-path folder each gets.
export const MMS_TYPES = new Map([
    ['image', 't62.7118-24'], ['video', 't62.7161-24'], ['audio', 't62.7117-24'], ['document', 't62.7119-24'],
    ['md-msg-hist', 't62.7120-24'], ['md-app-state', 't62.7120-24'], ['thumbnail-link', 't62.36144-24'], ['sticker-pack', 't62.15575-24'],
])

// What a world sender can send: the message field, the HKDF info's media
// name, the mms-type, the <enc mediatype>, whether WhatsApp gives it a caption.
export const MEDIA_KINDS = {
    image: { field: 'imageMessage', keys: 'Image', mms: 'image', mediatype: 'image', caption: true, mimetype: 'image/jpeg' },
    video: { field: 'videoMessage', keys: 'Video', mms: 'video', mediatype: 'video', caption: true, mimetype: 'video/mp4' },
    gif: { field: 'videoMessage', keys: 'Video', mms: 'video', mediatype: 'gif', caption: true, mimetype: 'video/mp4' },
    audio: { field: 'audioMessage', keys: 'Audio', mms: 'audio', mediatype: 'audio', caption: false, mimetype: 'audio/mpeg' },
    ptt: { field: 'audioMessage', keys: 'Audio', mms: 'audio', mediatype: 'ptt', caption: false, mimetype: 'audio/ogg; codecs=opus' },
    document: { field: 'documentMessage', keys: 'Document', mms: 'document', mediatype: 'document', caption: true, mimetype: 'application/octet-stream' },
    sticker: { field: 'stickerMessage', keys: 'Image', mms: 'image', mediatype: 'sticker', caption: false, mimetype: 'image/webp' },
}

const MAX_UPLOAD = 100 << 20 // WhatsApp's documents go to 2 GB; a test's need not
const ORIGIN = 'https://web.whatsapp.com'
const RETRY_INFO = 'WhatsApp Media Retry Notification'
const RETRY_RESULTS = { success: 1, not_found: 2, decryption_error: 3, general_error: 0 }

export class MediaError extends Error {
    constructor(status, msg) { super(msg); this.status = status }
}

const b64url = b => Buffer.from(b).toString('base64url')
// The token and the hash come padded (whatsmeow: base64.URLEncoding) or not
// (Baileys strips the '='): both name the same bytes.
const unpadded = s => String(s ?? '').replace(/=+$/, '')

// HKDF-SHA256(mediaKey, no salt, "WhatsApp <X> Keys", 112): iv, cipher key,
// MAC key (and a ref key nobody uses).
export function mediaKeys(mediaKey, keysName) {
    const x = Buffer.from(crypto.hkdfSync('sha256', mediaKey, Buffer.alloc(0), `WhatsApp ${keysName} Keys`, 112))
    return { iv: x.subarray(0, 16), cipherKey: x.subarray(16, 48), macKey: x.subarray(48, 80) }
}

// The upload body (ct || mac[0:10]) and the hashes a message carries.
export function encryptMedia(plain, mediaKey, keysName) {
    const k = mediaKeys(mediaKey, keysName)
    const c = crypto.createCipheriv('aes-256-cbc', k.cipherKey, k.iv)
    const ct = Buffer.concat([c.update(plain), c.final()])
    const mac = crypto.createHmac('sha256', k.macKey).update(k.iv).update(ct).digest().subarray(0, 10)
    const body = Buffer.concat([ct, mac])
    return { body, fileSha256: sha256(plain), fileEncSha256: sha256(body) }
}

// The reverse, checking what a receiver checks, in its order: the body's
// hash, the MAC, the padding, the plaintext's hash.  Throws naming the check.
export function decryptMedia(body, { mediaKey, keysName, fileEncSha256, fileSha256 }) {
    if (fileEncSha256 && !sha256(body).equals(Buffer.from(fileEncSha256))) throw new MediaError(400, 'fileEncSha256 does not match the body')
    if (body.length < 10 + 16 || (body.length - 10) % 16) throw new MediaError(400, `a body of ${body.length} bytes is no ct||mac`)
    const k = mediaKeys(mediaKey, keysName)
    const ct = body.subarray(0, -10)
    const mac = crypto.createHmac('sha256', k.macKey).update(k.iv).update(ct).digest().subarray(0, 10)
    if (!crypto.timingSafeEqual(mac, body.subarray(-10))) throw new MediaError(400, 'the MAC does not verify')
    let plain
    try {
        const d = crypto.createDecipheriv('aes-256-cbc', k.cipherKey, k.iv)
        plain = Buffer.concat([d.update(ct), d.final()])
    } catch { throw new MediaError(400, 'bad padding') }
    if (fileSha256 && !sha256(plain).equals(Buffer.from(fileSha256))) throw new MediaError(400, 'fileSha256 does not match the plaintext')
    return plain
}

// The media retry's AES-256-GCM (12-byte IV, the tag after the ciphertext,
// the message id as additional data), keyed by HKDF(mediaKey, RETRY_INFO, 32).
export function retryKey(mediaKey) {
    return Buffer.from(crypto.hkdfSync('sha256', mediaKey, Buffer.alloc(0), RETRY_INFO, 32))
}
export function sealRetry(plain, mediaKey, id, iv = crypto.randomBytes(12)) {
    const c = crypto.createCipheriv('aes-256-gcm', retryKey(mediaKey), iv)
    c.setAAD(Buffer.from(id))
    return { ciphertext: Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]), iv }
}
export function openRetry(ciphertext, iv, mediaKey, id) {
    if (iv.length !== 12 || ciphertext.length < 16) throw new MediaError(400, 'enc_iv is not 12 bytes or enc_p has no tag')
    const d = crypto.createDecipheriv('aes-256-gcm', retryKey(mediaKey), iv)
    d.setAAD(Buffer.from(id))
    d.setAuthTag(ciphertext.subarray(-16))
    try { return Buffer.concat([d.update(ciphertext.subarray(0, -16)), d.final()]) } catch { throw new MediaError(400, 'enc_p does not authenticate') }
}

function sha256(b) { return crypto.createHash('sha256').update(b).digest() }

// The message a media send puts in, at its place: the kind's own message,
// in a documentWithCaptionMessage for a document with a caption (as
// WhatsApp's clients send it), in a viewOnceMessageV2 for a view-once one.
export function innerMedia(m) {
    const inner = m?.viewOnceMessageV2?.message ?? m?.viewOnceMessage?.message ?? m?.viewOnceMessageV2Extension?.message ??
        m?.documentWithCaptionMessage?.message ?? m?.ephemeralMessage?.message
    return inner ? innerMedia(inner) : m
}

export class MediaServer {
    constructor(mock) {
        this.mock = mock
        this.blobs = new Map() // the direct path's pathname -> { body, mms, oh, expired, encSha256 }
        this.auths = new Map() // auth -> expiry (ms)
        this.conn = { ttl: 300, authTtl: 21600, maxBuckets: 12, hosts: null }
        this.failing = null // media-fail: { count, op, mode, status }
        this.serving = null // media-serve: { count, mode, path }
        this.uploadHolds = 0 // media-serve op=upload: how many uploads are still to be held mid-body
        this.held = new Set() // slow transfers waiting for media-serve-release: { release }
        this.retryAnswers = new Map() // message id -> result name, for the phone's answer to a media retry
        this.counter = 0
        this.receivedMedia = new Map() // message id -> what its media decrypted to (media-received)
        // The name media_conn gives the listener (--media-host): the one the
        // TLS certificate names, for a client that verifies it.
        this.hostName = '127.0.0.1'
    }

    emit(ev) { this.mock.emit(ev) }

    // The listener the hosts name: the TLS one when there is one (the
    // bridge fetches over https), else the plain one.
    hosts() {
        if (this.conn.hosts) return this.conn.hosts
        return [`${this.hostName}:${this.mock.tlsPort ?? this.mock.port}`]
    }

    // <iq xmlns="w:m" type="set"><media_conn/></iq> -> the <media_conn> answer.
    mediaConn(conn) {
        const auth = this.newAuth()
        const hosts = this.hosts()
        this.emit({ type: 'media-conn', conn: conn.id, ttl: this.conn.ttl, auth_ttl: this.conn.authTtl, hosts })
        return { tag: 'media_conn', attrs: { auth, ttl: String(this.conn.ttl), auth_ttl: String(this.conn.authTtl), max_buckets: String(this.conn.maxBuckets) },
            content: hosts.map(h => ({ tag: 'host', attrs: { hostname: h } })) }
    }

    // An upload auth, good for auth_ttl.
    newAuth() {
        const auth = crypto.randomBytes(40).toString('base64')
        this.auths.set(auth, this.mock.now() + this.conn.authTtl * 1000)
        return auth
    }

    // Keeps a blob and answers what the upload answers.  `from` says who.
    store(body, mms, from) {
        const n = ++this.counter
        const oh = `01_${b64url(crypto.randomBytes(24))}`
        const oe = Math.floor(this.mock.now() / 1000 + 14 * 86400).toString(16).toUpperCase()
        const path = `/v/${MMS_TYPES.get(mms)}/${100000000 + n}_${crypto.randomInt(1e9)}_n.enc`
        const directPath = `${path}?ccb=11-4&oh=${oh}&oe=${oe}&_nc_sid=5e03e0`
        const encSha256 = sha256(body)
        this.blobs.set(path, { body, mms, oh, expired: null, encSha256, directPath })
        const host = this.hosts()[0]
        this.emit({ type: 'media-upload', mms_type: mms, enc_sha256: encSha256.toString('base64'), length: body.length, direct_path: directPath, from })
        return { url: `https://${host}${directPath}&mms3=true`, direct_path: directPath, handle: b64url(crypto.randomBytes(16)), object_id: String(1e15 + n) }
    }

    blobFor({ direct_path, enc_sha256 }) {
        if (direct_path) {
            const b = this.blobs.get(String(direct_path).split('?')[0])
            if (b) return [b]
        } else if (enc_sha256) {
            const want = Buffer.from(String(enc_sha256), 'base64')
            const all = [...this.blobs.values()].filter(b => b.encSha256.equals(want))
            if (all.length) return all
        }
        throw new WorldError(`no blob ${direct_path ?? enc_sha256 ?? '(name direct_path or enc_sha256)'}`)
    }

    // One-shot failures the tests arm; true when this request was failed.
    failed(op, req, res, record) {
        const f = this.failing
        if (!f || (f.op !== 'any' && f.op !== op)) return false
        if (--f.count <= 0) this.failing = null
        record({ status: f.mode === 'reset' ? null : f.status, failed: f.mode })
        if (f.mode === 'reset') req.socket.destroy()
        else { res.writeHead(f.status, { 'content-type': 'text/plain' }); res.end('injected failure\n') }
        return true
    }

    // Any request under /mms/ or /v/ on the mock's listeners.
    async handle(req, res) {
        const url = new URL(req.url, 'http://x')
        const op = req.method === 'POST' && url.pathname.startsWith('/mms/') ? 'upload' : req.method === 'GET' && url.pathname.startsWith('/v/') ? 'download' : null
        const refuse = (status, reason) => {
            this.mock.log(`media ${op ?? req.method}: refused ${status}: ${reason}`)
            this.emit({ type: 'media-refused', op, status, reason, path: url.pathname })
            res.writeHead(status, { 'content-type': 'application/json' })
            res.end(JSON.stringify({ error: reason }) + '\n')
        }
        if (!op) return refuse(405, `${req.method} ${url.pathname}: uploads are POST /mms/…, downloads GET /v/…`)
        if (req.headers.origin !== ORIGIN) return refuse(403, `Origin ${JSON.stringify(req.headers.origin ?? null)} is not ${ORIGIN}`)
        if (req.headers.referer !== undefined && req.headers.referer !== ORIGIN && !req.headers.referer.startsWith(`${ORIGIN}/`))
            return refuse(403, `Referer ${req.headers.referer} is not under ${ORIGIN}/`)
        return op === 'upload' ? this.upload(req, res, url, refuse) : this.download(req, res, url, refuse)
    }

    async upload(req, res, url, refuse) {
        const m = /^\/mms\/([a-z-]+)\/([A-Za-z0-9_-]+=*)$/.exec(url.pathname)
        if (!m) return refuse(404, `${url.pathname} is not /mms/<mms-type>/<token>`)
        const [, mms, token] = m
        if (!MMS_TYPES.has(mms)) return refuse(400, `unknown mms-type ${mms}`)
        if (this.failed('upload', req, res, r => this.emit({ type: 'media-upload-failed', mms_type: mms, ...r }))) return
        const auth = url.searchParams.get('auth')
        const until = auth === null ? undefined : this.auths.get(auth)
        if (until === undefined) return refuse(401, auth === null ? 'no auth' : 'an auth media_conn did not give')
        if (until <= this.mock.now()) return refuse(401, 'the auth expired')
        if (unpadded(url.searchParams.get('token')) !== unpadded(token)) return refuse(400, 'the token query is not the path token')
        const parts = []
        let size = 0
        // A held upload stops reading at half its Content-Length (or after
        // its first bytes): the client's body is stuck in the socket, its
        // answer not given, until the test releases it or the client goes.
        const length = Number(req.headers['content-length'])
        let holdAt = Infinity
        if (this.uploadHolds > 0) {
            this.uploadHolds--
            holdAt = Number.isSafeInteger(length) && length > 1 ? length >> 1 : 1
        }
        let hold = null
        try {
            for await (const d of req) {
                size += d.length
                if (size > MAX_UPLOAD) { req.destroy(); return refuse(413, `body over ${MAX_UPLOAD} bytes`) }
                parts.push(d)
                if (size >= holdAt) {
                    holdAt = Infinity
                    hold = this.holdUpload(req, mms, size, Number.isSafeInteger(length) ? length : null)
                    if (await hold.done === 'gone') return
                }
            }
        } catch (e) {
            // A held body whose client went is seen when the reading goes on.
            if (!hold) throw e
            hold.gone(size)
            return
        }
        const body = Buffer.concat(parts)
        if (!body.length) return refuse(400, 'an empty body')
        if (unpadded(token) !== unpadded(b64url(sha256(body)))) return refuse(400, 'the token is not base64url(SHA-256(body))')
        const answer = this.store(body, mms, 'companion')
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(answer))
    }

    // An upload held half read: {done} resolves, with nothing more read
    // meanwhile, on media-serve-release ('released') or when the client's
    // connection is seen closed ('gone').  A socket left unread may not show
    // the client's going until it is read again: then the release finds the
    // body cut off ({gone}), or whole (the client had sent it all into the
    // socket before it went: it reached the server, which keeps it, and the
    // answer is lost).  Events media-upload-half, and media-upload-gone
    // (once) when the client went before its body was whole.
    holdUpload(req, mms, received, length) {
        let resolve, wentAway = false
        const done = new Promise(r => { resolve = r })
        const h = { release: () => resolve('released') }
        const gone = n => {
            this.held.delete(h)
            if (!wentAway) this.emit({ type: 'media-upload-gone', mms_type: mms, received: n })
            wentAway = true
            resolve('gone')
        }
        this.held.add(h)
        this.emit({ type: 'media-upload-half', mms_type: mms, received, length })
        const closed = () => { if (this.held.has(h)) gone(received) }
        if (req.socket.destroyed) closed()
        else req.socket.once('close', closed)
        return { done, gone }
    }

    download(req, res, url, refuse) {
        const b = this.blobs.get(url.pathname)
        const mms = url.searchParams.get('mms-type')
        const record = r => this.emit({ type: 'media-download', path: url.pathname, mms_type: mms, ...r })
        if (this.failed('download', req, res, record)) return
        if (!b) { record({ status: 404 }); return refuse(404, `no blob ${url.pathname}`) }
        // The direct path's own query (oh) must come through: it is the
        // server's signature of the path.
        if (url.searchParams.get('oh') !== b.oh) { record({ status: 403 }); return refuse(403, 'oh is not the direct path\'s') }
        if (b.expired) { record({ status: b.expired }); return refuse(b.expired, `${url.pathname} expired`) }
        if (mms !== b.mms) { record({ status: 400 }); return refuse(400, `mms-type ${mms} is not the upload's (${b.mms})`) }
        if (unpadded(url.searchParams.get('hash')) !== unpadded(b64url(b.encSha256))) { record({ status: 400 }); return refuse(400, 'hash is not the blob\'s enc SHA-256') }
        if (!url.searchParams.has('__wa-mms')) { record({ status: 400 }); return refuse(400, 'no __wa-mms') }
        const s = this.serving
        const mode = s && (!s.path || s.path === url.pathname) ? s.mode : 'full'
        if (mode !== 'full' && --s.count <= 0) this.serving = null
        record({ status: 200, length: b.body.length, served: mode })
        if (mode === 'truncate') {
            // Content-Length promises the whole blob; half of it comes, then the connection ends.
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(b.body.length) })
            res.write(b.body.subarray(0, b.body.length >> 1), () => req.socket.destroy())
            return
        }
        if (mode === 'slow') {
            // Half now, the rest when the test releases it: a transfer a
            // test can act in the middle of, by events, not by time.
            const half = b.body.length >> 1
            const h = { release: () => res.end(b.body.subarray(half)) }
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(b.body.length) })
            res.write(b.body.subarray(0, half), () => {
                if (!res.destroyed) this.emit({ type: 'media-download-half', path: url.pathname, length: b.body.length, sent: half })
            })
            this.held.add(h)
            res.on('close', () => {
                if (this.held.delete(h)) this.emit({ type: 'media-download-gone', path: url.pathname, sent: half })
            })
            return
        }
        let body = b.body
        if (mode === 'short') body = body.subarray(0, body.length - 16)
        if (mode === 'corrupt') { body = Buffer.from(body); body[body.length >> 1] ^= 0x01 }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) })
        res.end(body)
    }

    // A world sender's media: the bytes encrypted under a fresh media key,
    // kept as an upload, and the message part that names them.
    // -> { part (a Message object for P.Message.fromObject), info }
    senderMedia(spec) {
        if (!spec || typeof spec !== 'object') throw new WorldError('media: an object')
        const kind = MEDIA_KINDS[spec.kind]
        if (!kind) throw new WorldError(`media.kind: one of ${Object.keys(MEDIA_KINDS).join(', ')}`)
        let plain
        if (typeof spec.data === 'string') plain = Buffer.from(spec.data, 'base64')
        else if (typeof spec.file === 'string') {
            try { plain = fs.readFileSync(spec.file) } catch (e) { throw new WorldError(`media.file: ${e.message}`) }
        } else throw new WorldError('media: data (base64) or file (a path)')
        if (!plain.length) throw new WorldError('media: no bytes')
        if (spec.caption !== undefined && !kind.caption) throw new WorldError(`media: WhatsApp gives a ${spec.kind} no caption`)
        if (spec.view_once && !['image', 'video'].includes(spec.kind)) throw new WorldError('media.view_once: an image or a video')
        if (spec.file_name !== undefined && spec.kind !== 'document') throw new WorldError('media.file_name: documents only')
        const forge = spec.forge ?? null
        if (![null, 'mac', 'file_sha256', 'enc_sha256'].includes(forge)) throw new WorldError('media.forge: mac, file_sha256 or enc_sha256')
        const mediaKey = spec.media_key ? Buffer.from(spec.media_key, 'base64') : crypto.randomBytes(32)
        if (mediaKey.length !== 32) throw new WorldError('media.media_key: 32 bytes')
        let { body, fileSha256, fileEncSha256 } = encryptMedia(plain, mediaKey, kind.keys)
        // Forgeries for the receiver's refusals: a MAC that does not verify
        // (the hash names the forged body, so only the MAC check can catch
        // it), a plaintext hash or a body hash that is wrong.
        if (forge === 'mac') { body = Buffer.from(body); body[body.length - 1] ^= 0x01; fileEncSha256 = sha256(body) }
        if (forge === 'file_sha256') fileSha256 = sha256(Buffer.concat([plain, Buffer.from([0])]))
        const up = this.store(body, kind.mms, 'world')
        if (forge === 'enc_sha256') fileEncSha256 = sha256(Buffer.concat([body, Buffer.from([0])]))
        const m = {
            url: up.url, directPath: up.direct_path, mediaKey, fileSha256, fileEncSha256, fileLength: plain.length,
            mimetype: spec.mimetype ?? kind.mimetype, mediaKeyTimestamp: this.mock.nowSeconds(),
        }
        // A claimed length (the receiver's size cap acts on it before it downloads).
        if (spec.file_length !== undefined) m.fileLength = Number(spec.file_length)
        if (spec.thumbnail) m.jpegThumbnail = Buffer.from(spec.thumbnail, 'base64')
        if (spec.caption !== undefined) m.caption = String(spec.caption)
        if (spec.width !== undefined) m.width = Number(spec.width)
        if (spec.height !== undefined) m.height = Number(spec.height)
        if (spec.seconds !== undefined) m.seconds = Number(spec.seconds)
        if (spec.kind === 'gif') m.gifPlayback = true
        if (spec.kind === 'ptt') m.ptt = true
        if (spec.kind === 'document') { m.fileName = String(spec.file_name ?? 'file'); m.title = m.fileName }
        if (spec.kind === 'sticker') m.isAnimated = !!spec.animated
        if (spec.view_once) m.viewOnce = true
        let part = { [kind.field]: m }
        if (spec.view_once) part = { viewOnceMessageV2: { message: part } }
        else if (spec.kind === 'document' && spec.caption !== undefined) part = { documentWithCaptionMessage: { message: part } }
        if (spec.expired) this.blobFor({ direct_path: up.direct_path })[0].expired = spec.expired === 404 ? 404 : 410
        const info = { kind: spec.kind, mms_type: kind.mms, direct_path: up.direct_path, url: up.url, media_key: mediaKey.toString('base64'),
            file_sha256: fileSha256.toString('base64'), file_enc_sha256: fileEncSha256.toString('base64'), file_length: plain.length, enc_length: body.length }
        return { part, info }
    }

    // A media message our companion sent (`message` as JSON: bytes in
    // base64), decrypted by a device of the world: its blob fetched and
    // checked as a receiver does; recorded once per message id.
    received(conn, node, message) {
        const id = node.attrs?.id
        if (!id || this.receivedMedia.has(id)) return
        const inner = innerMedia(message)
        const hit = Object.entries(MEDIA_KINDS).find(([, k]) => inner?.[k.field])
        if (!hit) return
        const m = inner[hit[1].field]
        const kind = hit[1].field === 'videoMessage' ? (m.gifPlayback ? 'gif' : 'video') : hit[1].field === 'audioMessage' ? (m.ptt ? 'ptt' : 'audio') : hit[0]
        const b64 = v => v ? Buffer.from(v, 'base64') : null
        let plain = null, reason = null
        try {
            if (!m.directPath) throw new MediaError(400, 'no directPath')
            const mediaKey = b64(m.mediaKey)
            if (!mediaKey || mediaKey.length !== 32) throw new MediaError(400, 'no 32-byte mediaKey')
            const blob = this.blobs.get(String(m.directPath).split('?')[0])
            if (!blob) throw new MediaError(404, `directPath ${m.directPath} was never uploaded here`)
            if (!m.fileEncSha256 || !m.fileSha256) throw new MediaError(400, 'no fileEncSha256 or fileSha256')
            plain = decryptMedia(blob.body, { mediaKey, keysName: hit[1].keys, fileEncSha256: b64(m.fileEncSha256), fileSha256: b64(m.fileSha256) })
            if (Number(m.fileLength) !== plain.length) throw new MediaError(400, `fileLength ${m.fileLength}, the plaintext has ${plain.length} bytes`)
        } catch (e) {
            if (!(e instanceof MediaError)) throw e
            reason = e.message
            plain = null
        }
        let enc = null
        const walk = n => { if (enc) return; if (n?.tag === 'enc') enc = n; else if (Array.isArray(n?.content)) n.content.forEach(walk) }
        walk(node)
        const rec = { id, kind, ok: !reason, reason, mimetype: m.mimetype ?? null, file_name: m.fileName ?? null, caption: m.caption ?? null,
            sha256: plain ? sha256(plain).toString('hex') : null, length: plain ? plain.length : null, direct_path: m.directPath ?? null }
        this.receivedMedia.set(id, { ...rec, plain })
        if (reason) this.mock.log(`conn ${conn.id}: message ${id}: its media does not check: ${reason}`)
        this.emit({ type: 'media-received', conn: conn.id, ...rec, stanza_type: node.attrs.type ?? null, enc_mediatype: enc?.attrs?.mediatype ?? null })
    }

    plain(id) {
        const r = this.receivedMedia.get(id)
        if (!r) throw new MediaError(404, `no media message ${id} from our companions`)
        const { plain, direct_path, caption, ...rest } = r
        return { ...rest, data: plain ? plain.toString('base64') : null }
    }

    // Control calls (server.mjs routes POST /control/media-*).
    control(name, body) {
        switch (name) {
        case 'media-conn': {
            if (body.ttl !== undefined) this.conn.ttl = positive(body.ttl, 'ttl')
            if (body.auth_ttl !== undefined) this.conn.authTtl = positive(body.auth_ttl, 'auth_ttl')
            if (body.hosts !== undefined) {
                if (body.hosts !== null && (!Array.isArray(body.hosts) || !body.hosts.length || !body.hosts.every(h => typeof h === 'string' && h)))
                    throw new WorldError('hosts: a list of host[:port] names, or null for the mock\'s own')
                this.conn.hosts = body.hosts
            }
            let expired = 0
            if (body.expire_auth) for (const k of this.auths.keys()) { this.auths.set(k, 0); expired++ }
            return { ttl: this.conn.ttl, auth_ttl: this.conn.authTtl, hosts: this.hosts(), expired_auths: expired,
                ...(body.auth ? { auth: this.newAuth() } : {}) }
        }
        case 'media-expire': {
            const status = Number(body.status ?? 410)
            if (![404, 410].includes(status)) throw new WorldError('status: 404 or 410')
            const bs = this.blobFor(body)
            for (const b of bs) b.expired = status
            return { expired: bs.map(b => b.directPath), status }
        }
        case 'media-fail': {
            const count = Number(body.count ?? 1)
            if (!Number.isInteger(count) || count < 0) throw new WorldError('count: a whole number')
            const op = body.op ?? 'any', mode = body.mode ?? 'status', status = Number(body.status ?? 503)
            if (!['upload', 'download', 'any'].includes(op)) throw new WorldError('op: upload, download or any')
            if (!['status', 'reset'].includes(mode)) throw new WorldError('mode: status or reset')
            if (!(status >= 400 && status <= 599)) throw new WorldError('status: 400..599')
            this.failing = count ? { count, op, mode, status } : null
            return { count, op, mode, status }
        }
        case 'media-serve': {
            const count = Number(body.count ?? 1)
            if (!Number.isInteger(count) || count < 0) throw new WorldError('count: a whole number')
            if (body.op === 'upload') {
                if (!['slow', 'full'].includes(body.mode)) throw new WorldError('mode: slow or full, for uploads')
                this.uploadHolds = body.mode === 'slow' ? count : 0
                return { count: this.uploadHolds, mode: body.mode, op: 'upload' }
            }
            if ((body.op ?? 'download') !== 'download') throw new WorldError('op: download or upload')
            if (!['full', 'truncate', 'short', 'corrupt', 'slow'].includes(body.mode)) throw new WorldError('mode: full, truncate, short, corrupt or slow')
            const path = body.direct_path ? String(body.direct_path).split('?')[0] : null
            this.serving = count && body.mode !== 'full' ? { count, mode: body.mode, path } : null
            return { count, mode: body.mode, path }
        }
        case 'media-serve-release': {
            const held = [...this.held]
            this.held.clear()
            for (const h of held) h.release()
            return { released: held.length }
        }
        case 'media-retry-answer': {
            if (typeof body.id !== 'string' || !body.id) throw new WorldError('id: a message id')
            const result = body.result ?? 'success'
            if (!(result in RETRY_RESULTS) && result !== 'never')
                throw new WorldError(`result: one of ${Object.keys(RETRY_RESULTS).join(', ')}, never`)
            this.retryAnswers.set(body.id, result)
            return { id: body.id, result }
        }
        }
        return undefined
    }

    // <receipt type="server-error"> from our companion: it could not download
    // the media of message `id` and asks the phone to upload it again.  The
    // phone decrypts the ServerErrorReceipt, uploads the same bytes under a
    // new direct path, and answers with the mediaretry notification (or an
    // <error code=<result>> when the test said it no longer has them).
    // -> the notification node, or null (refused; the event says why).
    onRetryReceipt(conn, node, rec) {
        const a = node.attrs
        const kid = (n, t) => (Array.isArray(n?.content) ? n.content : []).find(c => c.tag === t)
        const bytes = n => n && (n.content instanceof Uint8Array || typeof n.content === 'string') ? Buffer.from(n.content) : null
        const me = conn.client.username
        const refuse = reason => { this.emit({ type: 'refused', conn: conn.id, id: a.id ?? null, reason: `media retry: ${reason}` }); return null }
        const rmr = kid(node, 'rmr'), enc = kid(node, 'encrypt')
        if (a.to !== `${me}@s.whatsapp.net`) return refuse(`to=${a.to}, want our own ${me}@s.whatsapp.net`)
        if (!rmr) return refuse('no <rmr>')
        if (!rec) return refuse(`no message ${a.id} of the world`)
        const inner = innerMedia(rec.message)
        const kind = Object.entries(MEDIA_KINDS).find(([, k]) => inner[k.field])
        if (!kind) return refuse(`message ${a.id} has no media`)
        const media = inner[kind[1].field]
        const mediaKey = Buffer.from(media.mediaKey)
        const p = enc && bytes(kid(enc, 'enc_p')), iv = enc && bytes(kid(enc, 'enc_iv'))
        if (!p || !iv) return refuse('no <encrypt><enc_p><enc_iv>')
        let receipt
        try { receipt = P.ServerErrorReceipt.decode(openRetry(p, iv, mediaKey, a.id)) } catch (e) { return refuse(e.message) }
        if (receipt.stanzaId !== a.id) return refuse(`ServerErrorReceipt names ${receipt.stanzaId}, not ${a.id}`)
        const want = rec.group ? rec.group.jid : rec.peer ? rec.sender.destination : `${rec.sender.phone}@s.whatsapp.net`
        const fromMe = rec.peer === true
        const user = j => String(j ?? '').replace(/:\d+@/, '@')
        const lidChat = !rec.group && !rec.peer && user(rmr.attrs.jid) === `${rec.sender.lid}@lid`
        if (user(rmr.attrs.jid) !== want && !lidChat) return refuse(`rmr jid=${rmr.attrs.jid}, want ${want}`)
        if (rmr.attrs.from_me !== String(fromMe)) return refuse(`rmr from_me=${rmr.attrs.from_me}, want ${fromMe}`)
        if (rec.group && !rec.peer && user(rmr.attrs.participant) !== `${rec.sender.phone}@s.whatsapp.net` && user(rmr.attrs.participant) !== `${rec.sender.lid}@lid`)
            return refuse(`rmr participant=${rmr.attrs.participant ?? '(none)'}, want the sender`)
        const result = this.retryAnswers.get(a.id) ?? 'success'
        if (result === 'never') {
            // A phone that is off: the receipt was read, no answer comes.
            this.emit({ type: 'media-retry', conn: conn.id, id: a.id, result, direct_path: null })
            return null
        }
        const attrs = { from: `${me}@s.whatsapp.net`, type: 'mediaretry', id: a.id, t: String(this.mock.nowSeconds()) }
        const rmrOut = { tag: 'rmr', attrs: { ...rmr.attrs } }
        let content, directPath = null
        if (result === 'success') {
            const old = this.blobs.get(String(media.directPath).split('?')[0])
            if (!old) return refuse(`the phone never uploaded ${media.directPath}`)
            directPath = this.store(old.body, old.mms, 'phone').direct_path
            const sealed = sealRetry(Buffer.from(P.MediaRetryNotification.encode({ stanzaId: a.id, directPath, result: RETRY_RESULTS.success }).finish()), mediaKey, a.id)
            content = [rmrOut, { tag: 'encrypt', attrs: {}, content: [{ tag: 'enc_p', attrs: {}, content: sealed.ciphertext }, { tag: 'enc_iv', attrs: {}, content: sealed.iv }] }]
        } else {
            content = [rmrOut, { tag: 'error', attrs: { code: String(RETRY_RESULTS[result]) } }]
        }
        this.emit({ type: 'media-retry', conn: conn.id, id: a.id, result, direct_path: directPath })
        return { tag: 'notification', attrs, content }
    }
}

function positive(v, name) {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new WorldError(`${name}: a whole number of seconds, at least 1`)
    return n
}
