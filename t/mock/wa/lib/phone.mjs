// The phone's side of pairing by QR (waweb.md 1.10, 1.11): read the QR a
// companion shows, vouch for its identity key with the account key in a
// <pair-success>, and check the companion's countersigned answer.  Pure
// functions; the server wires them to a connection.
import crypto from 'node:crypto'
import * as B from 'baileys'
import { curveVerify } from './curve.mjs'

const P = B.proto
export const ACCOUNT_PREFIX = Buffer.from([6, 0])
export const DEVICE_PREFIX = Buffer.from([6, 1])
const QR_PREFIX = 'https://wa.me/settings/linked_devices#'

export class PairingError extends Error {}

const key32 = (name, b64) => {
    const b = Buffer.from(b64, 'base64')
    if (b.length !== 32 || b.toString('base64') !== b64) throw new PairingError(`QR ${name} is not 32 bytes of padded base64`)
    return b
}

// "https://wa.me/settings/linked_devices#ref,noise,identity,adv,platform";
// the prefix is what 2025+ clients show, older ones show the fields alone.
export function parseQr(text) {
    if (typeof text !== 'string') throw new PairingError('QR text is not a string')
    const body = text.startsWith(QR_PREFIX) ? text.slice(QR_PREFIX.length) : text
    const f = body.split(',')
    if (f.length !== 5) throw new PairingError(`QR has ${f.length} comma-separated fields, want 5`)
    if (!f[0]) throw new PairingError('QR ref is empty')
    if (!/^[1-9a-e]$/.test(f[4])) throw new PairingError(`QR platform id ${JSON.stringify(f[4])} is not one WhatsApp knows`)
    return { ref: f[0], noise: key32('noise key', f[1]), identity: key32('identity key', f[2]), adv: key32('adv secret', f[3]), platform: f[4] }
}

// -> { stanza, details, signedIdentity } where details is the serialized
// ADVDeviceIdentity the answer must carry back unchanged.  `tamper` breaks one
// thing a companion must check: 'hmac' or 'account-signature'.
export function buildPairSuccess({ iqId, qr, account, jid, lid, keyIndex, now, platform = 'android', tamper = null }) {
    const details = Buffer.from(P.ADVDeviceIdentity.encode({ rawId: crypto.randomBytes(4).readUInt32BE(0), timestamp: now,
        keyIndex, accountType: 0, deviceType: 0 }).finish())
    const accountSignature = Buffer.from(B.Curve.sign(account.private, Buffer.concat([ACCOUNT_PREFIX, details, qr.identity])))
    if (tamper === 'account-signature') accountSignature[5] ^= 1
    const signedIdentity = Buffer.from(P.ADVSignedDeviceIdentity.encode({ details, accountSignatureKey: account.public, accountSignature }).finish())
    const hmac = crypto.createHmac('sha256', qr.adv).update(signedIdentity).digest()
    if (tamper === 'hmac') hmac[0] ^= 1
    const container = Buffer.from(P.ADVSignedDeviceIdentityHMAC.encode({ details: signedIdentity, hmac, accountType: 0 }).finish())
    const stanza = { tag: 'iq', attrs: { from: 's.whatsapp.net', type: 'set', id: iqId }, content: [{ tag: 'pair-success', attrs: {}, content: [
        { tag: 'device-identity', attrs: {}, content: container },
        { tag: 'device', attrs: { jid, lid } },
        { tag: 'platform', attrs: { name: platform } },
    ] }] }
    return { stanza, details, accountSignature }
}

// Checks the companion's <pair-device-sign> answer; throws a PairingError
// naming the first thing wrong.
export function checkPairDeviceSign(node, { details, accountSignature, account, identity, keyIndex }) {
    const sign = Array.isArray(node.content) ? node.content.find(c => c.tag === 'pair-device-sign') : null
    if (!sign) throw new PairingError('answer has no <pair-device-sign>')
    const di = Array.isArray(sign.content) ? sign.content.find(c => c.tag === 'device-identity') : null
    if (!di || !(di.content instanceof Uint8Array)) throw new PairingError('<pair-device-sign> has no <device-identity> bytes')
    if (di.attrs['key-index'] !== String(keyIndex)) throw new PairingError(`key-index ${di.attrs['key-index']}, want ${keyIndex}`)
    let s
    try { s = P.ADVSignedDeviceIdentity.decode(di.content) } catch (e) { throw new PairingError(`<device-identity> is not an ADVSignedDeviceIdentity: ${e.message}`) }
    if (!s.details || !Buffer.from(s.details).equals(details)) throw new PairingError('details differ from the ones the phone signed')
    if (s.accountSignatureKey && s.accountSignatureKey.length) throw new PairingError('accountSignatureKey was not cleared')
    if (!s.accountSignature || !Buffer.from(s.accountSignature).equals(accountSignature)) throw new PairingError('accountSignature differs from the phone\'s')
    if (!s.deviceSignature || s.deviceSignature.length !== 64) throw new PairingError('no 64-byte deviceSignature')
    const msg = Buffer.concat([DEVICE_PREFIX, details, identity, account.public])
    if (!curveVerify(identity, msg, Buffer.from(s.deviceSignature))) throw new PairingError('deviceSignature does not verify under the companion identity key')
}
