// A minimal companion for testing the server's world: it pairs by QR, logs
// in, uploads pre-keys from its own Signal party, and plays the client's side
// of messages (decrypt what comes, receipts, retry receipts, sending with the
// fan-out, device-identity and phash the server checks).  Built from the npm
// packages and our SignalParty, never from the C++ client.
import crypto from 'node:crypto'
import * as B from 'baileys'
import { TestClient, loginPayload, registrationPayload, qrText, companionAnswer } from './test-client.mjs'
import { SignalParty, signalAddress, pad, unpad } from './signal-party.mjs'

const P = B.proto
const S = 's.whatsapp.net'
const leaf = (tag, content, attrs = {}) => ({ tag, attrs, content })
const be = (n, w) => { const b = Buffer.alloc(w); b.writeUIntBE(n, 0, w); return b }
const kids = n => Array.isArray(n?.content) ? n.content : []
const child = (n, tag) => kids(n).find(c => c.tag === tag)

// whatsmeow's phash (waweb.md 1.15), written here again on purpose: the
// test must not borrow the server's.
export function phash(jids) {
    const ad = jids.map(j => {
        const m = /^(\d+)(?::(\d+))?@(.+)$/.exec(j)
        return `${m[1]}.0:${m[2] ?? 0}@${m[3]}`
    }).sort()
    return '2:' + crypto.createHash('sha256').update(ad.join('')).digest().subarray(0, 6).toString('base64')
}

export class Companion {
    static async pair(mock, { phone = '15550009999', prekeys = 40 } = {}) {
        const since = await mock.last()
        const reg = await TestClient.open(mock.url)
        const { payload, identity } = registrationPayload()
        const { noiseKey } = await reg.handshake({ payload, rootKey: mock.rootKey })
        const iq = await reg.next()
        reg.send({ tag: 'iq', attrs: { to: S, id: iq.attrs.id, type: 'result' } })
        const ref = Buffer.from(iq.content[0].content[0].content).toString()
        const adv = crypto.randomBytes(32)
        const r = await mock.control('scan', { qr: qrText({ ref, noise: noiseKey.public, identity: identity.public, adv }), phone })
        if (r.status !== 200) throw new Error(`scan: ${JSON.stringify(r.body)}`)
        const ans = companionAnswer(await reg.next(n => n.tag === 'iq'), { identity, adv })
        reg.send(ans.reply)
        await mock.wait({ type: 'paired' }, since)
        reg.close()
        const [user, device] = ans.device.jid.split('@')[0].split(':')
        const me = new Companion({ mock, user, device: Number(device), lid: ans.device.lid.split(':')[0], identity, noiseKey,
            deviceIdentity: ans.deviceIdentity, prekeys })
        await me.login()
        return me
    }

    constructor({ mock, user, device, lid, identity, noiseKey, deviceIdentity, prekeys }) {
        Object.assign(this, { mock, user, device, lid, noiseKey, deviceIdentity })
        this.party = new SignalParty({ identity, prekeys })
        this.n = 0
        this.uploaded = false
    }

    get jid() { return `${this.user}:${this.device}@${S}` }

    async login() {
        const since = await this.mock.last()
        this.c = await TestClient.open(this.mock.url)
        await this.c.handshake({ payload: loginPayload({ username: Number(this.user), device: this.device }), rootKey: this.mock.rootKey, noiseKey: this.noiseKey })
        const ok = await this.c.next()
        if (ok.tag !== 'success') throw new Error(`login: <${ok.tag}>`)
        this.conn = (await this.mock.wait({ type: 'handshake' }, since)).conn
        if (!this.uploaded) {
            const keys = [...this.party.preKeys.entries()].map(([id, kp]) => ({ tag: 'key', attrs: {}, content: [leaf('id', be(id, 3)), leaf('value', kp.pubKey.subarray(1))] }))
            const spk = this.party.signedPreKey
            await this.iq({ xmlns: 'encrypt', type: 'set' }, [leaf('registration', be(this.party.registrationId, 4)), leaf('type', Buffer.from([5])),
                leaf('identity', this.party.identityPublic), leaf('list', keys),
                leaf('skey', [leaf('id', be(spk.keyId, 3)), leaf('value', spk.keyPair.pubKey.subarray(1)), leaf('signature', spk.signature)])])
            this.uploaded = true
        }
        return this
    }

    close() { this.c.close() }
    send(node) { this.c.send(node) }
    next(pred) { return this.c.next(pred) }

    async iq(attrs, content) {
        const id = `c${++this.n}`
        this.c.send({ tag: 'iq', attrs: { to: S, id, ...attrs }, content })
        const r = await this.c.next(n => n.tag === 'iq' && n.attrs.id === id)
        if (r.attrs.type !== 'result') throw Object.assign(new Error(`iq ${attrs.xmlns}: ${JSON.stringify(r)}`), { node: r })
        return r
    }

    // The next <message> from the server (optionally with id).
    nextMessage(id) { return this.c.next(n => n.tag === 'message' && (id === undefined || n.attrs.id === id)) }

    // Decrypts every <enc> of an incoming message; -> [{ type, message }].
    async open(stanza) {
        const a = stanza.attrs
        const author = a.participant ?? a.from
        // Sessions are kept under the phone number (the alternates name it);
        // sender keys under the author as the group addresses it.
        const pn = author.endsWith('@lid') ? (a.participant_pn ?? a.sender_pn ?? author) : author
        const addr = signalAddress(pn), skAddr = signalAddress(author)
        const out = []
        for (const e of kids(stanza).filter(k => k.tag === 'enc')) {
            if (e.attrs.type === 'skmsg') {
                const plain = await this.party.groupDecrypt(a.from, skAddr, e.content)
                out.push({ type: 'skmsg', message: P.Message.decode(unpad(plain)) })
                continue
            }
            const m = P.Message.decode(unpad(await this.party.decrypt(addr, e.attrs.type, e.content)))
            if (m.senderKeyDistributionMessage) await this.party.processSenderKeyDistribution(m.senderKeyDistributionMessage.groupId, skAddr, m.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage)
            out.push({ type: e.attrs.type, message: m })
        }
        return out
    }

    receipt(stanza, type) {
        const a = { id: stanza.attrs.id, to: stanza.attrs.from }
        if (stanza.attrs.participant) a.participant = stanza.attrs.participant
        if (stanza.attrs.recipient) a.recipient = stanza.attrs.recipient
        if (type) a.type = type
        this.c.send({ tag: 'receipt', attrs: a })
    }

    retryReceipt(stanza, count, { keys = false } = {}) {
        const a = { id: stanza.attrs.id, to: stanza.attrs.from, type: 'retry' }
        if (stanza.attrs.participant) a.participant = stanza.attrs.participant
        const content = [leaf('retry', undefined, { count: String(count), id: stanza.attrs.id, t: stanza.attrs.t, v: '1' }),
            leaf('registration', be(this.party.registrationId, 4))]
        if (keys) {
            this.party.addPreKeys(1) // a fresh one-time pre-key, as clients make for a retry
            const b = this.party.bundle({ newest: true })
            content.push(leaf('keys', [leaf('type', Buffer.from([5])), leaf('identity', b.identity),
                leaf('key', [leaf('id', be(b.preKey.id, 3)), leaf('value', b.preKey.value)]),
                leaf('skey', [leaf('id', be(b.signedPreKey.id, 3)), leaf('value', b.signedPreKey.value), leaf('signature', b.signedPreKey.signature)]),
                leaf('device-identity', this.deviceIdentity)]))
        }
        this.c.send({ tag: 'receipt', attrs: a, content })
    }

    // usync devices of users (non-AD JIDs) -> device JIDs (hosted ones too).
    async devices(users, { lid = false } = {}) {
        const r = await this.iq({ xmlns: 'usync', type: 'get' }, [leaf('usync', [leaf('query', [leaf('devices', undefined, { version: '2' })]),
            leaf('list', users.map(u => leaf('user', undefined, { jid: u })))], { sid: `s${this.n}`, mode: 'query', last: 'true', index: '0', context: 'message' })])
        const out = []
        for (const u of kids(child(child(r, 'usync'), 'list'))) {
            const [user, server] = u.attrs.jid.split('@')
            for (const d of kids(child(child(u, 'devices'), 'device-list'))) {
                const id = Number(d.attrs.id)
                const srv = d.attrs.is_hosted === 'true' ? (server === 'lid' ? 'hosted.lid' : 'hosted') : server
                out.push(id ? `${user}:${id}@${srv}` : `${user}@${srv}`)
            }
        }
        return out
    }

    async startSessions(jids) {
        const need = jids.filter(j => !this.party.hasSession(signalAddress(j)))
        if (!need.length) return
        const r = await this.iq({ xmlns: 'encrypt', type: 'get' }, [leaf('key', need.map(j => leaf('user', undefined, { jid: j, reason: 'identity' })))])
        for (const u of kids(child(r, 'list'))) {
            const get = (n, tag) => Buffer.from(child(n, tag).content)
            const k = child(u, 'key'), s = child(u, 'skey')
            await this.party.startSession(signalAddress(u.attrs.jid), { registrationId: get(u, 'registration').readUInt32BE(0), identity: get(u, 'identity'),
                signedPreKey: { id: get(s, 'id').readUIntBE(0, 3), value: get(s, 'value'), signature: get(s, 'signature') },
                preKey: k ? { id: get(k, 'id').readUIntBE(0, 3), value: get(k, 'value') } : null })
        }
    }

    // A direct message as a companion sends it: to every device of the
    // contact and of our own account (not this one), our own wrapped in a
    // DeviceSentMessage.  `spoil` breaks one rule for refusal tests.
    async sendDM(to, message, { id = `3EB0${crypto.randomBytes(8).toString('hex').toUpperCase()}`, spoil = null, tctoken = null, cstoken = null, send = true } = {}) {
        const lidChat = to.endsWith('@lid')
        const own = lidChat ? `${this.lid}@lid` : `${this.user}@${S}`
        const theirs = await this.devices([to]), ours = (await this.devices([own])).filter(j => j !== (lidChat ? `${this.lid}:${this.device}@lid` : this.jid))
        let targets = [...theirs, ...ours]
        if (spoil === 'leave-out') targets = targets.slice(1)
        await this.startSessions(targets)
        const participants = []
        let anyPk = false
        for (const j of targets) {
            const mine = ours.includes(j)
            const m = mine && spoil !== 'no-dsm' ? { deviceSentMessage: { destinationJid: to, message } } : message
            const e = await this.party.encrypt(signalAddress(j), pad(P.Message.encode(P.Message.fromObject(m)).finish()))
            anyPk ||= e.type === 'pkmsg'
            participants.push(leaf('to', [leaf('enc', e.body, { v: '2', type: e.type })], { jid: j }))
        }
        const content = [leaf('participants', participants)]
        if (anyPk && spoil === 'bad-device-signature') {
            // The identity this device always sends, its device signature spoilt.
            const di = P.ADVSignedDeviceIdentity.decode(this.deviceIdentity)
            di.deviceSignature = Buffer.from(di.deviceSignature)
            di.deviceSignature[5] ^= 1
            content.push(leaf('device-identity', Buffer.from(P.ADVSignedDeviceIdentity.encode(di).finish())))
        } else if (anyPk && spoil !== 'no-device-identity') content.push(leaf('device-identity', this.deviceIdentity))
        if (tctoken) content.push(leaf('tctoken', tctoken))
        if (cstoken) content.push(leaf('cstoken', cstoken))
        const stanza = { tag: 'message', attrs: { id, to, type: 'text' }, content }
        if (send) this.c.send(stanza)
        return { id, targets, stanza }
    }

    // A peer message to our own phone, as the clients send one: to our user
    // (phone-number form), category="peer", one bare <enc> for device 0.
    // `spoil`: 'tctoken' adds a token, 'lid' addresses our LID instead.
    async sendPeer(message, { id = `3EB0${crypto.randomBytes(8).toString('hex').toUpperCase()}`, spoil = null } = {}) {
        const phone = `${this.user}@${S}`
        await this.startSessions([phone])
        const e = await this.party.encrypt(signalAddress(phone), pad(P.Message.encode(P.Message.fromObject(message)).finish()))
        const content = [leaf('enc', e.body, { v: '2', type: e.type })]
        if (e.type === 'pkmsg') content.push(leaf('device-identity', this.deviceIdentity))
        content.push(leaf('meta', undefined, { appdata: 'default' }))
        if (spoil === 'tctoken') content.push(leaf('tctoken', Buffer.from('token')))
        const to = spoil === 'lid' ? `${this.lid}@lid` : phone
        this.c.send({ tag: 'message', attrs: { id, to, type: 'text', category: 'peer', push_priority: 'high_force' }, content })
        return { id, enc: e.type }
    }

    // A group message: SKDM to every device lacking our sender key, then one skmsg.
    // renew: a new sender key first (as after a member left), sent to every member.
    async sendGroup(group, message, { id = `3EB0${crypto.randomBytes(8).toString('hex').toUpperCase()}`, spoil = null, renew = false } = {}) {
        const info = await this.iq({ xmlns: 'w:g2', type: 'get', to: group }, [leaf('query', undefined, { request: 'interactive' })])
        const g = child(info, 'group')
        const mode = g.attrs.addressing_mode
        const users = kids(g).filter(p => p.tag === 'participant').map(p => p.attrs.jid)
        const all = (await this.devices(users)).filter(j => !j.includes('@hosted'))
        const self = mode === 'lid' ? `${this.lid}:${this.device}@lid` : this.jid
        const others = all.filter(j => j !== self)
        const senderAddr = signalAddress(self)
        this.skHolders ??= new Map()
        if (renew) {
            this.party.forgetSenderKey(group, senderAddr)
            this.skHolders.delete(group)
        }
        const had = this.skHolders.get(group) ?? new Set()
        const need = others.filter(j => !had.has(j))
        await this.startSessions(need)
        const skdm = await this.party.senderKeyDistribution(group, senderAddr)
        const participants = []
        let anyPk = false
        for (const j of need) {
            const e = await this.party.encrypt(signalAddress(j), pad(P.Message.encode({ senderKeyDistributionMessage: { groupId: group, axolotlSenderKeyDistributionMessage: skdm } }).finish()))
            anyPk ||= e.type === 'pkmsg'
            participants.push(leaf('to', [leaf('enc', e.body, { v: '2', type: e.type })], { jid: j }))
            had.add(j)
        }
        this.skHolders.set(group, had)
        const sk = await this.party.groupEncrypt(group, senderAddr, pad(P.Message.encode(P.Message.fromObject(message)).finish()))
        const content = []
        if (participants.length) content.push(leaf('participants', participants))
        content.push(leaf('enc', sk, { v: '2', type: 'skmsg' }))
        if (anyPk) content.push(leaf('device-identity', this.deviceIdentity))
        const hash = spoil === 'phash' ? '2:AAAAAA' : phash(others)
        this.c.send({ tag: 'message', attrs: { id, to: group, type: 'text', phash: hash, addressing_mode: mode }, content })
        return { id, devices: others, phash: hash }
    }
}
