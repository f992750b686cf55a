// The server's and phone's side of passkey-gated linking ("shortcake",
// waweb-2026.md section 1): the WebAuthn request options, the assertion
// check (ES256 over authenticatorData || SHA-256(clientDataJSON), the
// challenge, the rpId, user presence and verification), the commitment and
// nonce exchange, the handoff proof, the code, and the encrypted pairing
// request.  Pure functions over node:crypto and Baileys' protobufs.
import crypto from 'node:crypto'
import * as B from 'baileys'
import { CODE_ALPHABET } from './pair-code.mjs'

const P = B.proto
export const RP_ID = 'whatsapp.com'
export const ORIGIN = 'https://web.whatsapp.com'
export class PasskeyError extends Error {}

const b64url = b => Buffer.from(b).toString('base64url')
const fromB64url = (s, what) => {
    if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw new PasskeyError(`${what} is not base64url`)
    return Buffer.from(s, 'base64url')
}
const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest()
const hkdf32 = (ikm, salt, info) => Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from(info), 32))

// The account's passkey: an ES256 credential.  The private half goes to the
// test's software authenticator, never into a log.
export function makePasskey() {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    return { credentialId: crypto.randomBytes(16), publicKey, privateJwk: privateKey.export({ format: 'jwk' }) }
}

export function requestOptions(challenge, credentialId) {
    return { challenge: b64url(challenge), timeout: 600000, rpId: RP_ID,
        allowCredentials: [{ type: 'public-key', id: b64url(credentialId) }], userVerification: 'required', extensions: { uvm: true } }
}

// Throws a PasskeyError naming the first check that fails.
export function verifyAssertion(json, { credentialId, publicKey, challenge }) {
    let a
    try { a = JSON.parse(json) } catch (e) { throw new PasskeyError(`assertion is not JSON: ${e.message}`) }
    if (a?.type !== 'public-key') throw new PasskeyError('assertion type is not public-key')
    if (!fromB64url(a.rawId, 'rawId').equals(credentialId) || a.id !== a.rawId) throw new PasskeyError('assertion is for another credential')
    const r = a.response ?? {}
    const clientDataJSON = fromB64url(r.clientDataJSON, 'clientDataJSON')
    const authData = fromB64url(r.authenticatorData, 'authenticatorData')
    const signature = fromB64url(r.signature, 'signature')
    let cd
    try { cd = JSON.parse(clientDataJSON.toString('utf8')) } catch { throw new PasskeyError('clientDataJSON is not JSON') }
    if (cd.type !== 'webauthn.get') throw new PasskeyError(`clientData type ${JSON.stringify(cd.type)}, want webauthn.get`)
    if (cd.challenge !== b64url(challenge)) throw new PasskeyError('clientData challenge is not the one we sent')
    if (cd.origin !== ORIGIN) throw new PasskeyError(`clientData origin ${JSON.stringify(cd.origin)}, want ${ORIGIN}`)
    if (authData.length < 37) throw new PasskeyError(`authenticatorData is ${authData.length} bytes, want at least 37`)
    if (!authData.subarray(0, 32).equals(sha256(Buffer.from(RP_ID)))) throw new PasskeyError(`authenticatorData rpIdHash is not SHA-256("${RP_ID}")`)
    const flags = authData[32]
    if (!(flags & 0x01)) throw new PasskeyError('authenticatorData: user not present')
    if (!(flags & 0x04)) throw new PasskeyError('authenticatorData: user not verified')
    const ok = crypto.verify('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), { key: publicKey, dsaEncoding: 'der' }, signature)
    if (!ok) throw new PasskeyError('assertion signature does not verify under the account passkey')
}

// -> { identity: { publicKey, deviceType, ref }, identityBytes, commitment }
export function readPrologue(bytes, ref) {
    let p, id
    try {
        p = P.ProloguePayload.decode(bytes)
        id = P.CompanionEphemeralIdentity.decode(p.companionEphemeralIdentity ?? Buffer.alloc(0))
    } catch (e) { throw new PasskeyError(`prologue_payload does not decode: ${e.message}`) }
    if (!id.publicKey || id.publicKey.length !== 32) throw new PasskeyError('companion ephemeral key is not 32 bytes')
    if (id.ref !== ref) throw new PasskeyError('prologue ref is not the one we gave')
    if (!p.commitment?.hash || p.commitment.hash.length !== 32) throw new PasskeyError('commitment hash is not 32 bytes')
    return { identity: id, identityBytes: Buffer.from(p.companionEphemeralIdentity), commitment: Buffer.from(p.commitment.hash) }
}

export const handoffKey = adv => hkdf32(adv, Buffer.alloc(0), 'shortcake-passkey-handoff-v1')
export const handoffProof = (adv, prologue) => crypto.createHmac('sha256', handoffKey(adv)).update(prologue).digest()

export function checkCommitment(identityBytes, nonce, commitment) {
    if (nonce.length !== 32) throw new PasskeyError(`companion nonce is ${nonce.length} bytes, want 32`)
    if (!sha256(identityBytes, nonce).equals(commitment)) throw new PasskeyError('companion nonce does not open the commitment')
}

// The 8 characters both screens show.
export function pairingCode(companionNonce, primaryPublic, primaryNonce) {
    const d = sha256(companionNonce, primaryPublic)
    let v = 0n
    for (let i = 0; i < 5; i++) v = (v << 8n) | BigInt(primaryNonce[i] ^ d[i])
    let out = ''
    for (let i = 7; i >= 0; i--) out += CODE_ALPHABET[Number((v >> BigInt(5 * i)) & 31n)]
    return out
}

export const pairingKey = (shared, deviceType, ref) =>
    hkdf32(shared, Buffer.from(`Companion Pairing ${deviceType} with ref ${ref}`), 'Pairing Information Encryption Key')

// -> { companionPublicKey, companionIdentityKey, advSecret }
export function openPairingRequest(bytes, key) {
    let e
    try { e = P.EncryptedPairingRequest.decode(bytes) } catch (x) { throw new PasskeyError(`encrypted_pairing_request does not decode: ${x.message}`) }
    if (!e.iv || e.iv.length !== 12) throw new PasskeyError('encrypted_pairing_request IV is not 12 bytes')
    const ct = Buffer.from(e.encryptedPayload ?? [])
    if (ct.length < 16) throw new PasskeyError('encrypted_pairing_request payload is too short')
    let plain
    try {
        const d = crypto.createDecipheriv('aes-256-gcm', key, e.iv)
        d.setAuthTag(ct.subarray(ct.length - 16))
        plain = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()])
    } catch { throw new PasskeyError('encrypted_pairing_request does not decrypt') }
    const r = P.PairingRequest.decode(plain)
    for (const f of ['companionPublicKey', 'companionIdentityKey', 'advSecret'])
        if (!r[f] || r[f].length !== 32) throw new PasskeyError(`PairingRequest.${f} is not 32 bytes`)
    return { companionPublicKey: Buffer.from(r.companionPublicKey), companionIdentityKey: Buffer.from(r.companionIdentityKey), advSecret: Buffer.from(r.advSecret) }
}
