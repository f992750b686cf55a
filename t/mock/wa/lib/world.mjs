// The server's world: contacts (each device a Signal party), groups, our own
// phone as a Signal party, the bundles companions uploaded, and the answers
// WhatsApp's server gives about them (usync, pre-key bundles, group info).
// No sockets here; server.mjs wires it to connections.
import crypto from 'node:crypto'
import * as B from 'baileys'
import { SignalParty } from './signal-party.mjs'
import { ACCOUNT_PREFIX, DEVICE_PREFIX } from './phone.mjs'

const P = B.proto
export const PN = 's.whatsapp.net'
export const LID = 'lid'

export class WorldError extends Error {}

const leaf = (tag, content, attrs = {}) => ({ tag, attrs, content })
const be = (n, w) => { const b = Buffer.alloc(w); b.writeUIntBE(n, 0, w); return b }

// "1555:3@s.whatsapp.net" -> { user, device, server }; null when not a user JID.
export function parseJid(jid) {
    const m = /^(\d+)(?:\.(\d+))?(?::(\d+))?@(s\.whatsapp\.net|lid|hosted|hosted\.lid|g\.us)$/.exec(String(jid ?? ''))
    if (!m) return null
    return { user: m[1], agent: Number(m[2] ?? 0), device: Number(m[3] ?? 0), server: m[4], ad: m[3] !== undefined }
}

export const deviceJid = (user, device, server) => device ? `${user}:${device}@${server}` : `${user}@${server}`

// whatsmeow's ADString: "user.agent:device@server", the unit of phash.
const adString = (user, device, server) => `${user}.0:${device}@${server}`

// waweb.md 1.15: "2:" + unpadded base64 of the first 6 bytes of the SHA-256
// of the sorted AD strings (8 characters, whatsmeow's form).
export function participantHash(devices) {
    const all = devices.map(d => adString(d.user, d.device, d.server)).sort()
    return '2:' + crypto.createHash('sha256').update(all.join('')).digest().subarray(0, 6).toString('base64')
}

// Whether a client's phash names the same device set: the full form, or
// Baileys' shorter one (the first 6 characters of the base64 of the whole
// digest, which are the full form's first 6), as clients of both kinds
// work against the real server.
export function samePhash(theirs, ours) {
    if (typeof theirs !== 'string' || !theirs.startsWith('2:')) return false
    return theirs === ours || (theirs.length === 8 && ours.startsWith(theirs))
}

const phoneOk = p => /^[1-9]\d{6,14}$/.test(p)

export class World {
    constructor(mock) {
        this.mock = mock
        this.contacts = new Map() // phone -> contact
        this.byLid = new Map() // lid -> phone (contacts and our accounts)
        this.groups = new Map() // jid -> group
        this.phones = new Map() // our phone number -> its device 0 (a SignalParty)
        this.bundles = new Map() // "phone:device" -> what the companion uploaded
        this.nextGroup = 1
    }

    // --- contacts -------------------------------------------------------
    addContact({ phone, lid, devices = [0], hosted = [], name = null, requires_token = false }) {
        phone = String(phone ?? '')
        if (!phoneOk(phone)) throw new WorldError(`phone ${phone}: digits only, no +`)
        if (lid !== undefined && !/^\d{6,20}$/.test(String(lid).replace(/@lid$/, ''))) throw new WorldError('lid: digits (with or without @lid)')
        if (this.mock.accounts.has(phone)) throw new WorldError(`${phone} is one of our accounts`)
        const ids = [...new Set([...devices, ...hosted].map(Number))]
        if (!ids.length || ids.some(d => !Number.isInteger(d) || d < 0 || d > 255) || !ids.includes(0))
            throw new WorldError('devices: ids 0..255, device 0 (the phone) included')
        const prev = this.contacts.get(phone)
        const c = prev ?? { phone, lid: lid ? String(lid).replace(/@lid$/, '') : this.mock.lidFor(phone), devices: new Map(),
            account: B.Curve.generateKeyPair(), keyIndex: 0, token: null, devicesTs: this.mock.nowSeconds() }
        c.name = name
        c.requiresToken = !!requires_token
        this.contacts.set(phone, c)
        this.byLid.set(c.lid, phone)
        this.setDevices(c, ids, hosted.map(Number))
        return c
    }

    setDevices(c, ids, hosted = []) {
        for (const id of [...c.devices.keys()]) if (!ids.includes(id)) c.devices.delete(id)
        for (const id of ids) {
            if (c.devices.has(id)) { c.devices.get(id).hosted = hosted.includes(id); continue }
            const party = new SignalParty()
            const d = { id, hosted: hosted.includes(id), party, keyIndex: id === 0 ? 0 : ++c.keyIndex }
            if (id !== 0) d.identity = this.signDevice(c.account, party, d.keyIndex)
            c.devices.set(id, d)
        }
        c.devicesTs = this.mock.nowSeconds()
    }

    // The ADVSignedDeviceIdentity a companion device of a contact carries in
    // its pkmsgs (with the account key, as senders include it).
    signDevice(account, party, keyIndex) {
        const identity = party.identityPublic
        const details = Buffer.from(P.ADVDeviceIdentity.encode({ rawId: crypto.randomInt(1, 2 ** 31), timestamp: this.mock.nowSeconds(), keyIndex }).finish())
        const accountSignature = Buffer.from(B.Curve.sign(account.private, Buffer.concat([ACCOUNT_PREFIX, details, identity])))
        const deviceSignature = Buffer.from(B.Curve.sign(party.identity.privKey, Buffer.concat([DEVICE_PREFIX, details, identity, account.public])))
        return Buffer.from(P.ADVSignedDeviceIdentity.encode({ details, accountSignatureKey: account.public, accountSignature, deviceSignature }).finish())
    }

    contact(phoneOrJid) {
        const j = parseJid(phoneOrJid)
        const phone = j ? (j.server === LID || j.server === 'hosted.lid' ? this.byLid.get(j.user) : j.user) : String(phoneOrJid)
        return this.contacts.get(phone) ?? null
    }

    requireContact(x) {
        const c = this.contact(x)
        if (!c) throw new WorldError(`no contact ${x}`)
        return c
    }

    // --- our own account ------------------------------------------------
    ownPhone(phone) {
        if (!this.phones.has(phone)) {
            this.phones.set(phone, new SignalParty())
            this.byLid.set(this.mock.lidFor(phone), phone)
        }
        return this.phones.get(phone)
    }

    isOurs(user) { return this.mock.accounts.has(user) || [...this.bundles.keys()].some(k => k.startsWith(`${user}:`)) || this.phones.has(user) }

    // Our user's devices: the phone (0) and every companion that paired or
    // uploaded pre-keys.
    ownDevices(phone) {
        const ids = new Set([0])
        for (const k of [...this.bundles.keys(), ...this.mock.devices.keys()]) {
            const [u, d] = k.split(':')
            if (u === phone) ids.add(Number(d))
        }
        return [...ids].sort((a, b) => a - b)
    }

    storeUpload(key, up) {
        const prev = this.bundles.get(key)
        const keys = prev && prev.identity.equals(up.identity) ? prev.keys : new Map()
        for (const k of up.keys) keys.set(k.id, k.value)
        this.bundles.set(key, { registrationId: up.registrationId, identity: up.identity, signedPreKey: up.signedPreKey, keys })
    }

    // The bundle of one of our companions, for a contact to start a session;
    // hands out (removes) one one-time pre-key, as the server does.
    takeCompanionBundle(key) {
        const b = this.bundles.get(key)
        if (!b) return null
        const first = b.keys.entries().next().value
        if (first) b.keys.delete(first[0])
        return { registrationId: b.registrationId, identity: b.identity, signedPreKey: b.signedPreKey,
            preKey: first ? { id: first[0], value: first[1] } : null }
    }

    // --- groups ---------------------------------------------------------
    addGroup({ jid, subject, addressing_mode = 'pn', participants = [] }) {
        if (jid !== undefined && !/^\d+(-\d+)?@g\.us$/.test(String(jid))) throw new WorldError('jid: <digits>@g.us')
        if (typeof subject !== 'string' || !subject) throw new WorldError('subject: a non-empty string')
        if (!['lid', 'pn'].includes(addressing_mode)) throw new WorldError('addressing_mode: lid or pn')
        if (!Array.isArray(participants)) throw new WorldError('participants: a list of phone numbers')
        for (const p of participants) this.requireContact(String(p))
        jid = jid ?? `1203630${String(this.mock.nowSeconds()).slice(-6)}${String(this.nextGroup++).padStart(5, '0')}@g.us`
        const g = { jid, subject, addressingMode: addressing_mode, participants: participants.map(String), creation: this.mock.nowSeconds() }
        this.groups.set(jid, g)
        return g
    }

    group(jid) { return this.groups.get(jid) ?? null }

    requireGroup(jid) {
        const g = this.group(String(jid ?? ''))
        if (!g) throw new WorldError(`no group ${jid}`)
        return g
    }

    renameGroup(jid, subject) {
        const g = this.requireGroup(jid)
        if (typeof subject !== 'string' || !subject || Buffer.byteLength(subject) > 1024) throw new WorldError('subject: 1..1024 bytes')
        g.subject = subject
        g.subjectTs = this.mock.nowSeconds()
        return g
    }

    // Members in and out; -> { added, removed } (phones actually changed).
    // A removed member keeps what its devices had (our old sender key
    // among it): `former` remembers them, so that the message path can
    // check that they cannot read what we send after they left.
    changeParticipants(jid, { add = [], remove = [] }) {
        const g = this.requireGroup(jid)
        if (!Array.isArray(add) || !Array.isArray(remove)) throw new WorldError('add, remove: lists of phone numbers')
        for (const p of [...add, ...remove]) this.requireContact(String(p))
        const added = add.map(String).filter(p => !g.participants.includes(p))
        const removed = remove.map(String).filter(p => g.participants.includes(p))
        if (!added.length && !removed.length) throw new WorldError('nothing changes: add non-members, remove members')
        g.participants = [...g.participants.filter(p => !removed.includes(p)), ...added]
        g.former ??= new Set()
        for (const p of removed) g.former.add(p)
        for (const p of added) g.former.delete(p)
        return { added, removed }
    }

    // A reinstall: every device of the contact gets a new identity key, a
    // new registration and fresh pre-keys; its sessions and sender keys are
    // gone.  The device list stays as it was.
    newIdentity(phone) {
        const c = this.requireContact(String(phone ?? ''))
        for (const d of c.devices.values()) {
            d.party = new SignalParty()
            if (d.id !== 0) d.identity = this.signDevice(c.account, d.party, d.keyIndex)
        }
        for (const g of this.groups.values())
            for (const holders of g.companionSkHolders?.values() ?? [])
                for (const k of [...holders]) if (k.startsWith(`${c.phone}:`)) holders.delete(k)
        return c
    }

    // The <participant> of a w:gp2 change, in the group's addressing mode.
    changeParticipant(g, phone) {
        const c = this.contacts.get(phone)
        return g.addressingMode === 'lid'
            ? leaf('participant', undefined, { jid: `${c.lid}@lid`, phone_number: `${c.phone}@${PN}` })
            : leaf('participant', undefined, { jid: `${c.phone}@${PN}`, lid: `${c.lid}@lid` })
    }

    // Every device a message to `chat` fans out to, as { user, device, server, owner }:
    // owner 'contact' (with `contact`), 'phone' (our phone) or 'companion'.
    // Hosted devices are left out of groups (waweb.md 1.15).
    fanout(chat, ourPhone, { ownOnly = false, lidMode: lidOwn = false } = {}) {
        const out = []
        const g = ownOnly ? null : this.group(chat)
        const lidMode = ownOnly ? lidOwn : g ? g.addressingMode === 'lid' : parseJid(chat)?.server === LID
        const contacts = ownOnly ? [] : g ? g.participants.map(p => this.contacts.get(p)) : [this.requireContact(chat)]
        for (const c of contacts) for (const d of c.devices.values()) {
            if (g && d.hosted) continue
            const server = d.hosted ? (lidMode ? 'hosted.lid' : 'hosted') : (lidMode ? LID : PN)
            out.push({ user: lidMode ? c.lid : c.phone, device: d.id, server, owner: 'contact', contact: c, dev: d })
        }
        const ourLid = this.mock.lidFor(ourPhone)
        for (const id of this.ownDevices(ourPhone))
            out.push({ user: lidMode ? ourLid : ourPhone, device: id, server: lidMode ? LID : PN, owner: id === 0 ? 'phone' : 'companion' })
        return out
    }

    // --- what the server answers ----------------------------------------
    keyIndexList(c) {
        const details = Buffer.from(P.ADVKeyIndexList.encode({ rawId: 1, timestamp: c.devicesTs, currentIndex: c.keyIndex,
            validIndexes: [...c.devices.values()].filter(d => d.id !== 0).map(d => d.keyIndex) }).finish())
        const accountSignature = Buffer.from(B.Curve.sign(c.account.private, Buffer.concat([Buffer.from([6, 2]), details])))
        return leaf('key-index-list', Buffer.from(P.ADVSignedKeyIndexList.encode({ details, accountSignature }).finish()), { ts: String(c.devicesTs) })
    }

    // One <user> of a usync answer for the queried `jid`, with the protocols
    // asked for (`want`: devices, lid, contact).
    usyncUser(jid, want, ourPhone) {
        const j = parseJid(jid)
        const kids = []
        const c = j && this.contact(jid)
        const ours = j && !c && (j.user === ourPhone || j.user === this.mock.lidFor(ourPhone))
        if (!c && !ours) {
            if (want.has('contact')) kids.push(leaf('contact', undefined, { type: 'out' }))
            if (want.has('devices')) kids.push(leaf('devices', [leaf('device-list', [])]))
            return { tag: 'user', attrs: { jid }, content: kids }
        }
        if (want.has('devices')) {
            if (c) kids.push(leaf('devices', [leaf('device-list', [...c.devices.values()].sort((a, b) => a.id - b.id).map(d =>
                leaf('device', undefined, { id: String(d.id), ...(d.id ? { 'key-index': String(d.keyIndex) } : {}), ...(d.hosted ? { is_hosted: 'true' } : {}) }))),
            this.keyIndexList(c)]))
            else kids.push(leaf('devices', [leaf('device-list', this.ownDevices(ourPhone).map(id => leaf('device', undefined, { id: String(id), ...(id ? { 'key-index': String(id) } : {}) })))]))
        }
        if (want.has('lid')) kids.push(leaf('lid', undefined, { val: `${c ? c.lid : this.mock.lidFor(ourPhone)}@lid` }))
        if (want.has('contact')) kids.push(leaf('contact', undefined, { type: 'in' }))
        return { tag: 'user', attrs: { jid }, content: kids }
    }

    // <user jid> of a pre-key fetch answer for a device JID; null: no such device.
    bundleUser(jid, ourPhone) {
        const j = parseJid(jid)
        if (!j || j.server === 'g.us') return null
        let b = null
        const c = this.contact(jid)
        if (c) {
            const d = c.devices.get(j.device)
            if (!d) return null
            b = d.party.bundle()
        } else if (j.user === ourPhone || j.user === this.mock.lidFor(ourPhone)) {
            b = j.device === 0 ? this.ownPhone(ourPhone).bundle() : this.takeCompanionBundle(`${ourPhone}:${j.device}`)
        }
        if (!b) return null
        const kids = [leaf('registration', be(b.registrationId, 4)), leaf('type', Buffer.from([5])), leaf('identity', b.identity)]
        if (b.preKey) kids.push(leaf('key', [leaf('id', be(b.preKey.id, 3)), leaf('value', b.preKey.value)]))
        kids.push(leaf('skey', [leaf('id', be(b.signedPreKey.id, 3)), leaf('value', b.signedPreKey.value), leaf('signature', b.signedPreKey.signature)]))
        return { tag: 'user', attrs: { jid }, content: kids }
    }

    groupInfo(g, ourPhone) {
        const lidMode = g.addressingMode === 'lid'
        const parts = g.participants.map(p => this.contacts.get(p)).map(c => lidMode
            ? leaf('participant', undefined, { jid: `${c.lid}@lid`, phone_number: `${c.phone}@${PN}` })
            : leaf('participant', undefined, { jid: `${c.phone}@${PN}`, lid: `${c.lid}@lid` }))
        const me = lidMode ? { jid: `${this.mock.lidFor(ourPhone)}@lid`, phone_number: `${ourPhone}@${PN}` } : { jid: `${ourPhone}@${PN}`, lid: `${this.mock.lidFor(ourPhone)}@lid` }
        parts.push(leaf('participant', undefined, { ...me, type: 'admin' }))
        return leaf('group', parts, { id: g.jid.split('@')[0], subject: g.subject, s_t: String(g.creation), creation: String(g.creation),
            creator: me.jid, addressing_mode: g.addressingMode, size: String(parts.length) })
    }
}
