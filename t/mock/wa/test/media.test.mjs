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
    assert.equal((await upload('image', Buffer.alloc(0))).status, 400)
    const refused = (await mock.control(`events?since=${since}&type=media-refused`)).body.events
    assert.deepEqual(refused.map(e => e.status), [401, 401, 400, 401, 400, 403, 403, 400])
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
