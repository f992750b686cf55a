// Test vectors for pairing by phone number (waweb.md 1.12): the whole
// exchange of src/wa/session/code_pairing.* against the phone's side.
//
// Install: (cd t/mock/wa && npm ci --ignore-scripts --legacy-peer-deps)
// Run:     node t/mock/wa/gen-code-pairing-vectors.mjs > t/unit/wa/code_pairing_vectors.json
// Every value is the same on every run (seeded inputs, deterministic signing).
//
// The companion's expected bytes come from Baileys' helpers (the code's
// base32, PBKDF2, CTR, HKDF, GCM), each checked here against the phone's
// side in lib/pair-code.mjs, which the loopback server runs: the phone
// unwraps our ephemeral with the code and opens our key bundle, and the adv
// secret is the one the phone derives.  The pair-success that follows is
// signed by the account key over our identity and MACed with that secret.
import crypto from 'node:crypto'
import assert from 'node:assert/strict'
import * as B from 'baileys'
import libsignal from 'libsignal'
import curveJs from 'curve25519-js'
import { unwrapEphemeral, openKeyBundle, normalizeCode } from './lib/pair-code.mjs'

const P = B.proto
const hex = b => Buffer.from(b).toString('hex')
const seed = s => crypto.createHash('sha256').update(s).digest()
const clamp = k => { k = Buffer.from(k); k[0] &= 248; k[31] &= 127; k[31] |= 64; return k }
const kp = name => { const priv = clamp(seed(name)); return { private: priv, public: Buffer.from(libsignal.curve.getPublicFromPrivateKey(priv)).subarray(1) } }

const phone = '5511912345678'
const ourIdentity = kp('code-our-identity')

// The companion's random inputs, in the order CodePairing draws them.
const codeBytes = seed('code-bytes').subarray(0, 5)
const companionEph = kp('code-companion-ephemeral')
const helloSalt = seed('code-hello-salt'), helloIv = seed('code-hello-iv').subarray(0, 16)
const advRandom = seed('code-adv-random'), bundleSalt = seed('code-bundle-salt'), bundleNonce = seed('code-bundle-nonce').subarray(0, 12)

// companion_hello
const code = B.bytesToCrockford(codeBytes)
assert.equal(normalizeCode(code), code)
const helloKey = await B.derivePairingCodeKey(code, helloSalt)
const wrappedCompanion = Buffer.concat([helloSalt, helloIv, B.aesEncryptCTR(companionEph.public, helloKey, helloIv)])
assert.ok((await unwrapEphemeral(code, wrappedCompanion)).equals(companionEph.public), 'the phone unwraps our ephemeral')

// The phone's primary_hello
const primaryEph = kp('code-primary-ephemeral'), account = kp('code-account')
const primarySalt = seed('code-primary-salt'), primaryIv = seed('code-primary-iv').subarray(0, 16)
const wrappedPrimary = Buffer.concat([primarySalt, primaryIv, B.aesEncryptCTR(primaryEph.public, await B.derivePairingCodeKey(code, primarySalt), primaryIv)])
assert.ok((await unwrapEphemeral(code, wrappedPrimary)).equals(primaryEph.public))
const ref = '2@codePairingRef+/AbCdEfGh=='
const notification = { tag: 'notification', attrs: { from: 's.whatsapp.net', id: '3827441906', type: 'link_code_companion_reg', t: '1800000000' },
    content: [{ tag: 'link_code_companion_reg', attrs: { stage: 'primary_hello' }, content: [
        { tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from(ref) },
        { tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: wrappedPrimary },
        { tag: 'primary_identity_pub', attrs: {}, content: account.public }] }] }

// companion_finish
const shared = B.Curve.sharedKey(companionEph.private, primaryEph.public)
const bundleKey = Buffer.from(B.hkdf(shared, 32, { salt: bundleSalt, info: 'link_code_pairing_key_bundle_encryption_key' }))
const sealed = B.aesEncryptGCM(Buffer.concat([ourIdentity.public, account.public, advRandom]), bundleKey, bundleNonce, Buffer.alloc(0))
const wrappedBundle = Buffer.concat([bundleSalt, bundleNonce, sealed])
const companionAdv = Buffer.from(B.hkdf(Buffer.concat([shared, B.Curve.sharedKey(ourIdentity.private, account.public), advRandom]), 32, { info: 'adv_secret' }))
const phoneAdv = openKeyBundle({ bundle: wrappedBundle, primaryEphemeral: primaryEph, companionEphemeral: companionEph.public,
    account, companionIdentity: ourIdentity.public })
assert.ok(phoneAdv.equals(companionAdv), 'the phone derives the same adv secret')

// The pair-success the phone then sends, for the adv secret of this exchange.
const details = P.ADVDeviceIdentity.encode({ rawId: 4242, timestamp: 1800000000, keyIndex: 3, accountType: 0, deviceType: 0 }).finish()
const accountSignature = curveJs.sign(account.private, Buffer.concat([Buffer.from([6, 0]), details, ourIdentity.public]),
    Buffer.concat([seed('code-sig-1'), seed('code-sig-2')]))
const signedIdentity = P.ADVSignedDeviceIdentity.encode({ details, accountSignatureKey: account.public, accountSignature }).finish()
const container = P.ADVSignedDeviceIdentityHMAC.encode({ details: signedIdentity, accountType: 0,
    hmac: crypto.createHmac('sha256', phoneAdv).update(signedIdentity).digest() }).finish()
const pairSuccess = { tag: 'iq', attrs: { from: 's.whatsapp.net', type: 'set', id: 'code-pair-1', t: '1800000000' }, content: [{ tag: 'pair-success', attrs: {}, content: [
    { tag: 'device-identity', attrs: {}, content: container },
    { tag: 'device', attrs: { jid: `${phone}:7@s.whatsapp.net`, lid: '210987654321098:7@lid' } },
    { tag: 'platform', attrs: { name: 'android' } }] }] }

console.log(JSON.stringify({
    phone_input: '+55 11 91234 5678',
    phone,
    our_identity_priv: hex(ourIdentity.private),
    random: {
        code_bytes: hex(codeBytes),
        companion_ephemeral_priv: hex(companionEph.private),
        hello_salt: hex(helloSalt),
        hello_iv: hex(helloIv),
        adv_random: hex(advRandom),
        bundle_salt: hex(bundleSalt),
        bundle_nonce: hex(bundleNonce),
    },
    code,
    display: `${code.slice(0, 4)}-${code.slice(4)}`,
    wrapped_companion_ephemeral: hex(wrappedCompanion),
    ref,
    primary_identity_pub: hex(account.public),
    primary_hello_encoded: hex(B.encodeBinaryNode(notification)),
    wrapped_key_bundle: hex(wrappedBundle),
    adv_secret: hex(phoneAdv),
    pair_success_encoded: hex(B.encodeBinaryNode(pairSuccess)),
    pair_success_jid: `${phone}:7@s.whatsapp.net`,
}, null, 1))
