// A WhatsApp Web client for testing the mock server, built from the npm
// packages' primitives (Baileys' noise handler and codec, ws), never from our
// C++ client, so the two sides are independent.  It checks the server's
// certificate chain itself with every check our C++ client makes.
import crypto from 'node:crypto'
import WebSocket from 'ws'
import * as B from 'baileys'
import { curveVerify } from './curve.mjs'

const P = B.proto
export const VERSION = { primary: 2, secondary: 3000, tertiary: 1027934701 }
const silent = { child: () => silent, trace() {}, debug() {}, info() {}, warn() {}, error() {}, level: 'silent' }

export class ChainError extends Error {}

// whatsmeow's checks (waweb.md 1.4); throws a ChainError naming the first that fails.
export function verifyCertChain(bytes, serverStatic, rootPublic, now) {
    const chain = P.CertChain.decode(bytes)
    const D = P.CertChain.NoiseCertificate.Details
    if (!chain.intermediate?.details || !chain.leaf?.details) throw new ChainError('missing certificate')
    const inter = D.decode(chain.intermediate.details), leaf = D.decode(chain.leaf.details)
    if (!curveVerify(rootPublic, chain.intermediate.details, chain.intermediate.signature)) throw new ChainError('intermediate not signed by the root')
    if (inter.issuerSerial !== 0) throw new ChainError('intermediate issuer serial is not 0')
    if (!curveVerify(inter.key, chain.leaf.details, chain.leaf.signature)) throw new ChainError('leaf not signed by the intermediate')
    if (leaf.issuerSerial !== inter.serial) throw new ChainError('leaf issuer serial is not the intermediate serial')
    if (!Buffer.from(leaf.key).equals(Buffer.from(serverStatic))) throw new ChainError('leaf key is not the server static key')
    for (const [name, d] of [['intermediate', inter], ['leaf', leaf]])
        if (now < Number(d.notBefore) || now > Number(d.notAfter)) throw new ChainError(`${name} outside its validity window`)
    return { inter, leaf }
}

export function loginPayload({ username, device, version = VERSION }) {
    return Buffer.from(P.ClientPayload.encode(P.ClientPayload.fromObject({
        username, device, passive: true, pull: true, connectType: 1, connectReason: 1,
        userAgent: { platform: 14, appVersion: version, mcc: '000', mnc: '000', osVersion: '0.1', device: 'Desktop' },
        webInfo: { webSubPlatform: 0 } })).finish())
}

// A fresh device's keys and the registration payload that carries them.
export function registrationPayload({ version = VERSION, breakSignature = false } = {}) {
    const identity = B.Curve.generateKeyPair()
    const spk = B.Curve.generateKeyPair()
    const sig = Buffer.from(B.Curve.sign(identity.private, Buffer.concat([Buffer.from([5]), spk.public])))
    if (breakSignature) sig[0] ^= 1
    const u32 = n => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
    const props = P.DeviceProps.encode({ os: 'Chatwoot (nginx)', platformType: 1, requireFullSync: false }).finish()
    const payload = Buffer.from(P.ClientPayload.encode(P.ClientPayload.fromObject({
        passive: false, pull: false, connectType: 1, connectReason: 1,
        userAgent: { platform: 14, appVersion: version, mcc: '000', mnc: '000', osVersion: '0.1', device: 'Desktop' },
        webInfo: { webSubPlatform: 0 },
        devicePairingData: { eRegid: u32(1234), eKeytype: Buffer.from([5]), eIdent: identity.public,
            eSkeyId: Buffer.from([0, 0, 1]), eSkeyVal: spk.public, eSkeySig: sig,
            buildHash: crypto.createHash('md5').update(`${version.primary}.${version.secondary}.${version.tertiary}`).digest(),
            deviceProps: props } })).finish())
    return { payload, identity }
}

export class TestClient {
    constructor(ws, handler, eph) {
        this.ws = ws
        this.noise = handler
        this.eph = eph
        this.inbound = Promise.resolve() // decodeFrame is async: one message at a time
        this.frames = [] // raw handshake frames, then decoded nodes
        this.waiters = []
        this.closed = null
        this.closedWaiters = []
        ws.on('message', data => {
            this.inbound = this.inbound.then(() => this.noise.decodeFrame(data, f => this.deliver(f)))
                .catch(e => { this.error = e; ws.terminate() })
        })
        ws.on('close', code => {
            this.closed = { code }
            for (const w of this.closedWaiters) w(this.closed)
        })
    }

    static open(url, { origin = 'https://web.whatsapp.com', routingInfo } = {}) {
        const ws = new WebSocket(url, { origin, perMessageDeflate: false })
        const eph = B.Curve.generateKeyPair()
        const handler = B.makeNoiseHandler({ keyPair: eph, NOISE_HEADER: B.NOISE_WA_HEADER, logger: silent, routingInfo })
        return new Promise((resolve, reject) => {
            ws.once('open', () => resolve(new TestClient(ws, handler, eph)))
            ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
            ws.once('error', reject)
        })
    }

    deliver(f) {
        const i = this.waiters.findIndex(w => w.pred(f))
        if (i >= 0) this.waiters.splice(i, 1)[0].resolve(f)
        else this.frames.push(f)
    }

    // The next frame or node that satisfies pred (default: any).
    next(pred = () => true) {
        const i = this.frames.findIndex(pred)
        if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0])
        return new Promise((resolve, reject) => {
            const w = { pred, resolve }
            this.waiters.push(w)
            this.onClose(c => reject(new Error(`socket closed (${c.code}) while waiting`)))
        })
    }

    onClose(fn) { if (this.closed) fn(this.closed); else this.closedWaiters.push(fn) }
    whenClosed() { return new Promise(resolve => this.onClose(resolve)) }

    sendRaw(bytes) { this.ws.send(bytes) }

    // Runs the initiator's side; returns what the server proved.  Uses the
    // noise handler's steps one by one so the chain can be checked in full.
    async handshake({ payload, rootKey, now = Math.floor(Date.now() / 1000), noiseKey = B.Curve.generateKeyPair() }) {
        const n = this.noise
        this.ws.send(n.encodeFrame(P.HandshakeMessage.encode({ clientHello: { ephemeral: this.eph.public } }).finish()))
        const { serverHello } = P.HandshakeMessage.decode(await this.next())
        n.authenticate(serverHello.ephemeral)
        n.mixIntoKey(B.Curve.sharedKey(this.eph.private, serverHello.ephemeral))
        const serverStatic = n.decrypt(serverHello.static)
        n.mixIntoKey(B.Curve.sharedKey(this.eph.private, serverStatic))
        const chain = n.decrypt(serverHello.payload)
        const verified = verifyCertChain(chain, serverStatic, rootKey, now)
        const encStatic = n.encrypt(noiseKey.public)
        n.mixIntoKey(B.Curve.sharedKey(noiseKey.private, serverHello.ephemeral))
        const encPayload = n.encrypt(payload)
        this.ws.send(n.encodeFrame(P.HandshakeMessage.encode({ clientFinish: { static: encStatic, payload: encPayload } }).finish()))
        await n.finishInit()
        return { serverStatic, verified, noiseKey }
    }

    send(node) { this.ws.send(this.noise.encodeFrame(B.encodeBinaryNode(node))) }
    close() { this.ws.terminate() }
}

export const qrText = ({ ref, noise, identity, adv, platform = '1' }) =>
    `https://wa.me/settings/linked_devices#${[ref, noise.toString('base64'), identity.toString('base64'), adv.toString('base64'), platform].join(',')}`

// What a companion does with <pair-success> (waweb.md 1.11): check the HMAC
// with the adv secret and the account signature over its identity, then
// countersign.  Returns { verdict, reply }; `spoil` makes a bad answer
// ('device-signature' or 'keep-account-key') for the server to refuse.
export function companionAnswer(iq, { identity, adv, spoil = null }) {
    const ps = iq.content[0]
    const get = tag => ps.content.find(c => c.tag === tag)
    const outer = P.ADVSignedDeviceIdentityHMAC.decode(get('device-identity').content)
    const hmac = crypto.createHmac('sha256', adv).update(outer.details).digest()
    const error = (code, text) => ({ verdict: text, reply: { tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'error', id: iq.attrs.id },
        content: [{ tag: 'error', attrs: { code, text } }] } })
    if (!hmac.equals(Buffer.from(outer.hmac))) return error('401', 'hmac-mismatch')
    const signed = P.ADVSignedDeviceIdentity.decode(outer.details)
    const accountKey = Buffer.from(signed.accountSignatureKey)
    if (!curveVerify(accountKey, Buffer.concat([Buffer.from([6, 0]), signed.details, identity.public]), Buffer.from(signed.accountSignature)))
        return error('401', 'signature-mismatch')
    const deviceSignature = Buffer.from(B.Curve.sign(identity.private, Buffer.concat([Buffer.from([6, 1]), signed.details, identity.public, accountKey])))
    if (spoil === 'device-signature') deviceSignature[7] ^= 1
    const details = P.ADVDeviceIdentity.decode(signed.details)
    const answer = Buffer.from(P.ADVSignedDeviceIdentity.encode({ details: signed.details, accountSignature: signed.accountSignature, deviceSignature,
        ...(spoil === 'keep-account-key' ? { accountSignatureKey: accountKey } : {}) }).finish())
    // What the companion later sends in <device-identity> (with the account key).
    const deviceIdentity = Buffer.from(P.ADVSignedDeviceIdentity.encode({ details: signed.details, accountSignatureKey: accountKey,
        accountSignature: signed.accountSignature, deviceSignature }).finish())
    return { verdict: 'ok', accountKey, device: get('device').attrs, keyIndex: details.keyIndex, deviceIdentity,
        reply: { tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'result', id: iq.attrs.id }, content: [{ tag: 'pair-device-sign', attrs: {},
            content: [{ tag: 'device-identity', attrs: { 'key-index': String(details.keyIndex) }, content: answer }] }] } }
}

const be = (n, w) => { const b = Buffer.alloc(w); b.writeUIntBE(n, 0, w); return b }
const leaf = (tag, content) => ({ tag, attrs: {}, content })

// A prekey upload iq (waweb.md 1.13) under `identity` (a fresh key unless
// given); `spoil`: 'signature' or 'repeat' (a repeated id).
export function prekeyUploadNode(id, { identity = B.Curve.generateKeyPair(), count = 812, spoil = null } = {}) {
    const spk = B.Curve.generateKeyPair()
    const sig = Buffer.from(B.Curve.sign(identity.private, Buffer.concat([Buffer.from([5]), spk.public])))
    if (spoil === 'signature') sig[3] ^= 1
    const keys = Array.from({ length: count }, (_, i) => ({ tag: 'key', attrs: {}, content: [
        leaf('id', be(spoil === 'repeat' && i === 1 ? 1 : i + 1, 3)), leaf('value', B.Curve.generateKeyPair().public)] }))
    return { tag: 'iq', attrs: { id, xmlns: 'encrypt', type: 'set', to: 's.whatsapp.net' }, content: [
        leaf('registration', be(4321, 4)), leaf('type', Buffer.from([5])), leaf('identity', identity.public),
        { tag: 'list', attrs: {}, content: keys },
        { tag: 'skey', attrs: {}, content: [leaf('id', be(1, 3)), leaf('value', spk.public), leaf('signature', sig)] }] }
}

// Pairing by code, the companion's side, from Baileys' exported primitives.
export async function codeHello(phone) {
    const code = B.bytesToCrockford(crypto.randomBytes(5))
    const eph = B.Curve.generateKeyPair()
    const salt = crypto.randomBytes(32), iv = crypto.randomBytes(16)
    const key = await B.derivePairingCodeKey(code, salt)
    const wrapped = Buffer.concat([salt, iv, B.aesEncryptCTR(eph.public, key, iv)])
    return { code, eph, stanza: (id, noisePublic) => ({ tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'set', id, xmlns: 'md' }, content: [
        { tag: 'link_code_companion_reg', attrs: { jid: `${phone}@s.whatsapp.net`, stage: 'companion_hello', should_show_push_notification: 'true' }, content: [
            leaf('link_code_pairing_wrapped_companion_ephemeral_pub', wrapped),
            leaf('companion_server_auth_key_pub', noisePublic),
            leaf('companion_platform_id', '49'),
            leaf('companion_platform_display', 'Chrome (Linux)'),
            leaf('link_code_pairing_nonce', '0')] }] }) }
}

// -> { stanza(id), adv } for the phone's primary_hello notification.
export async function codeFinish({ code, eph, identity, phone, notification }) {
    const reg = notification.content.find(c => c.tag === 'link_code_companion_reg')
    const get = tag => Buffer.from(reg.content.find(c => c.tag === tag).content)
    const wrapped = get('link_code_pairing_wrapped_primary_ephemeral_pub')
    const primaryEph = B.aesDecryptCTR(wrapped.subarray(48), await B.derivePairingCodeKey(code, wrapped.subarray(0, 32)), wrapped.subarray(32, 48))
    const primaryIdentity = get('primary_identity_pub')
    const shared = B.Curve.sharedKey(eph.private, primaryEph)
    const random = crypto.randomBytes(32), salt = crypto.randomBytes(32), nonce = crypto.randomBytes(12)
    const bundleKey = Buffer.from(B.hkdf(shared, 32, { salt, info: 'link_code_pairing_key_bundle_encryption_key' }))
    const sealed = B.aesEncryptGCM(Buffer.concat([identity.public, primaryIdentity, random]), bundleKey, nonce, Buffer.alloc(0))
    const adv = Buffer.from(B.hkdf(Buffer.concat([shared, B.Curve.sharedKey(identity.private, primaryIdentity), random]), 32, { info: 'adv_secret' }))
    return { adv, primaryIdentity, stanza: id => ({ tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'set', id, xmlns: 'md' }, content: [
        { tag: 'link_code_companion_reg', attrs: { jid: `${phone}@s.whatsapp.net`, stage: 'companion_finish' }, content: [
            leaf('link_code_pairing_wrapped_key_bundle', Buffer.concat([salt, nonce, sealed])),
            leaf('companion_identity_public', identity.public),
            leaf('link_code_pairing_ref', get('link_code_pairing_ref'))] }] }) }
}

// A software WebAuthn authenticator holding the account's ES256 passkey:
// what a browser on web.whatsapp.com returns from navigator.credentials.get.
export function softwareAssertion({ privateJwk, credentialId, options, rpId = options.rpId, origin = 'https://web.whatsapp.com', flags = 0x05 }) {
    const key = crypto.createPrivateKey({ key: privateJwk, format: 'jwk' })
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }))
    const authData = Buffer.concat([crypto.createHash('sha256').update(rpId).digest(), Buffer.from([flags]), Buffer.from([0, 0, 0, 1])])
    const signature = crypto.sign('sha256', Buffer.concat([authData, crypto.createHash('sha256').update(clientDataJSON).digest()]), { key, dsaEncoding: 'der' })
    const u = b => Buffer.from(b).toString('base64url')
    return JSON.stringify({ id: credentialId, rawId: credentialId, type: 'public-key',
        response: { clientDataJSON: u(clientDataJSON), authenticatorData: u(authData), signature: u(signature), userHandle: null } })
}

// The companion's side of the ceremony after the prologue request
// (waweb-2026.md 1, steps 1-9), one call per step.
export class PasskeyCompanion {
    constructor({ client, identity, noiseKey, qrAdv, deviceType = 1 }) {
        Object.assign(this, { client, identity, noiseKey, qrAdv, deviceType })
        this.adv = crypto.randomBytes(32) // replaces the QR's
        this.eph = B.Curve.generateKeyPair()
        this.nonce = crypto.randomBytes(32)
        this.n = 0
    }

    async iq(type, content) {
        const id = `pk-${++this.n}`
        this.client.send({ tag: 'iq', attrs: { to: 's.whatsapp.net', type, id, xmlns: 'md' }, content })
        return this.client.next(n => n.tag === 'iq' && n.attrs.id === id)
    }

    async ref() {
        const r = await this.iq('get', [{ tag: 'ref', attrs: {} }])
        this.refText = Buffer.from(r.content[0].content).toString()
        return r
    }

    prologue({ credentialId, assertion, proof = true, badProof = false }) {
        const ident = Buffer.from(P.CompanionEphemeralIdentity.encode({ publicKey: this.eph.public, deviceType: this.deviceType, ref: this.refText }).finish())
        this.ident = ident
        const payload = Buffer.from(P.ProloguePayload.encode({ companionEphemeralIdentity: ident,
            commitment: { hash: crypto.createHash('sha256').update(Buffer.concat([ident, this.nonce])).digest() } }).finish())
        const handoff = Buffer.from(B.hkdf(this.qrAdv, 32, { info: 'shortcake-passkey-handoff-v1' }))
        const hmac = crypto.createHmac('sha256', badProof ? crypto.randomBytes(32) : handoff).update(payload).digest()
        const kids = [leaf('credential_id', Buffer.from(credentialId, 'base64url')), leaf('webauthn_assertion', Buffer.from(assertion)), leaf('prologue_payload', payload)]
        if (proof) kids.push(leaf('pairing_handoff_proof', hmac))
        return this.iq('set', [{ tag: 'passkey_prologue', attrs: {}, content: kids }])
    }

    // After crsc_continuation: send our nonce, compute the code.
    async companionNonce(continuation, { wrongNonce = false } = {}) {
        const pe = P.PrimaryEphemeralIdentity.decode(continuation.content[0].content)
        this.primary = { publicKey: Buffer.from(pe.publicKey), nonce: Buffer.from(pe.nonce) }
        const r = await this.iq('set', [leaf('companion_nonce', wrongNonce ? crypto.randomBytes(32) : this.nonce)])
        const d = crypto.createHash('sha256').update(Buffer.concat([this.nonce, this.primary.publicKey])).digest()
        const five = Buffer.from([0, 1, 2, 3, 4].map(i => this.primary.nonce[i] ^ d[i]))
        this.code = B.bytesToCrockford(five)
        return r
    }

    encryptedRequest() {
        const shared = B.Curve.sharedKey(this.eph.private, this.primary.publicKey)
        const key = Buffer.from(B.hkdf(shared, 32, { salt: Buffer.from(`Companion Pairing ${this.deviceType} with ref ${this.refText}`), info: 'Pairing Information Encryption Key' }))
        const iv = crypto.randomBytes(12)
        const plain = P.PairingRequest.encode({ companionPublicKey: this.noiseKey.public, companionIdentityKey: this.identity.public, advSecret: this.adv }).finish()
        const sealed = B.aesEncryptGCM(plain, key, iv, Buffer.alloc(0))
        return this.iq('set', [leaf('encrypted_pairing_request', Buffer.from(P.EncryptedPairingRequest.encode({ encryptedPayload: sealed, iv }).finish()))])
    }
}
