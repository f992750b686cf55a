// The Node half of the reverse Signal interop check: what our C++ library
// sends, independent implementations must read.
//
// Usage: node t/mock/wa/signal-reverse-check.mjs <reverse.json> <vectors.json>
//   <reverse.json> is written by wa_signal_reverse (src/wa/signal/tools/);
//   <vectors.json> is t/unit/wa/vectors.json, whose signal_1to1.bob holds
//   the private keys of the Bob our C++ side encrypted to.
//
// Checks, each printed as PASS/FAIL:
//   - libsignal-node, as Bob, decrypts the C++ pkmsgs in order; the
//     plaintexts unpad (Baileys) to Message protobufs with the right text;
//     the pkmsg carried the sender's identity key and used up pre-key 7;
//   - Baileys' GroupSessionBuilder takes the C++ SKDM and its GroupCipher
//     decrypts the skmsgs out of order;
//   - Baileys' binary decoder reads the C++ pre-key upload IQ, whose fields
//     match the keys, and whose signed pre-key signature verifies with
//     curve25519-js and whatsapp-rust-bridge (and fails once altered).
// Ends with "N passed, M failed"; exits 1 on any failure.
import fs from 'node:fs'
import * as B from 'baileys'
import * as G from 'baileys/lib/Signal/Group/index.js'
import libsignal from 'libsignal'
import curve from 'curve25519-js'
import * as R from 'whatsapp-rust-bridge'

const [reversePath, vectorsPath] = process.argv.slice(2)
if (!reversePath || !vectorsPath) {
  console.error('usage: node signal-reverse-check.mjs <reverse.json> <vectors.json>')
  process.exit(2)
}
const out = JSON.parse(fs.readFileSync(reversePath, 'utf8'))
const vectors = JSON.parse(fs.readFileSync(vectorsPath, 'utf8'))

const hex = b => Buffer.from(b).toString('hex')
const unhex = s => Buffer.from(s, 'hex')
const typed = raw => Buffer.concat([Buffer.from([5]), raw])
const publicOf = priv => Buffer.from(libsignal.curve.getPublicFromPrivateKey(priv)).subarray(1)
const beBytes = (n, width) => { const b = Buffer.alloc(width); b.writeUIntBE(n, 0, width); return b }

let passed = 0
let failed = 0
const check = (ok, what, detail = '') => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}${!ok && detail ? ` (${detail})` : ''}`)
  ok ? passed++ : failed++
}
// Baileys' unpad, then the Message protobuf's conversation text.
const textOf = padded => B.proto.Message.decode(B.unpadRandomMax16(padded)).conversation

// ---- 1:1: libsignal-node as Bob ------------------------------------------
async function oneToOne () {
  const bob = vectors.signal_1to1.bob
  const identity = unhex(bob.identity_priv)
  const spk = unhex(bob.signed_prekey.priv)
  const otk = unhex(bob.one_time_prekey.priv)
  const seenIdentities = []
  const removedPreKeys = []
  const sessions = new Map()
  const store = {
    getOurIdentity: async () => ({ pubKey: typed(publicOf(identity)), privKey: identity }),
    getOurRegistrationId: async () => bob.registration_id,
    isTrustedIdentity: async (_, key) => { seenIdentities.push(hex(key)); return true },
    loadSession: async addr => sessions.get(addr),
    storeSession: async (addr, record) => { sessions.set(addr, record) },
    loadPreKey: async id => id === bob.one_time_prekey.id && !removedPreKeys.includes(id)
      ? { pubKey: typed(publicOf(otk)), privKey: otk } : undefined,
    removePreKey: async id => { removedPreKeys.push(id) },
    loadSignedPreKey: async id => id === bob.signed_prekey.id
      ? { pubKey: typed(publicOf(spk)), privKey: spk } : undefined
  }
  const sender = new libsignal.ProtocolAddress(out.sender.name, out.sender.device)
  check(out.one_to_one.length === 2, 'C++ wrote two 1:1 messages')
  for (const [i, m] of out.one_to_one.entries()) {
    check(m.type === 'pkmsg', `message ${i} is a pkmsg before Bob answers`, m.type)
    try {
      const plain = await new libsignal.SessionCipher(store, sender).decryptPreKeyWhisperMessage(unhex(m.ciphertext))
      check(hex(plain) === m.padded_plaintext, `libsignal-node decrypts C++ pkmsg ${i}`)
      check(textOf(plain) === m.text, `pkmsg ${i} unpads to Message.conversation "${m.text}"`)
    } catch (e) {
      check(false, `libsignal-node decrypts C++ pkmsg ${i}`, e.message)
    }
  }
  check(seenIdentities.length > 0 && seenIdentities.every(k => k === '05' + out.sender.identity_pub),
    'the pkmsgs carry the C++ sender identity key', seenIdentities.join(','))
  check(removedPreKeys.length === 1 && removedPreKeys[0] === bob.one_time_prekey.id,
    'the first pkmsg used up one-time pre-key 7', JSON.stringify(removedPreKeys))
}

// ---- groups: Baileys' sender keys ------------------------------------------
async function group () {
  const records = new Map()
  const store = {
    loadSenderKey: async name => records.get(name.toString()) ?? new G.SenderKeyRecord(),
    storeSenderKey: async (name, record) => { records.set(name.toString(), record) }
  }
  const [id, device] = out.group.sender.split('.')
  const name = new G.SenderKeyName(out.group.group, { id, deviceId: Number(device), toString: () => out.group.sender })
  try {
    await new G.GroupSessionBuilder(store).process(name,
      new G.SenderKeyDistributionMessage(null, null, null, null, unhex(out.group.skdm)))
    check(true, 'Baileys takes the C++ SKDM')
  } catch (e) {
    check(false, 'Baileys takes the C++ SKDM', e.message)
    return
  }
  const msgs = out.group.messages
  check(msgs.length === 3, 'C++ wrote three skmsgs')
  for (const i of [0, 2, 1]) {
    try {
      const plain = await new G.GroupCipher(store, name).decrypt(unhex(msgs[i].skmsg))
      check(hex(plain) === msgs[i].padded_plaintext, `Baileys decrypts C++ skmsg ${i} (order 0, 2, 1)`)
      check(textOf(plain) === msgs[i].text, `skmsg ${i} unpads to Message.conversation "${msgs[i].text}"`)
    } catch (e) {
      check(false, `Baileys decrypts C++ skmsg ${i} (order 0, 2, 1)`, e.message)
    }
  }
}

// ---- the pre-key upload ----------------------------------------------------
async function prekeyUpload () {
  const up = out.prekey_upload
  const frame = unhex(up.frame)
  let iq
  try {
    iq = await B.decodeBinaryNode(frame)
  } catch (e) {
    check(false, 'Baileys decodes the C++ upload IQ', e.message)
    return
  }
  check(true, 'Baileys decodes the C++ upload IQ')
  const a = iq.attrs
  // "to" is the server JID as a JID pair with an empty user, which Baileys
  // reads back as its own S_WHATSAPP_NET ("@s.whatsapp.net").
  check(iq.tag === 'iq' && a.id === 'reverse-1' && a.xmlns === 'encrypt' && a.type === 'set' &&
    a.to === B.S_WHATSAPP_NET, 'upload IQ attributes', JSON.stringify(a))
  const kids = Array.isArray(iq.content) ? iq.content : []
  check(kids.map(k => k.tag).join(',') === 'registration,type,identity,list,skey', 'upload IQ children in order',
    kids.map(k => k.tag).join(','))
  const child = (node, tag) => (Array.isArray(node?.content) ? node.content : []).find(k => k.tag === tag)
  const bytes = node => Buffer.from(node?.content instanceof Uint8Array ? node.content : [])
  check(bytes(child(iq, 'registration')).equals(beBytes(up.registration_id, 4)), '<registration> is the 4-byte id')
  check(bytes(child(iq, 'type')).equals(Buffer.from([5])), '<type> is 0x05')
  check(hex(bytes(child(iq, 'identity'))) === up.identity_pub, '<identity> is the raw identity key')
  const keys = child(iq, 'list')?.content ?? []
  check(keys.length === up.pre_keys.length &&
    keys.every((k, i) => k.tag === 'key' && bytes(child(k, 'id')).equals(beBytes(up.pre_keys[i].id, 3)) &&
      hex(bytes(child(k, 'value'))) === up.pre_keys[i].pub),
  `<list> holds ${up.pre_keys.length} keys with 3-byte ids (${up.pre_keys.map(k => k.id).join(', ')})`)
  const skey = child(iq, 'skey')
  const spk = up.signed_pre_key
  check(bytes(child(skey, 'id')).equals(beBytes(spk.id, 3)) && hex(bytes(child(skey, 'value'))) === spk.pub &&
    hex(bytes(child(skey, 'signature'))) === spk.signature, '<skey> id, value and signature')

  const identity = unhex(up.identity_pub)
  const signed = typed(bytes(child(skey, 'value')))
  const signature = bytes(child(skey, 'signature'))
  check(curve.verify(identity, signed, signature) === true, 'curve25519-js verifies the signed pre-key signature')
  check(R.verifySignature(identity, signed, signature) === true, 'whatsapp-rust-bridge verifies it too')
  const altered = Buffer.from(signature)
  altered[5] ^= 1
  check(curve.verify(identity, signed, altered) === false, 'an altered signature does not verify')
}

try {
  await oneToOne()
  await group()
  await prekeyUpload()
} catch (e) {
  check(false, 'the check ran to the end', e.stack)
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
