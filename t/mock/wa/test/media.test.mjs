// The media servers the mock plays (lib/media.mjs): media_conn, uploads and
// downloads with their refusals, the injected failures, media from contacts,
// our phone and group members (each kind, decrypted here with keys from
// Baileys' own getMediaKeys), and media retry checked against Baileys'
// encryptMediaRetryRequest / decodeMediaRetryNode / decryptMediaRetryData.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import * as B from 'baileys'
import { startMock } from '../lib/harness.mjs'
import { Companion } from '../lib/companion.mjs'

const P = B.proto
const ORIGIN = 'https://web.whatsapp.com'
let mock, me, host
let nextPhone = 4917100000001
const newPhone = () => String(nextPhone++)
const ok = r => { assert.equal(r.status, 200, JSON.stringify(r.body)); return r.body }
const sha = b => crypto.createHash('sha256').update(b).digest()
const kids = n => Array.isArray(n?.content) ? n.content : []
const child = (n, t) => kids(n).find(c => c.tag === t)

before(async () => {
    mock = await startMock()
    me = await Companion.pair(mock, { phone: '15550002000' })
})
after(async () => { me?.close(); await mock.stop() })

async function mediaConn() {
    const r = await me.iq({ xmlns: 'w:m', type: 'set' }, [{ tag: 'media_conn', attrs: {} }])
    const mc = child(r, 'media_conn')
    host = child(mc, 'host').attrs.hostname
    return mc
}

// The companion's side of an upload and a download, by hand (fetch).
async function upload(mms, body, { auth, token = sha(body).toString('base64url'), headers = { origin: ORIGIN, referer: `${ORIGIN}/` }, query } = {}) {
    if (auth === undefined) auth = (await mediaConn()).attrs.auth
    const q = query ?? `auth=${encodeURIComponent(auth)}&token=${token}`
    const res = await fetch(`http://${host}/mms/${mms}/${token}?${q}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers }, body })
    return { status: res.status, body: await res.json().catch(() => null) }
}
async function download(directPath, encSha256, mms, { headers = { origin: ORIGIN, referer: `${ORIGIN}/` }, hash } = {}) {
    const res = await fetch(`http://${host}${directPath}&hash=${hash ?? Buffer.from(encSha256).toString('base64url')}&mms-type=${mms}&__wa-mms=`, { headers })
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) }
}

// Decryption with Baileys' key derivation and Node's ciphers: the receiver's checks.
async function decrypt(body, mediaKey, keyType) {
    const { iv, cipherKey, macKey } = await B.getMediaKeys(Buffer.from(mediaKey), keyType)
    const ct = body.subarray(0, -10)
    assert.deepEqual(crypto.createHmac('sha256', macKey).update(iv).update(ct).digest().subarray(0, 10), body.subarray(-10), 'MAC')
    const d = crypto.createDecipheriv('aes-256-cbc', cipherKey, iv)
    return Buffer.concat([d.update(ct), d.final()])
}

test('the media cipher: lib/media.mjs against the Baileys-made vectors the C++ core is tested with (t/unit/wa/vectors.json)', async () => {
    const fs = await import('node:fs')
    const { encryptMedia, decryptMedia, mediaKeys } = await import('../lib/media.mjs')
    const v = JSON.parse(fs.readFileSync(new URL('../../../unit/wa/vectors.json', import.meta.url)))
    const plain = Buffer.from(v.media_plaintext)
    const keysName = info => /^WhatsApp (.+) Keys$/.exec(info)[1]
    assert.equal(v.media.length, 9)
    for (const m of v.media) {
        const key = Buffer.from(m.media_key, 'hex'), name = keysName(m.hkdf_info)
        const k = mediaKeys(key, name)
        assert.deepEqual([k.iv.toString('hex'), k.cipherKey.toString('hex'), k.macKey.toString('hex')], [m.iv, m.cipher_key, m.mac_key], m.type)
        const e = encryptMedia(plain, key, name)
        assert.equal(e.body.toString('hex'), m.enc_blob, m.type)
        assert.equal(e.fileEncSha256.toString('hex'), m.file_enc_sha256, m.type)
        assert.equal(e.fileSha256.toString('hex'), m.plaintext_sha256, m.type)
        assert.deepEqual(decryptMedia(Buffer.from(m.enc_blob, 'hex'), { mediaKey: key, keysName: name, fileEncSha256: e.fileEncSha256, fileSha256: e.fileSha256 }), plain)
    }
})

test('media_conn: auth, ttl, auth_ttl, max_buckets and the mock\'s own host', async () => {
    const since = await mock.last()
    const mc = await mediaConn()
    assert.ok(mc.attrs.auth.length > 20)
    assert.equal(mc.attrs.ttl, '300')
    assert.equal(mc.attrs.auth_ttl, '21600')
    assert.ok(Number(mc.attrs.max_buckets) > 0)
    assert.equal(host, new URL(mock.url).host)
    const ev = await mock.wait({ type: 'media-conn' }, since)
    assert.deepEqual(ev.hosts, [host])
    assert.equal(JSON.stringify(ev).includes(mc.attrs.auth), false, 'the auth is no event\'s business')
})

test('upload: stored under a new direct path, answered like WhatsApp, then downloadable byte for byte', async () => {
    const since = await mock.last()
    const body = crypto.randomBytes(16 * 7 + 10)
    const r = await upload('image', body)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.match(r.body.direct_path, /^\/v\/t62\.7118-24\/\d+_\d+_n\.enc\?ccb=11-4&oh=01_[\w-]+&oe=[0-9A-F]+&_nc_sid=5e03e0$/)
    assert.equal(r.body.url, `https://${host}${r.body.direct_path}&mms3=true`)
    assert.ok(r.body.handle && r.body.object_id)
    const ev = await mock.wait({ type: 'media-upload' }, since)
    assert.deepEqual([ev.mms_type, ev.enc_sha256, ev.length, ev.direct_path, ev.from], ['image', sha(body).toString('base64'), body.length, r.body.direct_path, 'companion'])
    const d = await download(r.body.direct_path, sha(body), 'image')
    assert.equal(d.status, 200)
    assert.deepEqual(d.body, body)
    const dev = await mock.wait({ type: 'media-download' }, since)
    assert.deepEqual([dev.status, dev.length, dev.served, dev.mms_type], [200, body.length, 'full', 'image'])
    // A padded token (whatsmeow's base64.URLEncoding) names the same bytes as Baileys' unpadded one.
    const body2 = crypto.randomBytes(42)
    const padded = sha(body2).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
    assert.ok(padded.endsWith('='))
    assert.equal((await upload('document', body2, { token: padded })).status, 200)
})

test('upload refusals: auth, token, mms-type, Origin, empty body', async () => {
    const body = crypto.randomBytes(26)
    const since = await mock.last()
    assert.equal((await upload('image', body, { auth: 'not-one-we-gave' })).status, 401)
    assert.equal((await upload('image', body, { query: `token=${sha(body).toString('base64url')}` })).status, 401)
    assert.equal((await upload('image', body, { token: sha(Buffer.from('other')).toString('base64url') })).status, 400)
    assert.equal((await upload('image', body, { query: `auth=x&token=abc` })).status, 401)
    assert.equal((await upload('gif', body)).status, 400)
    assert.equal((await upload('image', body, { headers: {} })).status, 403)
    assert.equal((await upload('image', body, { headers: { origin: 'https://evil.example' } })).status, 403)
    assert.equal((await upload('image', body, { headers: { origin: ORIGIN, referer: 'https://web.whatsapp.com.evil.example/' } })).status, 403)
    assert.equal((await upload('image', Buffer.alloc(0))).status, 400)
    const refused = (await mock.control(`events?since=${since}&type=media-refused`)).body.events
    assert.deepEqual(refused.map(e => e.status), [401, 401, 400, 401, 400, 403, 403, 403, 400])
    assert.equal((await mock.control(`events?since=${since}&type=media-upload`)).body.events.length, 0, 'nothing refused was stored')
    // An auth that expired (media-conn expire_auth): 401, a fresh one works.
    const auth = (await mediaConn()).attrs.auth
    assert.equal(ok(await mock.control('media-conn', { expire_auth: true })).expired_auths >= 1, true)
    assert.equal((await upload('image', body, { auth })).status, 401)
    assert.equal((await upload('image', body)).status, 200)
})

test('download refusals: unknown 404, expired 410 (or 404), wrong hash or mms-type 400, no Origin 403', async () => {
    const body = crypto.randomBytes(58)
    const { direct_path: dp } = (await upload('video', body)).body
    assert.equal((await download(dp.replace(/\d+_/, '9_'), sha(body), 'video')).status, 404)
    assert.equal((await download(dp, sha(body), 'image')).status, 400)
    assert.equal((await download(dp, sha(body), 'video', { hash: 'AAAA' })).status, 400)
    assert.equal((await download(dp, sha(body), 'video', { headers: {} })).status, 403)
    assert.equal((await download(dp.replace(/oh=[^&]+/, 'oh=01_forged'), sha(body), 'video')).status, 403)
    assert.equal((await download(dp, sha(body), 'video')).status, 200)
    assert.deepEqual(ok(await mock.control('media-expire', { direct_path: dp })), { expired: [dp], status: 410 })
    assert.equal((await download(dp, sha(body), 'video')).status, 410)
    ok(await mock.control('media-expire', { enc_sha256: sha(body).toString('base64'), status: 404 }))
    assert.equal((await download(dp, sha(body), 'video')).status, 404)
    assert.equal((await mock.control('media-expire', { direct_path: '/v/none' })).status, 400)
})

test('injected failures: 5xx and resets for the next N, truncated, short and corrupted bodies', async () => {
    const body = crypto.randomBytes(16 * 40 + 10)
    const { direct_path: dp } = (await upload('audio', body)).body
    let since = await mock.last()
    ok(await mock.control('media-fail', { count: 2, op: 'download', status: 502 }))
    assert.equal((await download(dp, sha(body), 'audio')).status, 502)
    assert.equal((await download(dp, sha(body), 'audio')).status, 502)
    assert.equal((await download(dp, sha(body), 'audio')).status, 200)
    assert.deepEqual((await mock.control(`events?since=${since}&type=media-download`)).body.events.map(e => [e.status, e.failed ?? null]),
        [[502, 'status'], [502, 'status'], [200, null]])
    ok(await mock.control('media-fail', { count: 1, op: 'upload', mode: 'reset' }))
    await assert.rejects(upload('audio', body))
    assert.equal((await upload('audio', body)).status, 200)
    ok(await mock.control('media-fail', { count: 1, op: 'download', mode: 'reset' }))
    await assert.rejects(download(dp, sha(body), 'audio'))
    ok(await mock.control('media-serve', { mode: 'truncate' }))
    await assert.rejects(download(dp, sha(body), 'audio'), 'a body cut short of its Content-Length is an error')
    ok(await mock.control('media-serve', { mode: 'short' }))
    const short = await download(dp, sha(body), 'audio')
    assert.equal(short.body.length, body.length - 16)
    ok(await mock.control('media-serve', { mode: 'corrupt', count: 1, direct_path: dp }))
    const bad = await download(dp, sha(body), 'audio')
    assert.equal(bad.body.length, body.length)
    assert.notDeepEqual(sha(bad.body), sha(body))
    assert.deepEqual((await download(dp, sha(body), 'audio')).body, body, 'the next one is whole again')
    assert.equal((await mock.control('media-serve', { mode: 'sideways' })).status, 400)
    assert.equal((await mock.control('media-fail', { op: 'both' })).status, 400)
})

test('media-serve slow: half the body, an event, then the rest on media-serve-release (or the client gone)', async () => {
    const body = crypto.randomBytes(16 * 4000 + 10)
    const { direct_path: dp } = (await upload('video', body)).body
    let since = await mock.last()
    ok(await mock.control('media-serve', { mode: 'slow', count: 2 }))
    const url = `http://${host}${dp}&hash=${sha(body).toString('base64url')}&mms-type=video&__wa-mms=`
    const res = await fetch(url, { headers: { origin: ORIGIN } })
    assert.equal(res.status, 200)
    assert.equal(Number(res.headers.get('content-length')), body.length)
    const half = await mock.wait({ type: 'media-download-half' }, since)
    assert.deepEqual([half.length, half.sent], [body.length, body.length >> 1])
    const reading = res.arrayBuffer()
    assert.deepEqual(ok(await mock.control('media-serve-release', {})), { released: 1 })
    assert.deepEqual(Buffer.from(await reading), body, 'the whole body once released')
    // The second one: the client goes away mid-body.
    since = await mock.last()
    const ac = new AbortController()
    const res2 = await fetch(url, { headers: { origin: ORIGIN }, signal: ac.signal })
    await mock.wait({ type: 'media-download-half' }, since)
    ac.abort()
    await res2.arrayBuffer().catch(() => {})
    assert.equal((await mock.wait({ type: 'media-download-gone' }, since)).sent, body.length >> 1)
    assert.deepEqual(ok(await mock.control('media-serve-release', {})), { released: 0 })
    assert.deepEqual((await download(dp, sha(body), 'video')).body, body, 'served whole again after count')
})

const events = async (type, since) => ok(await mock.control(`events?since=${since}&type=${type}`)).events

test('media-serve op=upload slow: half the body read, an event, the answer on media-serve-release (or nothing when the client goes)', async () => {
    const body = crypto.randomBytes(16 * 8000 + 10)
    const token = sha(body).toString('base64url')
    const auth = (await mediaConn()).attrs.auth
    const post = signal => fetch(`http://${host}/mms/document/${token}?auth=${encodeURIComponent(auth)}&token=${token}`,
        { method: 'POST', headers: { 'content-type': 'application/octet-stream', origin: ORIGIN }, body, signal })
    assert.equal((await mock.control('media-serve', { op: 'upload', mode: 'corrupt' })).status, 400)
    assert.equal((await mock.control('media-serve', { op: 'sideways', mode: 'slow' })).status, 400)
    ok(await mock.control('media-serve', { op: 'upload', mode: 'slow', count: 2 }))
    let since = await mock.last()
    const answer = post()
    const half = await mock.wait({ type: 'media-upload-half' }, since)
    assert.equal(half.mms_type, 'document')
    assert.equal(half.length, body.length)
    assert.ok(half.received >= body.length >> 1 && half.received < body.length, `held at ${half.received}`)
    assert.equal((await events('media-upload', since)).length, 0, 'not stored while held')
    assert.deepEqual(ok(await mock.control('media-serve-release', {})), { released: 1 })
    const res = await answer
    assert.equal(res.status, 200)
    assert.match((await res.json()).direct_path, /^\/v\/t62\.7119-24\//)
    assert.equal((await mock.wait({ type: 'media-upload' }, since)).length, body.length)
    // The second: the client writes half its body, and goes while it is
    // held; seen at once or, the socket left unread, at the release; nothing
    // is stored.
    since = await mock.last()
    const { default: http } = await import('node:http')
    const [h, p] = host.split(':')
    const req = http.request({ host: h, port: Number(p), method: 'POST', path: `/mms/document/${token}?auth=${encodeURIComponent(auth)}&token=${token}`,
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.length, origin: ORIGIN } })
    req.on('error', () => {})
    req.write(body.subarray(0, (body.length >> 1) + 100))
    const cutHalf = await mock.wait({ type: 'media-upload-half' }, since)
    assert.ok(cutHalf.received < body.length, 'held mid-body')
    req.destroy()
    await mock.control('media-serve-release', {})
    assert.ok((await mock.wait({ type: 'media-upload-gone' }, since)).received >= cutHalf.received)
    assert.equal((await events('media-upload', since)).length, 0, 'a body cut off is not stored')
    // The count is spent: the next goes through at once.
    assert.equal((await post()).status, 200)
    // An auth from the control API is as good as media_conn's.
    const controlAuth = ok(await mock.control('media-conn', { auth: true })).auth
    assert.equal((await upload('document', crypto.randomBytes(100), { auth: controlAuth })).status, 200)
    assert.equal(ok(await mock.control('media-conn', {})).auth, undefined, 'none unless asked')
})

// The inner message of what a companion opened (the SKDM-only part skipped).
const opened = async stanza => {
    const parts = await me.open(stanza)
    const m = parts.map(p => p.message).find(m => !m.senderKeyDistributionMessage || Object.keys(m.toJSON()).length > 1)
    return m.deviceSentMessage ? m.deviceSentMessage.message : m
}
const KINDS = [
    // kind, message field, HKDF media name, mms-type, <enc mediatype>, extra spec, what the proto must say
    ['image', 'imageMessage', 'image', 'image', 'image', { caption: 'a photo', width: 4, height: 3, thumbnail: Buffer.from('jpegthumb').toString('base64') },
        m => { assert.equal(m.caption, 'a photo'); assert.equal(m.width, 4); assert.deepEqual(Buffer.from(m.jpegThumbnail), Buffer.from('jpegthumb')); assert.equal(m.mimetype, 'image/jpeg') }],
    ['video', 'videoMessage', 'video', 'video', 'video', { caption: 'a clip', seconds: 3 }, m => { assert.equal(m.caption, 'a clip'); assert.equal(m.seconds, 3); assert.ok(!m.gifPlayback) }],
    ['gif', 'videoMessage', 'gif', 'video', 'gif', { caption: 'lol' }, m => { assert.equal(m.gifPlayback, true); assert.equal(m.caption, 'lol') }],
    ['audio', 'audioMessage', 'audio', 'audio', 'audio', { seconds: 7 }, m => { assert.ok(!m.ptt); assert.equal(m.mimetype, 'audio/mpeg') }],
    ['ptt', 'audioMessage', 'ptt', 'audio', 'ptt', { mimetype: 'audio/ogg; codecs=opus' }, m => { assert.equal(m.ptt, true); assert.equal(m.mimetype, 'audio/ogg; codecs=opus') }],
    ['document', 'documentMessage', 'document', 'document', 'document', { file_name: 'report.pdf', mimetype: 'application/pdf' },
        m => { assert.equal(m.fileName, 'report.pdf'); assert.equal(m.mimetype, 'application/pdf') }],
    ['sticker', 'stickerMessage', 'sticker', 'image', 'sticker', {}, m => assert.equal(m.mimetype, 'image/webp')],
]

for (const [kind, field, keyType, mms, mediatype, extra, check] of KINDS) {
    test(`a contact sends ${kind}: uploaded, in the proto with its keys and hashes, <enc mediatype="${mediatype}">, decrypts to the bytes`, async () => {
        const c = ok(await mock.control('contact', { phone: newPhone() }))
        const bytes = crypto.randomBytes(1000 + kind.length)
        const since = await mock.last()
        const r = ok(await mock.control('message', { from: c.pn.split('@')[0], media: { kind, data: bytes.toString('base64'), ...extra } }))
        assert.equal(r.media.mms_type, mms)
        const up = await mock.wait({ type: 'media-upload' }, since)
        assert.deepEqual([up.from, up.mms_type, up.direct_path], ['world', mms, r.media.direct_path])
        const s = await me.nextMessage(r.id)
        assert.equal(s.attrs.type, 'media')
        assert.ok(kids(s).filter(e => e.tag === 'enc').every(e => e.attrs.mediatype === mediatype))
        const m = (await opened(s))[field]
        assert.ok(m, `${field} in ${JSON.stringify((await mock.control(`events?since=${since}&type=message-sent`)).body)}`)
        check(m)
        assert.equal(m.directPath, r.media.direct_path)
        assert.equal(m.url, `https://${new URL(mock.url).host}${m.directPath}&mms3=true`)
        assert.equal(Number(m.fileLength), bytes.length)
        assert.deepEqual(Buffer.from(m.fileSha256), sha(bytes))
        assert.ok(Math.abs(Number(m.mediaKeyTimestamp) - Date.now() / 1000) < 60)
        host = new URL(mock.url).host
        const d = await download(m.directPath, m.fileEncSha256, mms)
        assert.equal(d.status, 200)
        assert.deepEqual(sha(d.body), Buffer.from(m.fileEncSha256))
        assert.deepEqual(await decrypt(d.body, m.mediaKey, keyType), bytes)
        me.receipt(s)
    })
}

test('captions where WhatsApp has them: a document\'s in documentWithCaptionMessage; none for audio, ptt, sticker', async () => {
    const c = ok(await mock.control('contact', { phone: newPhone() }))
    const from = c.pn.split('@')[0], data = crypto.randomBytes(100).toString('base64')
    const r = ok(await mock.control('message', { from, media: { kind: 'document', data, file_name: 'a.txt', caption: 'see attached' } }))
    const s = await me.nextMessage(r.id)
    const m = await opened(s)
    assert.equal(m.documentWithCaptionMessage.message.documentMessage.caption, 'see attached')
    assert.equal(s.attrs.type, 'media')
    assert.equal(child(s, 'enc').attrs.mediatype, 'document')
    me.receipt(s)
    for (const kind of ['audio', 'ptt', 'sticker'])
        assert.equal((await mock.control('message', { from, media: { kind, data, caption: 'x' } })).status, 400, kind)
    assert.equal((await mock.control('message', { from, media: { kind: 'pdf', data } })).status, 400)
    assert.equal((await mock.control('message', { from, media: { kind: 'image' } })).status, 400)
    assert.equal((await mock.control('message', { from, media: { kind: 'image', data, file_name: 'x' } })).status, 400)
})

test('view-once: viewOnceMessageV2 around an image with viewOnce set, stanza type media', async () => {
    const c = ok(await mock.control('contact', { phone: newPhone() }))
    const bytes = crypto.randomBytes(300)
    const r = ok(await mock.control('message', { from: c.pn.split('@')[0], media: { kind: 'image', data: bytes.toString('base64'), view_once: true, caption: 'once' } }))
    const s = await me.nextMessage(r.id)
    assert.equal(s.attrs.type, 'media')
    assert.equal(child(s, 'enc').attrs.mediatype, 'image')
    const m = (await opened(s)).viewOnceMessageV2.message.imageMessage
    assert.equal(m.viewOnce, true)
    assert.equal(m.caption, 'once')
    const d = await download(m.directPath, m.fileEncSha256, 'image')
    assert.deepEqual(await decrypt(d.body, m.mediaKey, 'image'), bytes)
    me.receipt(s)
    assert.equal((await mock.control('message', { from: c.pn.split('@')[0], media: { kind: 'sticker', data: bytes.toString('base64'), view_once: true } })).status, 400)
})

test('our phone and a group member send media too (DeviceSentMessage; skmsg)', async () => {
    const a = ok(await mock.control('contact', { phone: newPhone() })), b = ok(await mock.control('contact', { phone: newPhone() }))
    const bytes = crypto.randomBytes(500)
    const p = ok(await mock.control('peer-message', { chat: a.pn, media: { kind: 'video', data: bytes.toString('base64') } }))
    const ps = await me.nextMessage(p.id)
    const pm = (await opened(ps)).videoMessage
    assert.deepEqual(await decrypt((await download(pm.directPath, pm.fileEncSha256, 'video')).body, pm.mediaKey, 'video'), bytes)
    me.receipt(ps)
    const g = ok(await mock.control('group', { subject: 'Pics', addressing_mode: 'lid', participants: [a.pn.split('@')[0], b.pn.split('@')[0]] }))
    const r = ok(await mock.control('message', { from: b.pn.split('@')[0], chat: g.jid, media: { kind: 'image', data: bytes.toString('base64'), caption: 'group pic' } }))
    const s = await me.nextMessage(r.id)
    assert.equal(s.attrs.type, 'media')
    assert.ok(kids(s).filter(e => e.tag === 'enc').every(e => e.attrs.mediatype === 'image'))
    const m = (await opened(s)).imageMessage
    assert.equal(m.caption, 'group pic')
    assert.deepEqual(await decrypt((await download(m.directPath, m.fileEncSha256, 'image')).body, m.mediaKey, 'image'), bytes)
    me.receipt(s)
})

test('forgeries for the receiver\'s refusals: a MAC that fails, a wrong fileSha256, a wrong fileEncSha256; a file instead of base64', async () => {
    const c = ok(await mock.control('contact', { phone: newPhone() }))
    const from = c.pn.split('@')[0], bytes = crypto.randomBytes(200)
    const send = async media => {
        const r = ok(await mock.control('message', { from, media: { kind: 'image', ...media } }))
        const s = await me.nextMessage(r.id)
        me.receipt(s)
        return { r, m: (await opened(s)).imageMessage }
    }
    const mac = (await send({ data: bytes.toString('base64'), forge: 'mac' })).m
    const body = (await download(mac.directPath, mac.fileEncSha256, 'image')).body
    assert.deepEqual(sha(body), Buffer.from(mac.fileEncSha256), 'the hash names the forged body')
    await assert.rejects(decrypt(body, mac.mediaKey, 'image'), /MAC/)
    const fsha = (await send({ data: bytes.toString('base64'), forge: 'file_sha256' })).m
    const plain = await decrypt((await download(fsha.directPath, fsha.fileEncSha256, 'image')).body, fsha.mediaKey, 'image')
    assert.deepEqual(plain, bytes)
    assert.notDeepEqual(Buffer.from(fsha.fileSha256), sha(bytes))
    const enc = (await send({ data: bytes.toString('base64'), forge: 'enc_sha256' }))
    const got = await download(enc.m.directPath, enc.m.fileEncSha256, 'image', { hash: Buffer.from(enc.r.media.file_enc_sha256, 'base64').toString('base64url') })
    assert.equal(got.status, 400, 'the server knows the real hash; a receiver that asks with the message\'s gets 400')
    const file = `/tmp/mock-wa-media-${process.pid}.bin`
    await import('node:fs').then(fs => fs.writeFileSync(file, bytes))
    const f = (await send({ file })).m
    assert.deepEqual(await decrypt((await download(f.directPath, f.fileEncSha256, 'image')).body, f.mediaKey, 'image'), bytes)
    const big = (await send({ data: bytes.toString('base64'), file_length: 70 << 20 })).m
    assert.equal(Number(big.fileLength), 70 << 20, 'a claimed length, for the receiver\'s size cap')
    const exp = (await send({ data: bytes.toString('base64'), expired: true })).m
    assert.equal((await download(exp.directPath, exp.fileEncSha256, 'image')).status, 410)
})

// Our companion asks the phone for expired media with Baileys' own request
// (encryptMediaRetryRequest), and reads the answer with Baileys' own
// decodeMediaRetryNode / decryptMediaRetryData: the mock's GCM layout, key
// derivation and node shapes are checked against an independent implementation.
async function expiredImage(extra = {}) {
    const c = ok(await mock.control('contact', { phone: newPhone() }))
    const bytes = crypto.randomBytes(400)
    const r = ok(await mock.control('message', { from: c.pn.split('@')[0], media: { kind: 'image', data: bytes.toString('base64'), expired: true }, ...extra }))
    const s = await me.nextMessage(r.id)
    me.receipt(s)
    const m = (await opened(s)).imageMessage
    assert.equal((await download(m.directPath, m.fileEncSha256, 'image')).status, 410)
    return { c, bytes, r, s, m }
}
const retryRequest = (s, m) => B.encryptMediaRetryRequest({ id: s.attrs.id, remoteJid: s.attrs.from, fromMe: false, participant: s.attrs.participant },
    Buffer.from(m.mediaKey), me.jid)

test('media retry: the phone uploads again and answers with the encrypted mediaretry notification', async () => {
    const { bytes, s, m } = await expiredImage()
    const since = await mock.last()
    const req = retryRequest(s, m)
    assert.equal(req.attrs.type, 'server-error')
    me.send(req)
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === s.attrs.id && n.attrs.type === 'server-error')
    assert.equal(ack.attrs.class, 'receipt')
    const note = await me.next(n => n.tag === 'notification' && n.attrs.type === 'mediaretry')
    assert.equal(note.attrs.id, s.attrs.id)
    assert.equal(note.attrs.from, `${me.user}@s.whatsapp.net`)
    const ev = B.decodeMediaRetryNode(note)
    assert.equal(ev.error, undefined)
    assert.deepEqual([ev.key.id, ev.key.remoteJid, ev.key.fromMe], [s.attrs.id, s.attrs.from, false])
    const got = B.decryptMediaRetryData(ev.media, Buffer.from(m.mediaKey), s.attrs.id)
    assert.equal(got.result, P.MediaRetryNotification.ResultType.SUCCESS)
    assert.equal(got.stanzaId, s.attrs.id)
    assert.notEqual(got.directPath, m.directPath)
    const d = await download(got.directPath, m.fileEncSha256, 'image')
    assert.equal(d.status, 200)
    assert.deepEqual(await decrypt(d.body, m.mediaKey, 'image'), bytes)
    const rev = await mock.wait({ type: 'media-retry' }, since)
    assert.deepEqual([rev.id, rev.result, rev.direct_path], [s.attrs.id, 'success', got.directPath])
    assert.equal((await mock.wait({ type: 'media-upload' }, since)).from, 'phone')
})

test('media retry: a phone that no longer has the media answers <error code>; a group message names its participant', async () => {
    const { s, m } = await expiredImage()
    ok(await mock.control('media-retry-answer', { id: s.attrs.id, result: 'not_found' }))
    me.send(retryRequest(s, m))
    const note = await me.next(n => n.tag === 'notification' && n.attrs.type === 'mediaretry' && n.attrs.id === s.attrs.id)
    assert.equal(child(note, 'error').attrs.code, '2')
    assert.equal(B.decodeMediaRetryNode(note).error.output.statusCode, 404)
    assert.equal((await mock.control('media-retry-answer', { id: 'x', result: 'maybe' })).status, 400)

    const a = ok(await mock.control('contact', { phone: newPhone() }))
    const g = ok(await mock.control('group', { subject: 'Retry', addressing_mode: 'pn', participants: [a.pn.split('@')[0]] }))
    const r = ok(await mock.control('message', { from: a.pn.split('@')[0], chat: g.jid, media: { kind: 'sticker', data: crypto.randomBytes(64).toString('base64') } }))
    const gs = await me.nextMessage(r.id)
    me.receipt(gs)
    const gm = (await opened(gs)).stickerMessage
    me.send(B.encryptMediaRetryRequest({ id: gs.attrs.id, remoteJid: g.jid, fromMe: false, participant: gs.attrs.participant }, Buffer.from(gm.mediaKey), me.jid))
    const gnote = await me.next(n => n.tag === 'notification' && n.attrs.type === 'mediaretry' && n.attrs.id === gs.attrs.id)
    const ev = B.decodeMediaRetryNode(gnote)
    assert.deepEqual([ev.key.remoteJid, ev.key.participant], [g.jid, gs.attrs.participant])
    assert.equal(B.decryptMediaRetryData(ev.media, Buffer.from(gm.mediaKey), gs.attrs.id).result, P.MediaRetryNotification.ResultType.SUCCESS)
})

test('media retry: a phone told to answer never reads the receipt and sends nothing', async () => {
    const { s, m } = await expiredImage()
    ok(await mock.control('media-retry-answer', { id: s.attrs.id, result: 'never' }))
    const since = await mock.last()
    me.send(retryRequest(s, m))
    const ev = await mock.wait({ type: 'media-retry', id: s.attrs.id }, since)
    assert.deepEqual([ev.result, ev.direct_path], ['never', null])
    await me.next(n => n.tag === 'ack' && n.attrs.id === s.attrs.id && n.attrs.type === 'server-error')
    // A ping round trip later, still no notification for it.
    await me.iq({ xmlns: 'w:p', type: 'get' }, [{ tag: 'ping', attrs: {} }])
    assert.equal(me.c.frames.some(n => n.tag === 'notification' && n.attrs?.id === s.attrs.id), false)
    assert.equal((await mock.control(`events?since=${since}&type=media-upload`)).body.events.length, 0, 'nothing uploaded again')
})

test('media retry refusals: another key, the wrong chat, not to our own JID, an unknown id: refused, no notification', async () => {
    const { s, m } = await expiredImage()
    const since = await mock.last()
    const send = async (node, why) => {
        const before = await mock.last()
        me.send(node)
        const ev = await mock.wait({ type: 'refused', id: node.attrs.id }, before)
        assert.match(ev.reason, why)
    }
    await send(B.encryptMediaRetryRequest({ id: s.attrs.id, remoteJid: s.attrs.from, fromMe: false }, crypto.randomBytes(32), me.jid), /does not authenticate/)
    await send(B.encryptMediaRetryRequest({ id: s.attrs.id, remoteJid: '19990000001@s.whatsapp.net', fromMe: false }, Buffer.from(m.mediaKey), me.jid), /rmr jid/)
    await send(B.encryptMediaRetryRequest({ id: s.attrs.id, remoteJid: s.attrs.from, fromMe: true }, Buffer.from(m.mediaKey), me.jid), /from_me/)
    await send(B.encryptMediaRetryRequest({ id: s.attrs.id, remoteJid: s.attrs.from, fromMe: false }, Buffer.from(m.mediaKey), '19990000002@s.whatsapp.net'), /to=/)
    await send(B.encryptMediaRetryRequest({ id: '3EB0NOSUCH', remoteJid: s.attrs.from, fromMe: false }, Buffer.from(m.mediaKey), me.jid), /no message/)
    assert.equal((await mock.control(`events?since=${since}&type=media-retry`)).body.events.length, 0)
})

// Our companion sends media the way the bridge will: encrypted with Baileys'
// own encryptedStream, uploaded to the media_conn host, named in the message.
async function companionMedia(to, kind, bytes, { forge = null, field = 'imageMessage', mediatype = 'image', extra = {} } = {}) {
    const enc = await B.encryptedStream(bytes, mediatype)
    const fs = await import('node:fs')
    let body = fs.readFileSync(enc.encFilePath)
    fs.unlinkSync(enc.encFilePath)
    if (forge === 'mac') body[body.length - 1] ^= 1
    const up = await upload(kind, body)
    assert.equal(up.status, 200, JSON.stringify(up.body))
    const media = { url: up.body.url, directPath: up.body.direct_path, mediaKey: enc.mediaKey, fileSha256: enc.fileSha256,
        fileEncSha256: sha(body), fileLength: enc.fileLength, mimetype: 'image/jpeg', mediaKeyTimestamp: Math.floor(Date.now() / 1000), ...extra }
    const { id, stanza } = await me.sendDM(to, { [field]: media }, { send: false })
    stanza.attrs.type = 'media'
    for (const t of stanza.content[0].content) t.content[0].attrs.mediatype = mediatype
    me.send(stanza)
    return id
}

test('media our companion sends: downloaded and checked by the receiving side, the plaintext kept for the test', async () => {
    const c = ok(await mock.control('contact', { phone: newPhone() }))
    const bytes = crypto.randomBytes(777)
    const since = await mock.last()
    const id = await companionMedia(c.pn, 'image', bytes, { extra: { caption: 'from the bridge' } })
    const ev = await mock.wait({ type: 'media-received', id }, since)
    assert.deepEqual([ev.ok, ev.reason, ev.kind, ev.sha256, ev.length, ev.caption, ev.stanza_type, ev.enc_mediatype],
        [true, null, 'image', sha(bytes).toString('hex'), bytes.length, 'from the bridge', 'media', 'image'])
    const p = ok(await mock.control(`media-plain?id=${id}`))
    assert.deepEqual(Buffer.from(p.data, 'base64'), bytes)
    assert.equal((await mock.control('media-plain?id=3EB0NONE')).status, 404)
    // A document (its name kept) and a ptt.
    const d = await companionMedia(c.pn, 'document', bytes, { field: 'documentMessage', mediatype: 'document', extra: { fileName: 'notes.txt', mimetype: 'text/plain' } })
    const dev = await mock.wait({ type: 'media-received', id: d }, since)
    assert.deepEqual([dev.ok, dev.kind, dev.file_name, dev.mimetype], [true, 'document', 'notes.txt', 'text/plain'])
    const v = await companionMedia(c.pn, 'audio', bytes, { field: 'audioMessage', mediatype: 'audio', extra: { ptt: true, mimetype: 'audio/ogg; codecs=opus' } })
    assert.deepEqual([(await mock.wait({ type: 'media-received', id: v }, since)).kind], ['ptt'])
})

test('media our companion sends that does not check: a forged MAC, a path never uploaded, a wrong length', async () => {
    const c = ok(await mock.control('contact', { phone: newPhone() }))
    const bytes = crypto.randomBytes(300)
    const since = await mock.last()
    const mac = await companionMedia(c.pn, 'image', bytes, { forge: 'mac' })
    assert.deepEqual([(await mock.wait({ type: 'media-received', id: mac }, since)).ok, (await mock.wait({ type: 'media-received', id: mac }, since)).reason],
        [false, 'the MAC does not verify'])
    const len = await companionMedia(c.pn, 'image', bytes, { extra: { fileLength: 5 } })
    assert.match((await mock.wait({ type: 'media-received', id: len }, since)).reason, /fileLength 5/)
    const nowhere = await companionMedia(c.pn, 'image', bytes, { extra: { directPath: '/v/t62.7118-24/1_1_n.enc?oh=x' } })
    assert.match((await mock.wait({ type: 'media-received', id: nowhere }, since)).reason, /never uploaded/)
    assert.equal(ok(await mock.control(`media-plain?id=${mac}`)).data, null)
})

test('with --tls-cert the media hosts are the TLS listener, named by --media-host, and serve over verified https', async () => {
    const { execFileSync } = await import('node:child_process')
    const fs = await import('node:fs'), os = await import('node:os'), path = await import('node:path'), https = await import('node:https')
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mock-wa-tls-'))
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost', '-days', '1', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`], { stdio: 'ignore' })
    const tls = await startMock(['--tls-cert', `${dir}/cert.pem`, '--tls-key', `${dir}/key.pem`, '--media-host', 'localhost'])
    let c2
    try {
        assert.deepEqual(tls.media_hosts, [`localhost:${tls.tls_port}`])
        c2 = await Companion.pair(tls, { phone: '15550003000' })
        const mc = child(await c2.iq({ xmlns: 'w:m', type: 'set' }, [{ tag: 'media_conn', attrs: {} }]), 'media_conn')
        assert.equal(child(mc, 'host').attrs.hostname, `localhost:${tls.tls_port}`)
        const body = crypto.randomBytes(90), token = sha(body).toString('base64url')
        const ca = fs.readFileSync(`${dir}/cert.pem`)
        const request = (method, p, data) => new Promise((resolve, reject) => {
            const req = https.request({ host: 'localhost', port: tls.tls_port, method, path: p, ca, headers: { origin: ORIGIN } }, res => {
                const parts = []
                res.on('data', d => parts.push(d))
                res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts) }))
            })
            req.on('error', reject)
            req.end(data)
        })
        const up = await request('POST', `/mms/document/${token}?auth=${encodeURIComponent(mc.attrs.auth)}&token=${token}`, body)
        assert.equal(up.status, 200, up.body.toString())
        const { direct_path: dp, url } = JSON.parse(up.body)
        assert.equal(url, `https://localhost:${tls.tls_port}${dp}&mms3=true`)
        const got = await request('GET', `${dp}&hash=${token}&mms-type=document&__wa-mms=`)
        assert.deepEqual([got.status, got.body], [200, body])
    } finally {
        c2?.close()
        await tls.stop()
        fs.rmSync(dir, { recursive: true, force: true })
    }
})
