// Test vectors for passkey-gated linking (waweb-2026.md section 1), made by
// the loopback server's own side of the ceremony (lib/passkey.mjs, Baileys'
// protobufs and curve) and a software WebAuthn authenticator (an ES256 key
// in node:crypto): what our C++ must produce byte for byte, and the pasted
// assertions it must accept or refuse.  Every value the generator makes is
// also checked here by the mock's own checks, so a vector the server would
// refuse cannot be committed as "valid".
//
// Run:  node t/mock/wa/gen-passkey-vectors.mjs > t/unit/wa/passkey_vectors.json
// Everything is the same on every run except the ES256 signatures (ECDSA
// draws a fresh k each time).
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import * as B from 'baileys'
import libsignal from 'libsignal'
import * as PK from './lib/passkey.mjs'
import { softwareAssertion } from './lib/test-client.mjs'
import { buildPairSuccess } from './lib/phone.mjs'

const P = B.proto
const hex = b => Buffer.from(b).toString('hex')
const u = b => Buffer.from(b).toString('base64url')
const seed = s => crypto.createHash('sha256').update(s).digest() // deterministic "random"
const clamp = k => { k = Buffer.from(k); k[0] &= 248; k[31] &= 127; k[31] |= 64; return k }
const kp = name => { const priv = clamp(seed(name)); return { private: priv, public: Buffer.from(libsignal.curve.getPublicFromPrivateKey(priv)).subarray(1) } }

// The account's passkey, from a fixed scalar so the public key is stable.
function es256(name) {
    const d = seed(name)
    const ecdh = crypto.createECDH('prime256v1')
    ecdh.setPrivateKey(d)
    const pub = ecdh.getPublicKey()
    const jwk = { kty: 'EC', crv: 'P-256', d: u(d), x: u(pub.subarray(1, 33)), y: u(pub.subarray(33)) }
    return { privateJwk: jwk, publicKey: crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' }) }
}

const out = {}
const passkey = es256('passkey account')
const credentialId = seed('passkey credential').subarray(0, 16)
const challenge = seed('passkey challenge')
const options = PK.requestOptions(challenge, credentialId)
const optionsJson = JSON.stringify(options)
const mockVerdict = json => {
    try { PK.verifyAssertion(json, { credentialId, publicKey: passkey.publicKey, challenge }); return null } catch (e) { return e.message }
}

// A hand-made assertion for the shapes the software authenticator does not
// make (a registration's clientData, a short authenticatorData).
function assertionFrom({ clientData, authData, id = credentialId, key = passkey.privateJwk }) {
    const cd = Buffer.from(JSON.stringify(clientData))
    const k = crypto.createPrivateKey({ key, format: 'jwk' })
    const sig = crypto.sign('sha256', Buffer.concat([authData, crypto.createHash('sha256').update(cd).digest()]), { key: k, dsaEncoding: 'der' })
    return JSON.stringify({ id: u(id), rawId: u(id), type: 'public-key',
        response: { clientDataJSON: u(cd), authenticatorData: u(authData), signature: u(sig), userHandle: null } })
}
const rpHash = crypto.createHash('sha256').update(PK.RP_ID).digest()
const sw = extra => softwareAssertion({ privateJwk: passkey.privateJwk, credentialId: u(credentialId), options, ...extra })

const valid = sw({})
// What a browser's PublicKeyCredential.toJSON() adds, in another order, with
// padded base64url: we must send the server the plain form (valid's bytes).
const v = JSON.parse(valid)
const pad = s => s + '='.repeat((4 - s.length % 4) % 4)
const decorated = JSON.stringify({ type: v.type, authenticatorAttachment: 'cross-platform', rawId: pad(v.rawId), id: v.id,
    response: { signature: pad(v.response.signature), userHandle: null, authenticatorData: pad(v.response.authenticatorData),
        clientDataJSON: pad(v.response.clientDataJSON) }, clientExtensionResults: {} })

// [name, assertion, the word our refusal must contain (null: we accept it)]
const cases = [
    ['valid', valid, null],
    ['decorated', decorated, null],
    ['wrong rpId', sw({ rpId: 'evil.example' }), 'rpIdHash'],
    ['wrong origin', sw({ origin: 'https://evil.example' }), 'origin'],
    ['another challenge', sw({ options: { ...options, challenge: u(seed('old challenge')) } }), 'challenge'],
    ['no user verification', sw({ flags: 0x01 }), 'not verified'],
    ['no user presence', sw({ flags: 0x04 }), 'not present'],
    ['a registration', assertionFrom({ clientData: { type: 'webauthn.create', challenge: options.challenge, origin: PK.ORIGIN },
        authData: Buffer.concat([rpHash, Buffer.from([0x05, 0, 0, 0, 1])]) }), 'webauthn.create'],
    ['short authenticatorData', assertionFrom({ clientData: { type: 'webauthn.get', challenge: options.challenge, origin: PK.ORIGIN },
        authData: Buffer.concat([rpHash, Buffer.from([0x05, 0, 0])]) }), 'at least 37'],
    ['another credential', assertionFrom({ clientData: { type: 'webauthn.get', challenge: options.challenge, origin: PK.ORIGIN },
        authData: Buffer.concat([rpHash, Buffer.from([0x05, 0, 0, 0, 1])]), id: seed('other credential').subarray(0, 16) }), 'do not allow'],
    // Only the server holds the account's public key: this one we pass on,
    // and the server refuses it.
    ['signed by another key', sw({ privateJwk: es256('someone else').privateJwk }), null],
]
out.assertions = {
    options_json: optionsJson,
    challenge_hex: hex(challenge),
    credential_id_hex: hex(credentialId),
    cases: cases.map(([name, json, ours]) => ({ name, json, refusal: ours, mock_refusal: mockVerdict(json) })),
}
assert.equal(out.assertions.cases[0].mock_refusal, null, 'the valid assertion must pass the mock')
for (const c of out.assertions.cases.slice(2)) assert.notEqual(c.mock_refusal, null, `the mock must refuse ${c.name}`)

// ---------- the ceremony, every value fixed ----------
const qrAdv = seed('qr adv secret')
const newAdv = seed('new adv secret')
const eph = kp('passkey ephemeral')
const nonce = seed('companion nonce')
const ref = '2@passkey-ref-for-vectors'
const deviceType = 1 // DeviceProps.CHROME, as we register
const noise = kp('passkey noise key'), identity = kp('passkey identity key')
const primary = kp('primary ephemeral'), primaryNonce = seed('primary nonce')
const iv = seed('pairing request iv').subarray(0, 12)

const ident = Buffer.from(P.CompanionEphemeralIdentity.encode({ publicKey: eph.public, deviceType, ref }).finish())
const commitment = crypto.createHash('sha256').update(Buffer.concat([ident, nonce])).digest()
const payload = Buffer.from(P.ProloguePayload.encode({ companionEphemeralIdentity: ident, commitment: { hash: commitment } }).finish())
const read = PK.readPrologue(payload, ref) // the mock accepts it
assert.ok(read.commitment.equals(commitment))
PK.checkCommitment(read.identityBytes, nonce, read.commitment)
const proof = PK.handoffProof(qrAdv, payload)
const continuation = Buffer.from(P.PrimaryEphemeralIdentity.encode({ publicKey: primary.public, nonce: primaryNonce }).finish())
const code = PK.pairingCode(nonce, primary.public, primaryNonce)
// The phone's key derivation, from its side of the exchange.
const key = PK.pairingKey(B.Curve.sharedKey(primary.private, eph.public), deviceType, ref)
const plain = P.PairingRequest.encode({ companionPublicKey: noise.public, companionIdentityKey: identity.public, advSecret: newAdv }).finish()
const c = crypto.createCipheriv('aes-256-gcm', key, iv)
const sealed = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
const request = Buffer.from(P.EncryptedPairingRequest.encode({ encryptedPayload: sealed, iv }).finish())
const opened = PK.openPairingRequest(request, key) // and the mock opens it
assert.ok(opened.advSecret.equals(newAdv))

// The phone's <pair-success> afterwards (the mock's own builder): its HMAC
// is keyed by the new ADV secret, so it verifies only for a companion that
// switched to that secret.
const accountKey = kp('passkey account key')
const pairSuccess = buildPairSuccess({ iqId: 'ps-1', qr: { identity: identity.public, adv: newAdv }, account: accountKey,
    jid: '5521900000001:3@s.whatsapp.net', lid: '100200300400500:3@lid', keyIndex: 1, now: 1800000000 })

out.ceremony = {
    qr_adv_secret: hex(qrAdv), new_adv_secret: hex(newAdv),
    ephemeral_private: hex(eph.private), ephemeral_public: hex(eph.public), nonce: hex(nonce),
    ref, device_type: deviceType,
    noise_private: hex(noise.private), noise_public: hex(noise.public),
    identity_private: hex(identity.private), identity_public: hex(identity.public),
    primary_private: hex(primary.private), primary_public: hex(primary.public), primary_nonce: hex(primaryNonce),
    iv: hex(iv),
    handoff_key: hex(PK.handoffKey(qrAdv)),
    identity_bytes: hex(ident), commitment: hex(commitment), prologue_payload: hex(payload), handoff_proof: hex(proof),
    primary_ephemeral_identity: hex(continuation), code,
    request_key: hex(key), encrypted_pairing_request: hex(request),
    pair_success_encoded: hex(B.encodeBinaryNode(pairSuccess.stanza)), account_public: hex(accountKey.public),
}

process.stdout.write(JSON.stringify(out, null, 1) + '\n')
