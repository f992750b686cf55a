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
