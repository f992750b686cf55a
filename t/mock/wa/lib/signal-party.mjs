// One Signal party: a device with its own identity, registration id, signed
// pre-key and one-time pre-keys, and its sessions and sender keys, all in
// memory.  libsignal (node) does the double ratchet and Baileys' group cipher
// the sender keys; both are libraries here, this file only keeps their state.
// The server plays every contact device and our phone with one of these; the
// test companion plays the client with one.
import crypto from 'node:crypto'
import libsignal from 'libsignal'
import * as G from 'baileys/lib/Signal/Group/index.js'

const DJB = Buffer.from([5])
// libsignal's keys carry the 0x05 type byte; WhatsApp's stanzas do not.
export const withType = k => Buffer.concat([DJB, Buffer.from(k)])
export const withoutType = k => { const b = Buffer.from(k); return b.length === 33 ? b.subarray(1) : b }

// libsignal (node) tries the sessions of a record one after another on the
// sessions themselves: one that fails has still had its ratchet stepped with
// the message's key, and the whole record is stored once another session
// succeeds.  So a message on an older session (the one a peer keeps using
// after both sides started a session at once, which the protocol allows)
// breaks the open one for good: every later message on it fails with "Bad
// MAC".  libsignal-c, the Rust libsignal and the phones try each session on a
// copy and keep only the one that decrypted; this cipher does the same, so
// the mock's devices fail only where a phone would.
class SessionCipher extends libsignal.SessionCipher {
    async decryptWithSessions(data, sessions) {
        if (!sessions.length) throw new libsignal.SessionError('No sessions available')
        const errors = []
        for (const session of sessions) {
            const copy = session.constructor.deserialize(session.serialize())
            let plaintext
            try {
                plaintext = await this.doDecryptWhisperMessage(data, copy)
            } catch (e) {
                errors.push(e.message)
                continue
            }
            // The record holds `session`: it takes the copy's new state.
            for (const k of Object.keys(session)) delete session[k]
            Object.assign(session, copy)
            session.indexInfo.used = Date.now()
            return { session, plaintext }
        }
        throw new libsignal.SessionError(`No matching sessions found for message (${errors.join('; ')})`)
    }
}

export class SignalParty {
    // identity: optional { public: 32 bytes, private: 32 bytes } (the key a
    // companion registered with); prekeys: how many one-time pre-keys to make.
    constructor({ identity = null, registrationId = crypto.randomInt(1, 16380), prekeys = 20, firstPrekeyId = 1 } = {}) {
        const id = identity ? { pubKey: withType(identity.public), privKey: Buffer.from(identity.private) } : libsignal.curve.generateKeyPair()
        this.identity = id
        this.registrationId = registrationId
        const spk = libsignal.curve.generateKeyPair()
        this.signedPreKey = { keyId: 1, keyPair: spk, signature: Buffer.from(libsignal.curve.calculateSignature(id.privKey, spk.pubKey)) }
        this.preKeys = new Map()
        this.unclaimed = new Set() // one-time pre-keys not handed out yet
        this.nextPrekeyId = firstPrekeyId
        this.addPreKeys(prekeys)
        this.sessions = new Map() // "name.device" -> SessionRecord
        this.identities = new Map() // "name" -> identity key seen (trust on first use, changes recorded)
        this.senderKeys = new Map() // SenderKeyName string -> SenderKeyRecord
        this.identityChanges = 0
        this.store = this.makeStore()
    }

    get identityPublic() { return withoutType(this.identity.pubKey) }

    addPreKeys(n) {
        const out = []
        for (let i = 0; i < n; i++) {
            const id = this.nextPrekeyId++
            const kp = libsignal.curve.generateKeyPair()
            this.preKeys.set(id, kp)
            this.unclaimed.add(id)
            out.push({ id, value: withoutType(kp.pubKey) })
        }
        return out
    }

    makeStore() {
        return {
            getOurIdentity: async () => this.identity,
            getOurRegistrationId: async () => this.registrationId,
            isTrustedIdentity: async (name, key) => {
                const seen = this.identities.get(name)
                if (seen && !seen.equals(Buffer.from(key))) this.identityChanges++
                this.identities.set(name, Buffer.from(key))
                return true // WhatsApp trusts a new identity and tells the user
            },
            loadPreKey: async id => this.preKeys.get(Number(id)),
            removePreKey: async id => { this.preKeys.delete(Number(id)); this.unclaimed.delete(Number(id)) },
            loadSignedPreKey: async id => Number(id) === this.signedPreKey.keyId ? this.signedPreKey.keyPair : undefined,
            loadSession: async addr => this.sessions.get(addr),
            storeSession: async (addr, record) => { this.sessions.set(addr, record) },
            loadSenderKey: async name => this.senderKeys.get(name.toString()) ?? new G.SenderKeyRecord(),
            storeSenderKey: async (name, record) => { this.senderKeys.set(name.toString(), record) },
        }
    }

    // The bundle another device fetches: takes one one-time pre-key (as the
    // server hands each out once) unless `keep`.
    bundle({ keep = false, newest = false } = {}) {
        const id = newest ? [...this.unclaimed].at(-1) : this.unclaimed.values().next().value
        const kp = id === undefined ? null : this.preKeys.get(id)
        const b = { registrationId: this.registrationId, identity: this.identityPublic,
            signedPreKey: { id: this.signedPreKey.keyId, value: withoutType(this.signedPreKey.keyPair.pubKey), signature: this.signedPreKey.signature },
            preKey: id === undefined ? null : { id, value: withoutType(kp.pubKey) } }
        if (!keep && id !== undefined) this.unclaimed.delete(id)
        return b
    }

    hasSession(addr) { return !!this.sessions.get(addrString(addr))?.getOpenSession() }

    // A session with `addr` from the other side's bundle (WhatsApp's shape:
    // 32-byte keys), replacing any open one.
    async startSession(addr, b) {
        const builder = new libsignal.SessionBuilder(this.store, toAddress(addr))
        await builder.initOutgoing({ registrationId: b.registrationId, identityKey: withType(b.identity),
            signedPreKey: { keyId: b.signedPreKey.id, publicKey: withType(b.signedPreKey.value), signature: Buffer.from(b.signedPreKey.signature) },
            preKey: b.preKey ? { keyId: b.preKey.id, publicKey: withType(b.preKey.value) } : undefined })
    }

    // -> { type: 'pkmsg'|'msg', body }
    async encrypt(addr, plain) {
        const r = await new SessionCipher(this.store, toAddress(addr)).encrypt(Buffer.from(plain))
        return { type: r.type === 3 ? 'pkmsg' : 'msg', body: Buffer.from(r.body, 'binary') }
    }

    async decrypt(addr, type, body) {
        const c = new SessionCipher(this.store, toAddress(addr))
        if (type === 'pkmsg') return Buffer.from(await c.decryptPreKeyWhisperMessage(Buffer.from(body)))
        if (type === 'msg') return Buffer.from(await c.decryptWhisperMessage(Buffer.from(body)))
        throw new Error(`enc type ${type} is not pkmsg or msg`)
    }

    // Sender keys: `group` is the group JID, `sender` the sending device's address.
    async senderKeyDistribution(group, sender) {
        const skdm = await new G.GroupSessionBuilder(this.store).create(new G.SenderKeyName(group, toAddress(sender)))
        return Buffer.from(skdm.serialize())
    }

    async groupEncrypt(group, sender, plain) {
        return Buffer.from(await new G.GroupCipher(this.store, new G.SenderKeyName(group, toAddress(sender))).encrypt(Buffer.from(plain)))
    }

    async processSenderKeyDistribution(group, sender, bytes) {
        const msg = new G.SenderKeyDistributionMessage(null, null, null, null, Buffer.from(bytes))
        await new G.GroupSessionBuilder(this.store).process(new G.SenderKeyName(group, toAddress(sender)), msg)
    }

    hasSenderKey(group, sender) {
        const r = this.senderKeys.get(new G.SenderKeyName(group, toAddress(sender)).toString())
        return !!r && !r.isEmpty()
    }

    // A new sender key next time (a member left): the old one is dropped.
    forgetSenderKey(group, sender) {
        return this.senderKeys.delete(new G.SenderKeyName(group, toAddress(sender)).toString())
    }

    async groupDecrypt(group, sender, bytes) {
        return Buffer.from(await new G.GroupCipher(this.store, new G.SenderKeyName(group, toAddress(sender))).decrypt(Buffer.from(bytes)))
    }
}

// A Signal address is { name, device }: WhatsApp's names are "<user>" for a
// phone number and "<user>_1" for a LID (waweb.md 1.8).
export const toAddress = a => new libsignal.ProtocolAddress(a.name, a.device)
export const addrString = a => `${a.name}.${a.device}`

// "1555:3@s.whatsapp.net" or "123:3@lid" -> { name, device }
export function signalAddress(jid) {
    const m = /^(\d+)(?:\.\d+)?(?::(\d+))?@(s\.whatsapp\.net|lid|hosted|hosted\.lid)$/.exec(jid)
    if (!m) throw new Error(`${jid} is not a user or device JID`)
    const suffix = { 's.whatsapp.net': '', lid: '_1', hosted: '_128', 'hosted.lid': '_129' }[m[3]]
    return { name: m[1] + suffix, device: Number(m[2] ?? 0) }
}

// Message padding (waweb.md 1.14): 1..16 bytes each of the value N.
export function pad(bytes) {
    const n = (crypto.randomBytes(1)[0] & 0x0f) + 1
    return Buffer.concat([Buffer.from(bytes), Buffer.alloc(n, n)])
}

export function unpad(bytes) {
    const b = Buffer.from(bytes)
    if (b.length === 0) throw new Error('empty plaintext')
    const n = b[b.length - 1]
    if (n === 0 || n > b.length) throw new Error(`padding byte ${n} for ${b.length} bytes`)
    for (let i = b.length - n; i < b.length; i++) if (b[i] !== n) throw new Error('padding bytes differ')
    return b.subarray(0, b.length - n)
}
