// The Node reference side of the Signal benchmark (t/bench/wa_signal.cpp):
// libsignal-node and Baileys' GroupCipher as the receiving device, timed on
// decrypt + unpad + proto.Message.decode per message.  Writes the streams
// both sides decrypt, what each message must decrypt and parse to, and the
// reference figures as JSON.
//   node t/mock/wa/bench-signal.mjs <out.json> [seconds per case] [vectors.json]
//
// The receiver is the vectors' Bob (t/unit/wa/vectors.json signal_1to1: his
// private keys, so his published bundle), the one the C++ side can import.
// A sender made here with libsignal-node starts a session from Bob's bundle
// and sends a 1:1 stream: one pkmsg, then msgs on the same chain (the
// sender is told Bob has answered by dropping its pending pre-key, so it
// sends what a contact in a running chat sends).  In a group the same
// sender hands out its sender key (an SKDM) and sends skmsgs with Baileys'
// GroupCipher.  Plaintexts are real WAProto Message protobufs (Baileys'
// proto): texts of 20-400 bytes, replies with contextInfo, reactions,
// each with the messageContextInfo a phone adds, padded as WhatsApp pads.
//
// Timing: rounds over a whole stream, each with a fresh receiver (Bob's
// pre-keys and no session or sender key), as the C++ side does, so the
// pkmsg and the SKDM are paid once per round like they are once per chat.
import crypto from 'node:crypto'
import fs from 'node:fs'
import * as B from 'baileys'
import * as G from 'baileys/lib/Signal/Group/index.js'
import libsignal from 'libsignal'

const out = process.argv[2]
const seconds = Number(process.argv[3] || 1)
const vectorsPath = process.argv[4] || new URL('../../unit/wa/vectors.json', import.meta.url).pathname
if (!out) {
  console.error('usage: node bench-signal.mjs <out.json> [seconds] [vectors.json]')
  process.exit(2)
}
const vectors = JSON.parse(fs.readFileSync(vectorsPath, 'utf8'))

const ONE_TO_ONE = 200  // messages in the 1:1 stream (the first a pkmsg)
const GROUP = 200       // skmsgs in the group stream, after the SKDM
const SENDER = { name: '5511987654321', device: 0 }
const GROUP_ID = '120363012345678901@g.us'
const OUR_JID = '5511999990000@s.whatsapp.net'

const unhex = s => Buffer.from(s, 'hex')
const typed = raw => Buffer.concat([Buffer.from([5]), raw])
const publicOf = priv => Buffer.from(libsignal.curve.getPublicFromPrivateKey(priv)).subarray(1)
const sha256 = b => crypto.createHash('sha256').update(b).digest('hex')

// ---- the messages ------------------------------------------------------
// Deterministic text: words (some with accents, an emoji now and then)
// until `n` UTF-8 bytes, as chats in the bridge's markets read.
const WORDS = ('oi bom dia tudo bem? o pedido chegou ontem à tarde, mas a caixa veio amassada. ' +
  'pode verificar o código de rastreio por favor obrigado 🙏 amanhã às 10h está ótimo ' +
  'hello the invoice for march is attached, can you confirm the delivery address? thanks 👍').split(' ')
function textOf (n, seed) {
  let s = ''
  for (let i = seed % WORDS.length; Buffer.byteLength(s) < n; i = (i + 7) % WORDS.length) {
    s += (s ? ' ' : '') + WORDS[i]
  }
  // Cut whole code points, never half an emoji.
  const chars = Array.from(s)
  while (Buffer.byteLength(chars.join('')) > n) chars.pop()
  return chars.join('').trimEnd() || 'ok'
}
// Message ids as phones make them.
const msgId = i => '3EB0' + crypto.createHash('md5').update('id' + i).digest('hex').slice(0, 16).toUpperCase()
// What a phone adds to every message it sends: the device list metadata
// and a message secret (for reactions, polls, edits).
const contextInfo = i => ({
  deviceListMetadata: { senderTimestamp: 1700000000 + i, recipientTimestamp: 1700000000 },
  deviceListMetadataVersion: 2,
  messageSecret: crypto.createHash('sha256').update('secret' + i).digest()
})
// Lengths of 20-400 bytes, most of them short, as chat texts are.
const LENGTHS = [24, 37, 58, 20, 81, 45, 130, 29, 260, 66, 400, 33, 52, 190, 71, 27]

// The i-th message of a stream: mostly texts, every tenth a reply quoting
// an earlier one, every tenth (offset) a reaction to one.
function message (i, inGroup) {
  const m = { messageContextInfo: contextInfo(i) }
  if (i % 10 === 4 && i > 0) {
    m.extendedTextMessage = {
      text: textOf(LENGTHS[i % LENGTHS.length], i),
      contextInfo: {
        stanzaId: msgId(i - 3),
        participant: inGroup ? '5521912345678@s.whatsapp.net' : OUR_JID,
        quotedMessage: { conversation: textOf(40, i - 3) }
      }
    }
  } else if (i % 10 === 7) {
    m.reactionMessage = {
      key: { remoteJid: inGroup ? GROUP_ID : OUR_JID, fromMe: true, id: msgId(i - 1) },
      text: ['👍', '❤️', '😂', '🙏'][i % 4],
      senderTimestampMs: 1700000000000 + i * 1000
    }
  } else {
    m.conversation = textOf(LENGTHS[i % LENGTHS.length], i)
  }
  return m
}
// What the receiver must read from the parsed Message.
const shownText = m => m.conversation ?? m.extendedTextMessage?.text ?? m.reactionMessage?.text ?? ''
const kindOf = m => m.conversation !== undefined && m.conversation !== null ? 'text'
  : m.extendedTextMessage ? 'reply' : m.reactionMessage ? 'reaction' : 'other'
// Checks a decoded Message against the one sent (the text and its kind).
const matches = (decoded, sent) => shownText(decoded) === shownText(sent) && kindOf(decoded) === kindOf(sent)

// ---- Bob -----------------------------------------------------------------
const bob = vectors.signal_1to1.bob
const bobIdentity = unhex(bob.identity_priv)
const bobSpk = unhex(bob.signed_prekey.priv)
const bobOtk = unhex(bob.one_time_prekey.priv)
const bobBundle = {
  registrationId: bob.registration_id,
  identityKey: typed(publicOf(bobIdentity)),
  signedPreKey: { keyId: bob.signed_prekey.id, publicKey: typed(publicOf(bobSpk)),
    signature: unhex(bob.signed_prekey.signature) },
  preKey: { keyId: bob.one_time_prekey.id, publicKey: typed(publicOf(bobOtk)) }
}
// A fresh Bob: his keys, no session, his one-time pre-key not used yet.
// Records stay objects in Maps: the fastest store libsignal-node can have.
function freshBob () {
  const sessions = new Map()
  const removed = new Set()
  return {
    getOurIdentity: async () => ({ pubKey: typed(publicOf(bobIdentity)), privKey: bobIdentity }),
    getOurRegistrationId: async () => bob.registration_id,
    isTrustedIdentity: async () => true,
    loadSession: async addr => sessions.get(addr),
    storeSession: async (addr, record) => { sessions.set(addr, record) },
    loadPreKey: async id => id === bob.one_time_prekey.id && !removed.has(id)
      ? { pubKey: typed(publicOf(bobOtk)), privKey: bobOtk } : undefined,
    removePreKey: async id => { removed.add(id) },
    loadSignedPreKey: async id => id === bob.signed_prekey.id
      ? { pubKey: typed(publicOf(bobSpk)), privKey: bobSpk } : undefined
  }
}
const senderKeyStore = () => {
  const records = new Map()
  return {
    loadSenderKey: async name => records.get(name.toString()) ?? new G.SenderKeyRecord(),
    storeSenderKey: async (name, record) => { records.set(name.toString(), record) }
  }
}

// ---- the sender and its streams ----------------------------------------
const senderIdentity = libsignal.keyhelper.generateIdentityKeyPair()
const senderSessions = new Map()
const senderStore = {
  getOurIdentity: async () => senderIdentity,
  getOurRegistrationId: async () => 4242,
  isTrustedIdentity: async () => true,
  loadSession: async addr => senderSessions.get(addr),
  storeSession: async (addr, record) => { senderSessions.set(addr, record) }
}
const bobAddress = new libsignal.ProtocolAddress('15550000002', 0)
await new libsignal.SessionBuilder(senderStore, bobAddress).initOutgoing(bobBundle)
const toBob = new libsignal.SessionCipher(senderStore, bobAddress)

const oneToOne = []
for (let i = 0; i < ONE_TO_ONE; i++) {
  const m = message(i, false)
  const padded = B.writeRandomPadMax16(Buffer.from(B.proto.Message.encode(m).finish()))
  const sealed = await toBob.encrypt(padded)
  oneToOne.push({ m, type: sealed.type === 3 ? 'pkmsg' : 'msg', body: Buffer.from(sealed.body), padded })
  // After the first message, as if Bob had answered: the sender stops
  // repeating its pre-key header, and the rest are msgs.
  if (i === 0) delete senderSessions.get(bobAddress.toString()).getOpenSession().pendingPreKey
}
if (oneToOne[0].type !== 'pkmsg' || oneToOne.slice(1).some(x => x.type !== 'msg')) {
  throw new Error('the 1:1 stream is not one pkmsg then msgs')
}

const senderName = `${SENDER.name}.${SENDER.device}`
const nameIn = store => new G.SenderKeyName(GROUP_ID,
  { id: SENDER.name, deviceId: SENDER.device, toString: () => senderName })
const groupSenderStore = senderKeyStore()
const skdm = Buffer.from((await new G.GroupSessionBuilder(groupSenderStore).create(nameIn())).serialize())
const groupCipherOut = new G.GroupCipher(groupSenderStore, nameIn())
const group = []
for (let i = 0; i < GROUP; i++) {
  const m = message(i, true)
  const padded = B.writeRandomPadMax16(Buffer.from(B.proto.Message.encode(m).finish()))
  group.push({ m, body: Buffer.from(await groupCipherOut.encrypt(padded)), padded })
}

// ---- the reference: Bob with libsignal-node and Baileys ------------------
const senderAddress = new libsignal.ProtocolAddress(SENDER.name, SENDER.device)
async function receiveOneToOne (check) {
  const cipher = new libsignal.SessionCipher(freshBob(), senderAddress)
  for (const x of oneToOne) {
    const plain = x.type === 'pkmsg'
      ? await cipher.decryptPreKeyWhisperMessage(x.body)
      : await cipher.decryptWhisperMessage(x.body)
    const decoded = B.proto.Message.decode(B.unpadRandomMax16(plain))
    if (check && (!Buffer.from(plain).equals(x.padded) || !matches(decoded, x.m))) {
      throw new Error('libsignal-node read the 1:1 stream wrong')
    }
  }
}
async function receiveGroup (check) {
  const store = senderKeyStore()
  const name = nameIn()
  await new G.GroupSessionBuilder(store).process(name,
    new G.SenderKeyDistributionMessage(null, null, null, null, skdm))
  const cipher = new G.GroupCipher(store, name)
  for (const x of group) {
    const plain = await cipher.decrypt(x.body)
    const decoded = B.proto.Message.decode(B.unpadRandomMax16(plain))
    if (check && (!Buffer.from(plain).equals(x.padded) || !matches(decoded, x.m))) {
      throw new Error('Baileys read the group stream wrong')
    }
  }
}
await receiveOneToOne(true)
await receiveGroup(true)

// Rounds of `fn` for about `seconds` (after one warm-up second's worth of
// rounds, so the JIT has compiled the path); messages per second.
async function rate (fn, messages) {
  const warm = process.hrtime.bigint() + BigInt(Math.round(Math.min(seconds, 1) * 1e9))
  while (process.hrtime.bigint() < warm) await fn(false)
  let rounds = 0
  const t0 = process.hrtime.bigint()
  const until = t0 + BigInt(Math.round(seconds * 1e9))
  while (process.hrtime.bigint() < until) {
    await fn(false)
    rounds++
  }
  return messages * rounds / (Number(process.hrtime.bigint() - t0) / 1e9)
}
const oneToOneRate = await rate(receiveOneToOne, oneToOne.length)
const groupRate = await rate(receiveGroup, group.length)

const entry = x => ({
  ciphertext: x.body.toString('hex'),
  plaintext_sha256: sha256(x.padded),
  kind: kindOf(x.m),
  text: shownText(x.m)
})
fs.writeFileSync(out, JSON.stringify({
  receiver: 'signal_1to1.bob',
  sender: { name: SENDER.name, device: SENDER.device },
  one_to_one: oneToOne.map(x => ({ type: x.type, ...entry(x) })),
  group: { group_id: GROUP_ID, skdm: skdm.toString('hex'), messages: group.map(entry) },
  reference: {
    implementation: `libsignal ${JSON.parse(fs.readFileSync(new URL('./node_modules/libsignal/package.json',
      import.meta.url))).version} + baileys 7.0.0-rc14 on node ${process.version}`,
    one_to_one_msgs_s: oneToOneRate,
    group_msgs_s: groupRate
  }
}, null, 1))
console.log(`libsignal-node 1:1 ${oneToOneRate.toFixed(0)} msg/s, Baileys group ${groupRate.toFixed(0)} msg/s`)
