// The Node reference side of the protocol core benchmark (t/bench/wa_codec.cpp):
// Baileys' binary node codec and its transport decrypt (node:crypto AES-GCM),
// timed on typical stanzas.  Writes the corpus both sides use and the
// reference figures as JSON.
//   node t/mock/wa/bench-reference.mjs <out.json> [seconds per case]
import crypto from 'node:crypto'
import fs from 'node:fs'
import * as B from 'baileys'

const out = process.argv[2]
const seconds = Number(process.argv[3] || 1)
const bytes = (n, seed) => crypto.createHash('sha512').update(String(seed)).digest()
  .toString('hex').repeat(Math.ceil(n / 64)).slice(0, n * 2)
const buf = (n, seed) => Buffer.from(bytes(n, seed), 'hex')

// Typical traffic of a busy bridge: incoming 1:1 and group messages, receipts,
// acks, a notification, a ping, and an outgoing group fan-out.
const stanzas = [
  { tag: 'message', attrs: { from: '5511987654321@s.whatsapp.net', type: 'text', id: '3EB0C431C2B1F4D3A3E2',
      t: '1700000123', notify: 'Maria' },
    content: [{ tag: 'enc', attrs: { v: '2', type: 'msg' }, content: buf(180, 1) }] },
  { tag: 'message', attrs: { from: '120363012345678901@g.us', participant: '5521912345678@s.whatsapp.net',
      type: 'media', id: '3EB0AA11BB22CC33DD44', t: '1700000124', notify: 'João', addressing_mode: 'pn' },
    content: [{ tag: 'enc', attrs: { v: '2', type: 'skmsg', mediatype: 'image' }, content: buf(420, 2) }] },
  { tag: 'message', attrs: { from: '123456789012345@lid', type: 'text', id: 'ABCDEF0123456789',
      t: '1700000125', sender_pn: '5511987654321@s.whatsapp.net' },
    content: [{ tag: 'enc', attrs: { v: '2', type: 'pkmsg' }, content: buf(620, 3) }] },
  { tag: 'receipt', attrs: { from: '5511987654321@s.whatsapp.net', id: '3EB0C431C2B1F4D3A3E2',
      t: '1700000126', type: 'read' } },
  { tag: 'ack', attrs: { class: 'message', id: '3EB0C431C2B1F4D3A3E3', from: '5511987654321@s.whatsapp.net',
      t: '1700000127' } },
  { tag: 'notification', attrs: { from: '5511987654321@s.whatsapp.net', type: 'encrypt', id: '1234567890',
      t: '1700000128' }, content: [{ tag: 'count', attrs: { value: '5' } }] },
  { tag: 'iq', attrs: { id: '1234.5678-42', to: 's.whatsapp.net', type: 'get', xmlns: 'w:p' },
    content: [{ tag: 'ping', attrs: {} }] },
  { tag: 'message', attrs: { to: '120363012345678901@g.us', type: 'text', id: '3EB0FFEEDDCCBBAA0011' },
    content: [
      { tag: 'participants', attrs: {}, content: [1, 2, 3, 4, 5, 6].map(d => (
        { tag: 'to', attrs: { jid: `55119876543${20 + d}:${d}@s.whatsapp.net` },
          content: [{ tag: 'enc', attrs: { v: '2', type: 'pkmsg' }, content: buf(300, 10 + d) }] })) },
      { tag: 'enc', attrs: { v: '2', type: 'skmsg' }, content: buf(160, 20) },
      { tag: 'device-identity', attrs: {}, content: buf(140, 21) },
    ] },
]

const encoded = stanzas.map(s => Buffer.from(B.encodeBinaryNode(s)))
const key = buf(32, 'transport-key')
const iv = n => { const b = Buffer.alloc(12); b.writeUInt32BE(n, 8); return b }
// Frames as the server would send them in one session: AES-GCM of flags ||
// node, counters 0.., the stanzas over and over (each side decrypts the
// whole session per round, so per-session set-up is spread as in real use).
const SESSION_ROUNDS = 64
const frames = []
for (let r = 0; r < SESSION_ROUNDS; r++) {
  for (const e of encoded) {
    frames.push(Buffer.from(B.aesEncryptGCM(e, key, iv(frames.length), Buffer.alloc(0))))
  }
}

async function time(fn) {
  let n = 0
  const t0 = process.hrtime.bigint()
  const until = t0 + BigInt(Math.round(seconds * 1e9))
  let now = t0
  while (now < until) {
    await fn()
    n++
    if (n % 64 === 0) now = process.hrtime.bigint()
  }
  return { rounds: n, seconds: Number(process.hrtime.bigint() - t0) / 1e9 }
}

const corpusBytes = encoded.reduce((a, e) => a + e.length, 0)
const decoded = await Promise.all(encoded.map(e => B.decodeBinaryNode(e)))
const enc = await time(() => { for (const d of decoded) B.encodeBinaryNode(d) })
const dec = await time(async () => { for (const e of encoded) await B.decodeBinaryNode(e) })
const transport = await time(async () => {
  for (let i = 0; i < frames.length; i++) {
    await B.decodeBinaryNode(B.aesDecryptGCM(frames[i], key, iv(i), Buffer.alloc(0)))
  }
})
// The live path: the stanzas a server sends (those with a from), as one
// session's frames, decrypted and decoded, and acked where a client acks at
// once (ours: through Connection::receive).
const liveCorpus = stanzas.map((s, i) => s.attrs.from ? i : -1).filter(i => i >= 0)
const liveFrames = []
for (let r = 0; r < SESSION_ROUNDS; r++) {
  for (const i of liveCorpus) {
    liveFrames.push(Buffer.from(B.aesEncryptGCM(encoded[i], key, iv(liveFrames.length), Buffer.alloc(0))))
  }
}
// Both sides ack what a client acks at once, as it reads (receipts,
// notifications; messages wait for the owner's commit): Baileys' sendNode
// is encode + AES-GCM + the 3-byte frame header.
const ackNow = new Set(['receipt', 'notification', 'call'])
const live = await time(async () => {
  let out = 0
  for (let i = 0; i < liveFrames.length; i++) {
    const node = await B.decodeBinaryNode(B.aesDecryptGCM(liveFrames[i], key, iv(i), Buffer.alloc(0)))
    if (ackNow.has(node.tag)) {
      const attrs = { id: node.attrs.id, to: node.attrs.from, class: node.tag }
      if (node.attrs.participant) attrs.participant = node.attrs.participant
      if (node.attrs.type) attrs.type = node.attrs.type
      const sealed = B.aesEncryptGCM(B.encodeBinaryNode({ tag: 'ack', attrs }), key, iv(out++), Buffer.alloc(0))
      const framed = Buffer.alloc(3 + sealed.length)
      framed.writeUIntBE(sealed.length, 0, 3)
      sealed.copy(framed, 3)
    }
  }
})
// The same without the acks: only the stanzas no client acks as it reads
// (messages, whose ack waits for the owner's commit, and the server's acks),
// so both sides do decrypt + decode (+ our dispatch) and nothing else.
const readOnly = liveCorpus.filter(i => !ackNow.has(stanzas[i].tag))
const readFrames = []
for (let r = 0; r < SESSION_ROUNDS; r++) {
  for (const i of readOnly) {
    readFrames.push(Buffer.from(B.aesEncryptGCM(encoded[i], key, iv(readFrames.length), Buffer.alloc(0))))
  }
}
const read = await time(async () => {
  for (let i = 0; i < readFrames.length; i++) {
    await B.decodeBinaryNode(B.aesDecryptGCM(readFrames[i], key, iv(i), Buffer.alloc(0)))
  }
})
const mbps = r => corpusBytes * r.rounds / r.seconds / 1e6
fs.writeFileSync(out, JSON.stringify({
  corpus: encoded.map(e => e.toString('hex')),
  frames: frames.map(f => f.toString('hex')),
  transport_key: key.toString('hex'),
  live_corpus: liveCorpus,
  live_read_corpus: readOnly,
  live_rounds: SESSION_ROUNDS,
  reference: {
    implementation: 'baileys 7.0.0-rc14 on node ' + process.version,
    encode_mb_s: mbps(enc), decode_mb_s: mbps(dec),
    transport_frames_s: frames.length * transport.rounds / transport.seconds,
    live_frames_s: liveFrames.length * live.rounds / live.seconds,
    live_read_frames_s: readFrames.length * read.rounds / read.seconds,
  },
}, null, 1))
