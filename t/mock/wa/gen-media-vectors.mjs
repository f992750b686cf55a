// Media vectors from npm baileys (an independent implementation) for what
// src/wa/media reads and writes besides the file cipher (whose vectors are
// in vectors.json): media_conn answers as its binary encoder writes them,
// and for media retry the retry key, the encrypted ServerErrorReceipt and the whole <receipt>
// its encryptMediaRetryRequest builds (encoded with its binary encoder),
// and MediaRetryNotification answers encrypted with its AES-GCM and
// protobuf code, as <notification> nodes it encodes, each checked with its
// own decodeMediaRetryNode / decryptMediaRetryData before it is written.
// t/unit/wa/media_retry_test.cpp and media_conn_test.cpp read the file and
// must match byte for byte; t/fuzz/make-corpus.mjs seeds the media_conn and
// media_retry fuzzers from it.
//
// Run:  node t/mock/wa/gen-media-vectors.mjs > t/unit/wa/media_vectors.json
// The receipts' IVs come from Baileys' own randomBytes, so they change on
// every run; everything else is fixed.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import * as B from 'baileys'

const hex = b => Buffer.from(b).toString('hex')
const seed = s => crypto.createHash('sha256').update(s).digest()
const INFO = 'WhatsApp Media Retry Notification'

const mediaKey = seed('media retry key')
const meId = '15550001111:7@s.whatsapp.net'
const retryKey = Buffer.from(B.hkdf(mediaKey, 32, { info: INFO }))
const out = { info: INFO, media_key: hex(mediaKey), retry_key: hex(retryKey), me: meId, receipts: [], notifications: [] }

// The receipt that asks the phone to upload again: a 1:1 message of the
// contact's, one of ours, and a group message with its sender.
const keys = [
  { id: '3EB0C431C26A1916E07A', remoteJid: '15552223333@s.whatsapp.net', fromMe: false },
  { id: '3EB05B3D5A6A1A2B3C4D', remoteJid: '15552223333@s.whatsapp.net', fromMe: true },
  { id: 'ABCDEF0123456789ABCD', remoteJid: '120363012345678901@g.us', fromMe: false, participant: '15554445555@s.whatsapp.net' },
]
for (const key of keys) {
  const node = B.encryptMediaRetryRequest(key, mediaKey, meId)
  const encrypt = node.content.find(n => n.tag === 'encrypt')
  const encP = encrypt.content.find(n => n.tag === 'enc_p').content
  const encIv = encrypt.content.find(n => n.tag === 'enc_iv').content
  // Its own decryption: the ServerErrorReceipt names the message.
  const plain = B.aesDecryptGCM(encP, retryKey, encIv, Buffer.from(key.id))
  assert.equal(B.proto.ServerErrorReceipt.decode(plain).stanzaId, key.id)
  // Attributes set to undefined are not written.
  for (const n of node.content) for (const k of Object.keys(n.attrs)) if (n.attrs[k] === undefined) delete n.attrs[k]
  out.receipts.push({
    key, iv: hex(encIv), receipt_plaintext: hex(plain), ciphertext: hex(encP),
    encoded: hex(B.encodeBinaryNode(node)),
  })
}

// The phone's answers.  directPath as WhatsApp writes them.
const R = B.proto.MediaRetryNotification.ResultType
const answers = [
  { name: 'success', id: keys[0].id, result: R.SUCCESS, directPath: '/v/t62.7118-24/29_1_2_n.enc?ccb=11-4&oh=01_Q5AaIA&oe=68A1B2C3&_nc_sid=5e03e0' },
  { name: 'not_found', id: keys[1].id, result: R.NOT_FOUND },
  { name: 'decryption_error', id: keys[2].id, result: R.DECRYPTION_ERROR },
  { name: 'general_error', id: keys[0].id, result: R.GENERAL_ERROR },
  // No result field at all: the default, a general error.
  { name: 'no_result', id: keys[0].id },
]
for (const [i, a] of answers.entries()) {
  const msg = { stanzaId: a.id }
  if (a.directPath !== undefined) msg.directPath = a.directPath
  if (a.result !== undefined) msg.result = a.result
  const plain = B.proto.MediaRetryNotification.encode(msg).finish()
  const iv = seed('iv ' + i).subarray(0, 12)
  const ct = B.aesEncryptGCM(plain, retryKey, iv, Buffer.from(a.id))
  const key = keys.find(k => k.id === a.id)
  const rmr = { jid: key.remoteJid, from_me: String(key.fromMe) }
  if (key.participant) rmr.participant = key.participant
  const node = { tag: 'notification', attrs: { from: '15550001111@s.whatsapp.net', type: 'mediaretry', id: a.id, t: '1765000000' },
    content: [{ tag: 'rmr', attrs: rmr }, { tag: 'encrypt', attrs: {}, content: [{ tag: 'enc_p', attrs: {}, content: ct }, { tag: 'enc_iv', attrs: {}, content: iv }] }] }
  const encoded = B.encodeBinaryNode(node)
  const ev = B.decodeMediaRetryNode(await B.decodeBinaryNode(encoded))
  const back = B.decryptMediaRetryData(ev.media, mediaKey, ev.key.id)
  assert.equal(back.stanzaId, a.id)
  assert.equal(back.result ?? 0, a.result ?? 0)
  out.notifications.push({ name: a.name, id: a.id, result: a.result ?? null, direct_path: a.directPath ?? null,
    plaintext: hex(plain), iv: hex(iv), ciphertext: hex(ct), encoded: hex(encoded),
    status_code: B.getStatusCodeForMediaRetry(a.result ?? 0) })
}

// The phone could not even try: <error code> instead of <encrypt>.
for (const code of [2, 3]) {
  const node = { tag: 'notification', attrs: { from: '15550001111@s.whatsapp.net', type: 'mediaretry', id: keys[0].id, t: '1765000000' },
    content: [{ tag: 'rmr', attrs: { jid: keys[0].remoteJid, from_me: 'false' } }, { tag: 'error', attrs: { code: String(code) } }] }
  const encoded = B.encodeBinaryNode(node)
  const ev = B.decodeMediaRetryNode(await B.decodeBinaryNode(encoded))
  assert.ok(ev.error)
  out.notifications.push({ name: 'error_node_' + code, id: keys[0].id, error_code: code, encoded: hex(encoded),
    status_code: ev.error.output.statusCode })
}

// media_conn answers, as Baileys' refreshMediaConn reads them: a typical
// one, and one with the extra attributes and children real answers carry.
out.media_conn = []
const conns = [
  { attrs: { auth: 'AbC-123_x/y+z==', ttl: '300', auth_ttl: '21600', max_buckets: '12' },
    hosts: [{ hostname: 'mmg.whatsapp.net' }, { hostname: 'media-fra5-1.cdn.whatsapp.net' }] },
  { attrs: { auth: 'token', ttl: '60' },
    hosts: [{ hostname: '127.0.0.1:8443', type: 'primary' }, { hostname: 'mmg.whatsapp.net', type: 'fallback', class: 'pop' }] },
]
for (const c of conns) {
  const node = { tag: 'iq', attrs: { from: 's.whatsapp.net', id: '1234.5678-9', type: 'result' },
    content: [{ tag: 'media_conn', attrs: c.attrs, content: c.hosts.map(h => ({ tag: 'host', attrs: h })) }] }
  const encoded = B.encodeBinaryNode(node)
  const back = await B.decodeBinaryNode(encoded)
  const mc = B.getBinaryNodeChild(back, 'media_conn')
  assert.equal(mc.attrs.auth, c.attrs.auth)
  out.media_conn.push({ encoded: hex(encoded), auth: c.attrs.auth, ttl: +c.attrs.ttl,
    auth_ttl: +(c.attrs.auth_ttl ?? 0), max_buckets: +(c.attrs.max_buckets ?? 0),
    hosts: B.getBinaryNodeChildren(mc, 'host').map(h => h.attrs.hostname) })
}

process.stdout.write(JSON.stringify(out, null, 1) + '\n')
