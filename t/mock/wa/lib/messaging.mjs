// Messages both ways between the world and our companions, as WhatsApp's
// server and the senders' devices do it (waweb.md 1.14-1.17, waweb-2026.md 3):
// contacts and our phone encrypt to every companion of ours; what a companion
// sends is decrypted by each device the server plays, checked, recorded and
// acked.  Strict: what the real server refuses gets an error ack and a
// `refused` event naming why.
import crypto from 'node:crypto'
import * as B from 'baileys'
import { signalAddress, pad, unpad } from './signal-party.mjs'
import { parseJid, deviceJid, participantHash, samePhash, PN, LID, WorldError } from './world.mjs'
import { curveVerify } from './curve.mjs'
import { innerMedia } from './media.mjs'
import { ACCOUNT_PREFIX, DEVICE_PREFIX } from './phone.mjs'

const P = B.proto
const SERVER_JID = 's.whatsapp.net'
const leaf = (tag, content, attrs = {}) => ({ tag, attrs, content })
const kids = n => Array.isArray(n?.content) ? n.content : []
const child = (n, tag) => kids(n).find(c => c.tag === tag)
const bytesOf = n => n && (n.content instanceof Uint8Array || typeof n.content === 'string') ? Buffer.from(n.content) : null

export const messageJson = m => P.Message.toObject(m, { longs: Number, enums: String, bytes: String, defaults: false })

// The stanza type WhatsApp gives a message: media kinds are "media",
// reactions "reaction", edits/revokes keep "text" as senders do.
function stanzaType(m) {
    if (m.reactionMessage) return 'reaction'
    m = innerMedia(m) // view-once and captioned documents are media inside a wrapper
    if (m.imageMessage || m.videoMessage || m.audioMessage || m.documentMessage || m.stickerMessage) return 'media'
    return 'text'
}

function mediaType(m) {
    m = innerMedia(m)
    if (m.imageMessage) return 'image'
    if (m.videoMessage) return m.videoMessage.gifPlayback ? 'gif' : 'video'
    if (m.audioMessage) return m.audioMessage.ptt ? 'ptt' : 'audio'
    if (m.documentMessage) return 'document'
    if (m.stickerMessage) return 'sticker'
    if (m.locationMessage) return 'location'
    if (m.contactMessage) return 'vcard'
    return null
}

// The stanza types senders give a <message> (whatsmeow getTypeFromMessage).
const MESSAGE_TYPES = new Set(['text', 'media', 'reaction', 'poll', 'event', 'protocol', 'pin'])

// How many retry receipts a device sends for one message before it gives
// up on it: 5 (whatsmeow's receiving side stops one earlier, sending counts
// 1 to 4; a sender must cope with either).
const MAX_RETRY_RECEIPTS = 5

// A Signal decryption failure (no session, bad MAC, a used counter, no
// sender key): the receiving device asks for the message again.
class Undecryptable extends Error {}

const randomId = () => '3EB0' + crypto.randomBytes(8).toString('hex').toUpperCase()

// The bundle in a retry receipt's <keys> (with its <registration>), checked
// for sizes; -> the bundle, or a string saying what is wrong.
function readKeys(receipt, keys) {
    const get = (n, tag, len) => {
        const b = bytesOf(child(n, tag))
        return b && (len === undefined || b.length === len) ? b : null
    }
    const reg = get(receipt, 'registration', 4), identity = get(keys, 'identity', 32), type = get(keys, 'type', 1)
    const k = child(keys, 'key'), s = child(keys, 'skey')
    if (!reg || !identity || !type || type[0] !== 5 || !s) return '<keys> without registration, type 5, identity or skey'
    const sid = get(s, 'id', 3), sval = get(s, 'value', 32), sig = get(s, 'signature', 64)
    if (!sid || !sval || !sig) return '<skey> is not id(3) value(32) signature(64)'
    let preKey = null
    if (k) {
        const kid = get(k, 'id', 3), kval = get(k, 'value', 32)
        if (!kid || !kval) return '<key> is not id(3) value(32)'
        preKey = { id: kid.readUIntBE(0, 3), value: kval }
    }
    return { registrationId: reg.readUInt32BE(0), identity, signedPreKey: { id: sid.readUIntBE(0, 3), value: sval, signature: sig }, preKey }
}


// The key a retry receipt waits under in a companion's queue (with the
// messages, by id): settled by the companion's ack of it, which names the
// message and the asking device (to, or participant in groups).
export const retryReceiptKey = (id, deviceJid) => `retry|${id}|${deviceJid}`

export class Messaging {
    constructor(mock) {
        this.mock = mock
        this.world = mock.world
        this.sent = new Map() // message id -> what a world sender sent (for retries)
        this.outgoing = new Map() // message id -> what our companion sent, who got it (for POST retry)
        this.pending = new Map() // "phone:device" -> Map(id -> stanza) not yet receipted by that companion
        this.unackedRetries = new Map() // "phone:device|retry|…" -> retry receipts sent on this login, not yet acked
        this.ackPolicy = [] // { who: contact phone | group jid | null (all), error, once }
        this.seen = new Map() // "device jid|id" -> deliveries (exactly-once record)
        this.verifiedIdentities = new Set() // <device-identity> bytes that verified (see checkDeviceIdentity)
    }

    get emit() { return ev => this.mock.emit(ev) }

    // ---------------------------------------------------------------------
    // Server -> client
    // ---------------------------------------------------------------------

    // The companions a message of `ourPhone`'s account goes to: every one
    // that uploaded pre-keys (the server cannot reach one that did not).
    companions(ourPhone) {
        return [...this.world.bundles.keys()].filter(k => k.startsWith(`${ourPhone}:`)).map(k => Number(k.split(':')[1]))
    }

    ourPhoneOf(body) {
        if (body.conn !== undefined) return this.mock.target(body).client.username
        const live = [...this.mock.connections.values()].filter(c => c.state === 'open' && c.client?.kind === 'login')
        if (live.length) return live.at(-1).client.username
        const any = [...this.world.bundles.keys()].at(-1)
        if (!any) throw new WorldError('no companion of ours uploaded pre-keys yet')
        return any.split(':')[0]
    }

    // POST message / peer-message: one logical message, one stanza per companion.
    // `self`: our phone's protocol message to its own account (history sync
    // notifications, app state keys): category="peer", no recipient, not
    // wrapped in a DeviceSentMessage.
    async fromWorld(body, { peer = false, self = false } = {}) {
        const ourPhone = this.ourPhoneOf(body)
        let message, media = null
        // media: the sender's bytes, encrypted and uploaded here (lib/media.mjs), their
        // message part added to what `message` says (a reply's contextInfo, say).
        // Nothing is uploaded for a message that has no companion to go to.
        if (body.media !== undefined && !this.companions(ourPhone).length) throw new WorldError(`no companion of ${ourPhone} uploaded pre-keys`)
        if (body.media !== undefined) media = this.mock.media.senderMedia(body.media)
        try { message = P.Message.fromObject({ ...(body.message ?? {}), ...(media?.part ?? {}) }) } catch (e) { throw new WorldError(`message: ${e.message}`) }
        if (!Object.keys(messageJson(message)).length) throw new WorldError('message: an empty Message')
        const id = String(body.id ?? randomId())
        const t = Number(body.t ?? this.mock.nowSeconds())
        const garbage = body.garbage ?? false
        if (![false, 'once', 'always'].includes(garbage)) throw new WorldError('garbage: false, "once" or "always"')
        let sender, group = null
        if (peer && self) {
            sender = { kind: 'phone', party: this.world.ownPhone(ourPhone), phone: ourPhone, device: 0, lid: this.mock.lidFor(ourPhone), self: true }
        } else if (peer) {
            const chat = String(body.chat ?? '')
            group = this.world.group(chat)
            const to = group ? null : this.world.requireContact(chat)
            sender = { kind: 'phone', party: this.world.ownPhone(ourPhone), phone: ourPhone, device: 0, lid: this.mock.lidFor(ourPhone) }
            if (!group) {
                const lidChat = parseJid(chat)?.server === LID
                sender.destination = lidChat ? `${to.lid}@lid` : `${to.phone}@${PN}`
                sender.recipientAlt = lidChat ? `${to.phone}@${PN}` : `${to.lid}@lid`
            }
        } else {
            const c = this.world.requireContact(String(body.from ?? ''))
            const device = Number(body.device ?? 0)
            const d = c.devices.get(device)
            if (!d) throw new WorldError(`${c.phone} has no device ${device}`)
            sender = { kind: 'contact', contact: c, dev: d, party: d.party, phone: c.phone, device, lid: c.lid }
            if (body.chat !== undefined) {
                group = this.world.group(String(body.chat))
                if (!group) throw new WorldError(`no group ${body.chat}`)
                if (!group.participants.includes(c.phone)) throw new WorldError(`${c.phone} is not in ${group.jid}`)
            }
        }
        const addressing = body.addressing ?? (group ? group.addressingMode : 'pn')
        if (!['pn', 'lid'].includes(addressing)) throw new WorldError('addressing: pn or lid')
        const rec = { id, t, message, sender, group, addressing, garbage, peer, ourPhone, pushName: body.push_name ?? sender.contact?.name ?? null,
            attempts: new Map() }
        this.sent.set(id, rec)
        const targets = this.companions(ourPhone)
        if (!targets.length) throw new WorldError(`no companion of ${ourPhone} uploaded pre-keys`)
        for (const dev of targets) await this.sendTo(rec, dev, {})
        return { id, to: targets.map(d => `${ourPhone}:${d}@${PN}`), ...(media ? { media: media.info } : {}) }
    }

    senderAddress(rec, dev) {
        return { name: rec.ourPhone, device: dev } // the sender's session with our companion
    }

    // The sender's own address as our companion sees it (for sender keys).
    senderJid(rec) {
        const s = rec.sender
        return rec.addressing === 'lid' ? deviceJid(s.lid, s.device, LID) : deviceJid(s.phone, s.device, PN)
    }

    attrs(rec) {
        const s = rec.sender
        const a = { id: rec.id, t: String(rec.t), type: stanzaType(rec.message) }
        // Edits and revokes carry the sender's edit attribute through.
        const pm = rec.message.protocolMessage
        if (pm?.type === P.Message.ProtocolMessage.Type.MESSAGE_EDIT) a.edit = '1'
        else if (pm && pm.type === P.Message.ProtocolMessage.Type.REVOKE && pm.key) a.edit = rec.group && rec.sender.kind === 'contact' && pm.key.participant && !pm.key.participant.startsWith(rec.sender.phone) ? '8' : '7'
        if (rec.pushName && !rec.peer) a.notify = rec.pushName
        const pn = deviceJid(s.phone, s.device, PN), lid = deviceJid(s.lid, s.device, LID)
        if (rec.group) {
            a.from = rec.group.jid
            a.participant = rec.addressing === 'lid' ? lid : pn
            a.addressing_mode = rec.addressing
            if (rec.addressing === 'lid') a.participant_pn = pn; else a.participant_lid = lid
        } else if (rec.peer && s.self) {
            a.from = `${s.phone}@${PN}`
            a.category = 'peer'
            if (rec.message.protocolMessage) a.type = 'protocol'
        } else if (rec.peer) {
            a.from = rec.addressing === 'lid' ? `${s.lid}@lid` : `${s.phone}@${PN}`
            a.recipient = s.destination
            if (s.recipientAlt.endsWith('@lid')) a.peer_recipient_lid = s.recipientAlt; else a.peer_recipient_pn = s.recipientAlt
        } else {
            // DMs carry the other address of the sender, not addressing_mode.
            a.from = rec.addressing === 'lid' ? lid : pn
            if (rec.addressing === 'lid') a.sender_pn = pn; else a.sender_lid = lid
        }
        return a
    }

    corrupt(body) {
        const b = Buffer.from(body)
        b[b.length - 2] ^= 0x5a // inside the MAC: decryption fails, the framing does not
        return b
    }

    // Encrypts rec for our companion `dev` and sends it (or keeps it for the
    // companion's next login).  `retry`: { count, keys } from a retry receipt.
    // `hold`: encrypt only, and return { key, dev, stanza, encs } for
    // deliverHeld (POST burst sends later what it encrypted first).
    async sendTo(rec, dev, { retry = null, hold = false }) {
        const key = `${rec.ourPhone}:${dev}`
        const party = rec.sender.party
        const addr = this.senderAddress(rec, dev)
        const attempt = (rec.attempts.get(dev) ?? 0) + 1
        rec.attempts.set(dev, attempt)
        if (retry?.bundle) await party.startSession(addr, retry.bundle)
        if (!party.hasSession(addr)) {
            const b = this.world.takeCompanionBundle(key)
            if (!b) throw new WorldError(`no bundle for ${key}`)
            await party.startSession(addr, b)
        }
        const garble = rec.garbage === 'always' || (rec.garbage === 'once' && attempt === 1)
        const encs = []
        const encAttrs = type => {
            const e = { v: '2', type }
            const mt = mediaType(rec.message)
            if (mt) e.mediatype = mt
            if (retry) e.count = String(retry.count)
            return e
        }
        if (rec.group && !retry) {
            const sk = this.senderJid(rec)
            const skAddr = signalAddress(sk)
            if (!rec.group.skHolders) rec.group.skHolders = new Map()
            const holders = rec.group.skHolders.get(sk) ?? new Set()
            rec.group.skHolders.set(sk, holders)
            if (!holders.has(key)) {
                const skdm = await party.senderKeyDistribution(rec.group.jid, skAddr)
                const m = P.Message.encode({ senderKeyDistributionMessage: { groupId: rec.group.jid, axolotlSenderKeyDistributionMessage: skdm } }).finish()
                const e = await party.encrypt(addr, pad(m))
                // whatsmeow gives the SKDM's enc the message's attributes too (mediatype).
                encs.push(leaf('enc', garble ? this.corrupt(e.body) : e.body, encAttrs(e.type)))
                holders.add(key)
            }
            rec.skmsg ??= await party.groupEncrypt(rec.group.jid, skAddr, pad(P.Message.encode(rec.message).finish()))
            encs.push(leaf('enc', garble ? this.corrupt(rec.skmsg) : rec.skmsg, encAttrs('skmsg')))
        } else {
            const inner = rec.peer && !rec.group && !rec.sender.self
                ? P.Message.encode({ deviceSentMessage: { destinationJid: rec.sender.destination, message: rec.message } }).finish()
                : P.Message.encode(rec.message).finish()
            const e = await party.encrypt(addr, pad(inner))
            encs.push(leaf('enc', garble ? this.corrupt(e.body) : e.body, encAttrs(e.type)))
        }
        const a = this.attrs(rec)
        const content = [...encs]
        if (encs.some(e => e.attrs.type === 'pkmsg') && rec.sender.dev?.identity) content.push(leaf('device-identity', rec.sender.dev.identity))
        const stanza = { tag: 'message', attrs: a, content }
        const held = { rec, key, dev, stanza, encs: encs.map(e => e.attrs.type), garble, retry }
        if (hold) return held
        this.deliverHeld(held)
    }

    deliverHeld({ rec, key, dev, stanza, encs, garble, retry }) {
        this.emit({ type: 'message-sent', id: rec.id, to: `${rec.ourPhone}:${dev}@${PN}`, enc: encs, garbage: garble,
            retry: !!retry, count: retry?.count ?? 0 })
        this.deliverStanza(key, rec.id, stanza)
    }

    // POST burst {from:[phone,…], count, text?, id_prefix?, interval_ms?, addressing?, conn?}:
    // `count` text messages, message i from contact from[i % from.length]
    // (its device 0) saying "<text> <i>", with ids <id_prefix><i>.  All are
    // encrypted first (in order: one ratchet step each), then sent: at once
    // (as fast as the socket takes them), or one every interval_ms.  For the
    // benchmark (t/bench/messages.pl), where one HTTP request per message
    // would make the test's client the bottleneck.  -> {ids, encrypt_ms,
    // send_ms, sent_at: [Date.now() ms of each message's send]}; one
    // message-sent event per message and companion, at its send.
    async burst(body) {
        const from = body.from
        if (!Array.isArray(from) || !from.length) throw new WorldError('from: a non-empty list of contact phones')
        const count = Number(body.count)
        if (!Number.isInteger(count) || count < 1 || count > 1000000) throw new WorldError('count: 1..1000000')
        const interval = Number(body.interval_ms ?? 0)
        if (!(interval >= 0 && interval <= 60000)) throw new WorldError('interval_ms: 0..60000')
        const prefix = String(body.id_prefix ?? `3EB0${crypto.randomBytes(4).toString('hex').toUpperCase()}`)
        if (!/^[0-9A-Za-z]{1,32}$/.test(prefix)) throw new WorldError('id_prefix: up to 32 letters and digits')
        const text = String(body.text ?? 'burst message')
        const addressing = body.addressing ?? 'pn'
        if (!['pn', 'lid'].includes(addressing)) throw new WorldError('addressing: pn or lid')
        const contacts = from.map(p => this.world.requireContact(String(p)))
        const ourPhone = this.ourPhoneOf(body)
        const targets = this.companions(ourPhone)
        if (!targets.length) throw new WorldError(`no companion of ${ourPhone} uploaded pre-keys`)
        const t0 = performance.now()
        const held = []
        for (let i = 0; i < count; i++) {
            const c = contacts[i % contacts.length]
            const d = c.devices.get(0)
            const rec = { id: `${prefix}${i}`, t: this.mock.nowSeconds(), message: P.Message.fromObject({ conversation: `${text} ${i}` }),
                sender: { kind: 'contact', contact: c, dev: d, party: d.party, phone: c.phone, device: 0, lid: c.lid },
                group: null, addressing, garbage: false, peer: false, ourPhone, pushName: c.name ?? null, attempts: new Map() }
            this.sent.set(rec.id, rec)
            const perMessage = []
            for (const dev of targets) perMessage.push(await this.sendTo(rec, dev, { hold: true }))
            held.push(perMessage)
        }
        const t1 = performance.now()
        const sentAt = []
        const sendOne = i => {
            sentAt.push(Date.now())
            for (const h of held[i]) this.deliverHeld(h)
        }
        if (interval > 0) {
            // Paced against the start, not the previous send: a late timer
            // does not push every later message back.
            const start = Date.now()
            for (let i = 0; i < count; i++) {
                const wait = start + i * interval - Date.now()
                if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
                sendOne(i)
            }
        } else {
            for (let i = 0; i < count; i++) sendOne(i)
        }
        const t2 = performance.now()
        return { ids: held.map(h => h[0].rec.id), encrypt_ms: t1 - t0, send_ms: t2 - t1, sent_at: sentAt }
    }

    // To the live connection of that companion, and kept until it receipts
    // it: a companion that was away gets it after its next login.
    deliverStanza(key, id, stanza) {
        const p = this.pending.get(key) ?? new Map()
        p.set(id, stanza)
        this.pending.set(key, p)
        const c = this.mock.liveConnection(key)
        if (!c) return
        if (id.startsWith('retry|')) this.unackedRetries.set(`${key}|${id}`, (this.unackedRetries.get(`${key}|${id}`) ?? 0) + 1)
        c.send(stanza)
    }

    flushPending(conn) {
        const p = this.pending.get(conn.deviceKey())
        if (!p) return
        if (!p.size) return
        for (const [id, stanza] of p) {
            if (id.startsWith('retry|')) this.unackedRetries.set(`${conn.deviceKey()}|${id}`, 1) // only the latest goes again
            conn.send({ ...stanza, attrs: { ...stanza.attrs, offline: '1' } })
            this.emit({ type: 'message-redelivered', conn: conn.id, id })
        }
        // The end of the offline backlog, as the real server marks it.
        conn.send({ tag: 'ib', attrs: { from: SERVER_JID }, content: [leaf('offline', undefined, { count: String(p.size) })] })
    }

    settle(key, ids) {
        const p = this.pending.get(key)
        if (p) for (const id of ids) p.delete(id)
    }

    // The companion `key` acked a retry receipt (retryReceiptKey): the
    // receipts of one message and device share that key (the latest waits),
    // but each is acked on its own, and an ack names no count.  The key
    // settles only when every receipt sent on this login is acked: the ack
    // of receipt 1 arriving after receipt 2 went out must not settle 2.
    settleRetry(key, retryKey) {
        const k = `${key}|${retryKey}`
        const n = this.unackedRetries.get(k) ?? 0
        if (n > 1) return void this.unackedRetries.set(k, n - 1)
        this.unackedRetries.delete(k)
        this.settle(key, [retryKey])
    }

    // POST receipt: a contact's receipt for messages our account sent.
    receiptFromWorld(body) {
        const c = this.world.requireContact(String(body.from ?? ''))
        const ids = body.ids
        if (!Array.isArray(ids) || !ids.length || ids.some(i => typeof i !== 'string' || !i)) throw new WorldError('ids: a non-empty list of message ids')
        const type = body.type ?? 'delivery'
        if (!['read', 'delivery', 'played'].includes(type)) throw new WorldError('type: read, delivery or played')
        const device = Number(body.device ?? 0)
        if (!c.devices.has(device)) throw new WorldError(`${c.phone} has no device ${device}`)
        const addressing = body.addressing ?? 'pn'
        const who = addressing === 'lid' ? deviceJid(c.lid, device, LID) : deviceJid(c.phone, device, PN)
        const a = { id: ids[0], t: String(this.mock.nowSeconds()) }
        if (body.chat !== undefined) {
            const g = this.world.group(String(body.chat))
            if (!g) throw new WorldError(`no group ${body.chat}`)
            a.from = g.jid
            a.participant = who
        } else a.from = who
        if (type !== 'delivery') a.type = type
        const node = { tag: 'receipt', attrs: a }
        if (ids.length > 1) node.content = [leaf('list', ids.slice(1).map(id => leaf('item', undefined, { id })))]
        return node
    }

    // POST retry: a contact device could not decrypt our message `id`.
    retryFromWorld(body) {
        const c = this.world.requireContact(String(body.from ?? ''))
        const device = Number(body.device ?? 0)
        const d = c.devices.get(device)
        if (!d) throw new WorldError(`${c.phone} has no device ${device}`)
        const id = String(body.id ?? '')
        if (!id) throw new WorldError('id: a message id')
        const jid = deviceJid(c.phone, device, PN)
        let out = this.outgoing.get(id), count
        if (body.unknown) {
            // A receipt for an id our account never sent (a confused or
            // hostile device): nothing to look up, nothing to track.
            if (out) throw new WorldError(`${id} is a message of our account, not unknown`)
            out = { id, t: this.mock.nowSeconds(), group: null }
            count = 1
        } else {
            if (!out) throw new WorldError(`no message ${id} from our account (unknown: true asks for one anyway)`)
            if (!out.devices.includes(jid) && !out.devices.includes(deviceJid(c.lid, device, LID))) throw new WorldError(`${id} did not go to ${jid}`)
            count = this.nextRetryCount(out, `${c.phone}:${device}`)
        }
        // The device starts over: it forgets the session it had with our
        // companion, and its receipt carries a fresh bundle.
        if (body.fresh_session) d.party.sessions.clear()
        const node = this.retryReceiptNode(out, { party: d.party, identity: d.identity ?? null, jid, count, keys: !!body.fresh_session })
        return { node, count, key: retryReceiptKey(id, out.group ? node.attrs.participant : node.attrs.from) }
    }

    // The count of the next retry receipt the device `key` ("phone:device":
    // the resend may name the device by its LID) sends for `out`, recorded
    // with the device as waiting for a resend.
    nextRetryCount(out, key) {
        out.retries ??= new Map()
        const count = (out.retries.get(key) ?? 0) + 1
        out.retries.set(key, count)
        out.retryPending ??= new Set()
        out.retryPending.add(key)
        return count
    }

    // <receipt type="retry"> of the device `jid` for our message `out`
    // (waweb.md 1.17): <retry count id t v=1> and <registration>; with
    // `keys` a fresh one-time pre-key made for it (as clients do) and the
    // device's bundle in <keys>, so that the sender can start a new session.
    retryReceiptNode(out, { party, identity, jid, count, keys }) {
        const be = (n, w) => { const b = Buffer.alloc(w); b.writeUIntBE(n, 0, w); return b }
        const a = { id: out.id, t: String(this.mock.nowSeconds()), type: 'retry' }
        if (out.group) { a.from = out.group; a.participant = jid } else a.from = jid
        const content = [leaf('retry', undefined, { count: String(count), id: out.id, t: String(out.t), v: '1' }), leaf('registration', be(party.registrationId, 4))]
        if (keys) {
            party.addPreKeys(1)
            const b = party.bundle({ newest: true })
            const k = [leaf('type', Buffer.from([5])), leaf('identity', b.identity)]
            if (b.preKey) k.push(leaf('key', [leaf('id', be(b.preKey.id, 3)), leaf('value', b.preKey.value)]))
            k.push(leaf('skey', [leaf('id', be(b.signedPreKey.id, 3)), leaf('value', b.signedPreKey.value), leaf('signature', b.signedPreKey.signature)]))
            if (identity) k.push(leaf('device-identity', identity))
            content.push(leaf('keys', k))
        }
        return { tag: 'receipt', attrs: a, content }
    }

    // POST forget-session {from, device?}: the contact's device loses the
    // sessions it had with our account's devices (a reinstall, a restored
    // backup): the next message our companion sends it cannot be decrypted.
    forgetSession(body) {
        const c = this.world.requireContact(String(body.from ?? ''))
        const device = Number(body.device ?? 0)
        const d = c.devices.get(device)
        if (!d) throw new WorldError(`${c.phone} has no device ${device}`)
        const ourPhone = this.ourPhoneOf(body)
        const names = new Set([ourPhone, signalAddress(`${this.mock.lidFor(ourPhone)}@lid`).name])
        let forgotten = 0
        for (const addr of [...d.party.sessions.keys()]) {
            if (!names.has(addr.slice(0, addr.lastIndexOf('.')))) continue
            d.party.sessions.delete(addr)
            forgotten++
        }
        return { forgotten }
    }

    // A receipt for a message the world sent must go back to where it came
    // from (to = its from, participant in groups), or the sender never
    // learns of it: a mismatch is recorded as refused.
    checkReceipt(conn, node) {
        const a = node.attrs
        const rec = this.sent.get(a.id)
        if (!rec) return
        const want = this.attrs(rec)
        // A read (or played) receipt names the chat and the author, not the
        // device that sent (whatsmeow's MarkRead: to=chat, participant=sender):
        // the form (PN or LID) must match, the device need not.
        const user = j => (j ?? null) && j.replace(/:\d+@/, '@')
        const byUser = ['read', 'read-self', 'played'].includes(a.type)
        const same = (x, y) => byUser ? user(x) === user(y) : (x ?? null) === (y ?? null)
        const wrong = []
        if (!same(a.to, want.from)) wrong.push(`to=${a.to}, want ${want.from}`)
        if (!same(a.participant, want.participant)) wrong.push(`participant=${a.participant ?? '(none)'}, want ${want.participant ?? '(none)'}`)
        if (wrong.length) this.emit({ type: 'refused', conn: conn.id, id: a.id, reason: `receipt for ${a.id}: ${wrong.join(', ')}` })
    }

    // A <receipt type="retry"> from our companion: the sender device resends.
    async onRetryReceipt(conn, node) {
        const a = node.attrs
        const r = child(node, 'retry')
        const keys = child(node, 'keys')
        const count = Number(r?.attrs.count ?? 0)
        this.emit({ type: 'retry-receipt', conn: conn.id, id: a.id, count, keys: !!keys, from: `${conn.deviceKey()}`, to: a.to ?? null, participant: a.participant ?? null })
        const rec = this.sent.get(a.id)
        if (!r || !rec || r.attrs.id !== a.id || !Number.isInteger(count) || count < 1) {
            this.emit({ type: 'refused', conn: conn.id, reason: `retry receipt for ${a.id}: ${!rec ? 'no such message' : 'malformed <retry>'}` })
            return
        }
        const dev = Number(conn.client.device)
        let bundle = null
        if (keys) {
            bundle = readKeys(node, keys)
            if (typeof bundle === 'string') {
                this.emit({ type: 'refused', conn: conn.id, id: a.id, reason: `retry receipt for ${a.id}: ${bundle}` })
                return
            }
        }
        try {
            await this.sendTo(rec, dev, { retry: { count, bundle } })
        } catch (e) {
            // libsignal refuses a bundle whose signature does not verify.
            this.emit({ type: 'refused', conn: conn.id, id: a.id, reason: `retry receipt for ${a.id}: ${e.message}` })
        }
    }

    // ---------------------------------------------------------------------
    // Client -> server
    // ---------------------------------------------------------------------

    setAckPolicy(body) {
        const error = body.error == null ? null : Number(body.error)
        if (error !== null && ![463, 475, 479, 400, 500].includes(error)) throw new WorldError('error: 463, 475 (or 400, 479, 500) or null')
        let who = null
        if (body.phone !== undefined || body.jid !== undefined) {
            const c = this.world.contact(String(body.phone ?? body.jid))
            who = c ? c.phone : String(body.jid ?? body.phone)
        }
        this.ackPolicy = this.ackPolicy.filter(p => p.who !== who)
        if (error !== null) this.ackPolicy.push({ who, error, once: !!body.once })
        return { who, error, once: !!body.once }
    }

    forcedError(chatKey) {
        const i = this.ackPolicy.findIndex(p => p.who === null || p.who === chatKey)
        if (i < 0) return null
        const p = this.ackPolicy[i]
        if (p.once) this.ackPolicy.splice(i, 1)
        return p.error
    }

    // The phone number behind a device JID (LIDs of contacts and of our account).
    phoneOf(j, ourPhone) {
        if (j.server !== LID && j.server !== 'hosted.lid') return j.user
        if (j.user === this.mock.lidFor(ourPhone)) return ourPhone
        return this.world.byLid.get(j.user) ?? j.user
    }

    // A granted token counts while its week bucket is at most 3 behind the
    // current one (waweb-2026.md 3: about 28 days).
    tokenValid(c, bytes) {
        if (!c.token || !bytes || !c.token.bytes.equals(bytes)) return false
        const week = 604800
        return c.token.t >= (Math.floor(this.mock.nowSeconds() / week) - 3) * week
    }

    // The <device-identity> of a message: the companion's ADV identity,
    // signed by our account key, countersigned by the device.
    checkDeviceIdentity(conn, node) {
        const b = bytesOf(node)
        if (!b) return 'device-identity holds no bytes'
        let s
        try { s = P.ADVSignedDeviceIdentity.decode(b) } catch (e) { return `device-identity is not an ADVSignedDeviceIdentity: ${e.message}` }
        const account = this.mock.accounts.get(conn.client.username)
        const dev = this.mock.devices.get(conn.deviceKey()) ?? null
        const identity = dev?.identity ?? this.world.bundles.get(conn.deviceKey())?.identity
        if (!account || !identity) return 'device-identity of a device the phone never paired'
        if (!s.accountSignatureKey || !Buffer.from(s.accountSignatureKey).equals(account.key.public)) return 'device-identity accountSignatureKey is not our account key'
        // A companion sends the same bytes with every pkmsg, and the pure-JS
        // curve check costs ~10 ms each (the messages benchmark's ceiling):
        // bytes that verified under this account key and identity once
        // verify again, so they are not checked twice.
        const seen = `${account.key.public.toString('hex')}|${Buffer.from(identity).toString('hex')}|${b.toString('hex')}`
        if (this.verifiedIdentities.has(seen)) return null
        if (!s.details || !curveVerify(account.key.public, Buffer.concat([ACCOUNT_PREFIX, s.details, identity]), Buffer.from(s.accountSignature ?? [])))
            return 'device-identity accountSignature does not verify'
        if (!curveVerify(identity, Buffer.concat([DEVICE_PREFIX, s.details, identity, account.key.public]), Buffer.from(s.deviceSignature ?? [])))
            return 'device-identity deviceSignature does not verify'
        this.verifiedIdentities.add(seen)
        return null
    }

    // A <message> from our companion.  Returns the ack to send; what the
    // devices answer after it (retry receipts) goes into `after`, functions
    // the caller runs once the ack went out.
    async onClientMessage(conn, node, after = []) {
        const a = node.attrs
        const ourPhone = conn.client.username
        const ourDev = Number(conn.client.device)
        const ack = extra => ({ tag: 'ack', attrs: { class: 'message', id: a.id, from: a.to, t: String(this.mock.nowSeconds()), ...extra } })
        const refuse = (reason, error = '400', extra = {}) => {
            this.mock.log(`conn ${conn.id}: message ${a.id} refused: ${reason}`)
            this.emit({ type: 'refused', conn: conn.id, id: a.id, reason, error })
            return ack({ error: String(error), ...extra })
        }
        if (!a.id) return refuse('message without id')
        if (!MESSAGE_TYPES.has(a.type)) return refuse(`message type=${a.type ?? '(none)'}`)
        // A retry resend in whatsmeow's form (waweb.md 1.17): one pkmsg/msg
        // <enc count> straight in the message, no <participants>, for the one
        // device that asked: named by `to` in a DM (a device JID), by
        // `participant` in a group.
        const parts = child(node, 'participants')
        const bare = kids(node).filter(x => x.tag === 'enc')
        const bareRetry = !parts && bare.length === 1 && bare[0].attrs.type !== 'skmsg' && bare[0].attrs.count !== undefined
        const to = parseJid(a.to)
        if (!to || (to.ad && !bareRetry)) return refuse(`to=${a.to} is not a user or group JID`)
        const group = to.server === 'g.us' ? this.world.group(a.to) : null
        if (to.server === 'g.us' && !group) return refuse(`no group ${a.to}`, '404')
        const peerToSelf = !group && (to.user === ourPhone || to.user === this.mock.lidFor(ourPhone))
        if (bareRetry && peerToSelf) return refuse('a retry resend to our own devices (the mock never asks for one)')
        const contact = group || peerToSelf ? null : this.world.contact(a.to)
        if (!group && !peerToSelf && !contact) return refuse(`${a.to} is not on WhatsApp`, '404')
        if (peerToSelf && a.category !== 'peer') return refuse('a message to our own account without category="peer"')
        // A peer message in the clients' form: one bare <enc> for our phone
        // alone, no <participants> (app-state key and history requests).
        if (peerToSelf && !parts && !bareRetry) return this.onPeerToPhone(conn, node, bare, ack, refuse, after)
        const chatKey = group ? group.jid : contact?.phone ?? ourPhone
        const forced = this.forcedError(chatKey)
        if (forced) return refuse(`ack-policy: error ${forced}`, String(forced))

        // Every <to><enc>, each device once.
        const encs = new Map()
        for (const t of kids(parts)) {
            if (t.tag !== 'to') return refuse(`<participants> holds <${t.tag}>`)
            const j = parseJid(t.attrs.jid)
            if (!j || j.server === 'g.us') return refuse(`<to jid=${t.attrs.jid}> is not a device JID`)
            const e = kids(t).filter(x => x.tag === 'enc')
            if (e.length !== 1) return refuse(`<to jid=${t.attrs.jid}> holds ${e.length} <enc>, want 1`)
            const k = `${this.phoneOf(j, ourPhone)}:${j.device}`
            if (encs.has(k)) return refuse(`device ${t.attrs.jid} got two <enc>`)
            const type = e[0].attrs.type
            if (!['pkmsg', 'msg'].includes(type)) return refuse(`<to jid=${t.attrs.jid}><enc type=${type}>`)
            if (e[0].attrs.v !== '2') return refuse(`<enc v=${e[0].attrs.v}>, want 2`)
            encs.set(k, { jid: t.attrs.jid, j, type, body: bytesOf(e[0]), count: e[0].attrs.count })
        }
        if (bareRetry) {
            const target = group ? a.participant : a.to
            const j = parseJid(target)
            if (!j || j.server === 'g.us') return refuse(`retry resend: ${group ? 'participant' : 'to'}=${target ?? '(none)'} is not a device JID`)
            const e = bare[0]
            if (!['pkmsg', 'msg'].includes(e.attrs.type)) return refuse(`retry resend: <enc type=${e.attrs.type}>`)
            if (e.attrs.v !== '2') return refuse(`<enc v=${e.attrs.v}>, want 2`)
            encs.set(`${this.phoneOf(j, ourPhone)}:${j.device}`, { jid: target, j, type: e.attrs.type, body: bytesOf(e), count: e.attrs.count })
        }
        // A retry resend (every enc with count, no skmsg) goes to the devices
        // that asked for it: not a fan-out, so no device-set or phash check.
        const retryResend = encs.size > 0 && [...encs.values()].every(e => e.count !== undefined)
        if (retryResend && [...encs.values()].some(e => !/^[1-9]\d*$/.test(e.count))) return refuse('retry resend: <enc count> is not a positive number')
        const skEnc = bareRetry ? null : bare[0]
        if (group && !skEnc && !retryResend) return refuse('a group message without the skmsg <enc>')
        if (!group && skEnc) return refuse('a direct message with an <enc> outside <participants>')
        if (skEnc && skEnc.attrs.type !== 'skmsg') return refuse(`the group <enc> is ${skEnc.attrs.type}, want skmsg`)
        if (retryResend && skEnc) return refuse('a retry resend with a skmsg <enc>')

        // device-identity iff some pkmsg, and it must verify.
        const anyPk = [...encs.values()].some(e => e.type === 'pkmsg')
        const di = child(node, 'device-identity')
        if (anyPk && !di) return refuse('pkmsg without <device-identity>')
        if (!anyPk && di) return refuse('<device-identity> without any pkmsg')
        if (di) { const why = this.checkDeviceIdentity(conn, di); if (why) return refuse(why) }

        // Trusted-contact tokens (waweb-2026.md 3); a retry resend carries
        // none (whatsmeow's has only the enc): the message passed already.
        if (contact && !retryResend) {
            const tc = bytesOf(child(node, 'tctoken')), cs = bytesOf(child(node, 'cstoken'))
            const tokenOk = this.tokenValid(contact, tc) || (cs && contact.nctSalt && cs.equals(crypto.createHmac('sha256', contact.nctSalt).update(`${contact.lid}@lid`).digest()))
            if (contact.requiresToken && !tokenOk) return refuse(`${contact.phone} requires a trusted-contact token`, '463')
            if (tc && !this.tokenValid(contact, tc)) return refuse('<tctoken> is not a valid token the contact granted', '463')
        }

        // The device set: who must get this (waweb.md 1.15); a peer message
        // goes to our own other devices only.
        const chatJid = group ? group.jid : peerToSelf ? null : (to.server === LID ? `${contact.lid}@lid` : `${contact.phone}@${PN}`)
        const all = peerToSelf ? this.world.fanout(null, ourPhone, { ownOnly: true, lidMode: to.server === LID }) : this.world.fanout(chatJid, ourPhone)
        const fan = all.filter(d => !(d.owner === 'companion' && d.device === ourDev))
        const keyOf = d => `${d.owner === 'contact' ? d.contact.phone : ourPhone}:${d.device}`
        // whatsmeow and Baileys both hash the devices they fan out to, which
        // leaves out the sending device itself.
        const serverPhash = participantHash(fan)
        // A device of a user in the chat that is gone (or never was) means a
        // stale cached list: taken as stale below.  A user not in the chat is refused.
        const users = new Set(all.map(d => keyOf(d).split(':')[0]))
        const extra = [...encs.keys()].filter(k => !fan.some(d => keyOf(d) === k))
        for (const k of extra) if (!users.has(k.split(':')[0]) || k === conn.deviceKey()) return refuse(`<to> for ${k}, not in the chat`)
        const holders = group?.companionSkHolders?.get(conn.deviceKey()) ?? new Set()
        const missing = fan.filter(d => !encs.has(keyOf(d)) && !(group && holders.has(keyOf(d))))
        let stale = null
        if (missing.length && !retryResend) stale = `no <enc> for ${missing.map(keyOf).join(', ')}`
        if (extra.length) stale = [stale, `<enc> for ${extra.join(', ')}, no such device`].filter(Boolean).join('; ')
        if (group && !retryResend && !samePhash(a.phash, serverPhash)) stale = stale ?? `phash ${a.phash ?? '(none)'}, want ${serverPhash}`
        if (stale) {
            // The real server takes the message for the devices that got it and
            // answers with its own phash: the sender learns its list is stale.
            this.mock.log(`conn ${conn.id}: message ${a.id}: stale device set: ${stale}`)
            this.emit({ type: 'refused', conn: conn.id, id: a.id, reason: stale, stale: true })
        }

        // Decrypt for each device the server plays.
        const senderAddr = { name: ourPhone, device: ourDev }
        const senderJid = group && group.addressingMode === 'lid' ? deviceJid(this.mock.lidFor(ourPhone), ourDev, LID) : deviceJid(ourPhone, ourDev, PN)
        const outRec = { id: a.id, t: this.mock.nowSeconds(), group: group?.jid ?? null, devices: [], chat: chatJid ?? a.to }
        const results = []
        const undecryptable = [] // { jid, key, party, identity, reason }: devices that ask again
        for (const d of fan) {
            const k = keyOf(d)
            const e = encs.get(k)
            const jid = deviceJid(d.user, d.device, d.server)
            if (d.owner === 'companion') {
                // Another companion of ours: the server passes its enc on (it cannot read it).
                if (e) {
                    this.forward(conn, node, d.device, e, skEnc, group)
                    results.push({ jid, key: k, enc: e.type, message: null, forwarded: true })
                }
                continue
            }
            const party = d.owner === 'phone' ? this.world.ownPhone(ourPhone) : d.dev.party
            let message = null
            let encType = e?.type ?? null
            // What libsignal cannot open is the device's problem, not the
            // stanza's: the server never reads <enc>, the device asks for
            // the message again (below).  What opens but is wrong inside
            // (padding, protobuf, a wrong SKDM group or wrapper) is the
            // sender's bug: a resend would carry the same bytes, so the mock
            // refuses it at once where a real device would ask five times
            // and drop it.
            const open = async (what, f) => {
                try { return await f() } catch (err) { throw new Undecryptable(`${what}: ${err.message}`) }
            }
            try {
                if (e) {
                    // No bytes at all is a malformed stanza, not a cipher failure.
                    if (!e.body?.length) return refuse(`<enc> for ${jid} holds no bytes`)
                    const plain = unpad(await open(e.type, () => party.decrypt(senderAddr, e.type, e.body)))
                    message = P.Message.decode(plain)
                    if (message.senderKeyDistributionMessage && group) {
                        const skdm = message.senderKeyDistributionMessage
                        if (skdm.groupId !== group.jid) throw new Error(`SKDM for ${skdm.groupId}, not ${group.jid}`)
                        await party.processSenderKeyDistribution(group.jid, { name: signalAddress(senderJid).name, device: ourDev }, skdm.axolotlSenderKeyDistributionMessage)
                        group.companionSkHolders ??= new Map()
                        const h = group.companionSkHolders.get(conn.deviceKey()) ?? new Set()
                        h.add(k)
                        group.companionSkHolders.set(conn.deviceKey(), h)
                    }
                }
                if (group && skEnc) {
                    if (!bytesOf(skEnc)?.length) return refuse('the skmsg <enc> holds no bytes')
                    // Without our sender key (its SKDM lost, or never sent) the
                    // device asks as for any other failure, in the group's form.
                    const plain = unpad(await open('skmsg', () => party.groupDecrypt(group.jid, { name: signalAddress(senderJid).name, device: ourDev }, bytesOf(skEnc))))
                    message = P.Message.decode(plain)
                    encType = 'skmsg'
                }
            } catch (err) {
                if (err instanceof Undecryptable) {
                    undecryptable.push({ jid, key: k, party, identity: d.owner === 'contact' ? d.dev.identity ?? null : null, reason: err.message })
                    continue
                }
                return refuse(`${jid} cannot decrypt: ${err.message}`, '400')
            }
            if (!message) continue
            if (retryResend && group && message.senderKeyDistributionMessage) {
                // whatsmeow sends our sender key along in a group retry: taken
                // above, not part of what the member reads.
                message.senderKeyDistributionMessage = null
                if (!Object.keys(messageJson(message)).length) return refuse(`retry resend to ${jid}: only a sender key, no message`)
            }
            const dsm = message.deviceSentMessage
            if (!group && !peerToSelf && d.owner === 'phone') {
                if (!dsm) return refuse(`our phone ${jid} got no DeviceSentMessage wrapper`)
                const dest = parseJid(dsm.destinationJid)
                if (!dest || dest.ad || this.world.contact(dsm.destinationJid) !== contact) return refuse(`DeviceSentMessage destinationJid ${dsm.destinationJid} is not ${a.to}`)
                message = dsm.message ?? P.Message.create()
            } else if (dsm) return refuse(`${jid} (not ours) got a DeviceSentMessage wrapper`)
            results.push({ jid, key: k, enc: encType, message: messageJson(message) })
            outRec.devices.push(jid)
        }
        // A member that left still has the sender key we gave it: what we
        // send after that must not open with it (our key renewed).
        if (group && skEnc && group.former?.size) {
            for (const phone of group.former) {
                const c = this.world.contacts.get(phone)
                for (const d of c?.devices.values() ?? []) {
                    const sender = { name: signalAddress(senderJid).name, device: ourDev }
                    if (!d.party.hasSenderKey(group.jid, sender)) continue
                    const jid = deviceJid(group.addressingMode === 'lid' ? c.lid : c.phone, d.id, group.addressingMode === 'lid' ? LID : PN)
                    try {
                        await d.party.groupDecrypt(group.jid, sender, bytesOf(skEnc))
                        this.emit({ type: 'leaked', conn: conn.id, id: a.id, to: jid, chat: group.jid })
                    } catch { /* the renewed key: it cannot read this */ }
                }
            }
        }
        // Keyed by "phone:device": a device is one device under its PN and its
        // LID alike (the client answers a PN-named retry under the LID).
        // `to` is the device as the chat addresses it.
        for (const r of results) {
            const k = `${r.key}|${a.id}`
            const n = (this.seen.get(k) ?? 0) + 1
            this.seen.set(k, n)
            const asked = this.outgoing.get(a.id)?.retryPending?.has(r.key) ?? false
            const retry = asked || retryResend
            this.emit({ type: n === 1 || asked ? 'delivered' : 'redelivered', conn: conn.id, to: r.jid, id: a.id, chat: group ? group.jid : chatJid ?? a.to, enc: r.enc,
                message: r.message, addressing: to.server === LID || group?.addressingMode === 'lid' ? 'lid' : 'pn', retry, ...(r.forwarded ? { forwarded: true } : {}) })
            if (asked) this.outgoing.get(a.id).retryPending.delete(r.key)
        }
        // Media our companion sent: the receiving side downloads and checks it (once per id).
        const media = results.find(r => !r.forwarded && r.message)
        if (media) this.mock.media.received(conn, node, media.message)
        const prev = this.outgoing.get(a.id)
        this.outgoing.set(a.id, { ...outRec, t: prev?.t ?? outRec.t, devices: [...new Set([...(prev?.devices ?? []), ...outRec.devices])], retries: prev?.retries, retryPending: prev?.retryPending })
        // Each device that could not decrypt answers after the ack, as a
        // real one does: a retry receipt to the sending companion, count 1
        // bare, from 2 on with a fresh bundle in <keys>; it keeps its old
        // sessions (the pkmsg of the resend starts a new one beside them).
        // The sixth failure for one message, it gives up.
        const out = this.outgoing.get(a.id)
        for (const u of undecryptable) {
            const tried = out.retries?.get(u.key) ?? 0
            const ev = { conn: conn.id, to: u.jid, id: a.id, chat: out.chat, reason: u.reason }
            if (tried >= MAX_RETRY_RECEIPTS) {
                out.retryPending?.delete(u.key)
                after.push(() => {
                    this.mock.log(`conn ${conn.id}: message ${a.id}: ${u.jid} gives up after ${tried} retry receipts: ${u.reason}`)
                    this.emit({ type: 'undecryptable-gave-up', ...ev, count: tried })
                })
                continue
            }
            const count = this.nextRetryCount(out, u.key)
            const receipt = this.retryReceiptNode(out, { party: u.party, identity: u.identity, jid: u.jid, count, keys: count >= 2 })
            after.push(() => {
                this.mock.log(`conn ${conn.id}: message ${a.id}: ${u.jid} cannot decrypt (${u.reason}): retry receipt ${count}`)
                this.emit({ type: 'undecryptable', ...ev, count, keys: count >= 2 })
                // Queued like any stanza for the companion: until it acks the
                // receipt, a new login of it gets the receipt again.
                this.deliverStanza(conn.deviceKey(), retryReceiptKey(a.id, u.jid), receipt)
            })
        }
        return stale || (group && !retryResend) ? ack({ phash: serverPhash }) : ack({})
    }

    // A companion's peer message to our phone (waweb.md 1.18): to our own
    // user without a device, category="peer", one bare pkmsg|msg <enc> the
    // phone decrypts, device-identity iff a pkmsg, no token (the real server
    // answers 479 to one).  Event peer-received {conn, id, message}; a
    // history request is answered after the ack (lib/history.mjs onDemand).
    async onPeerToPhone(conn, node, bare, ack, refuse, after) {
        const a = node.attrs
        const to = parseJid(a.to)
        if (to.server !== PN) return refuse(`a peer message to ${a.to}: our phone number, please`)
        if (bare.length !== 1) return refuse(`a peer message with ${bare.length} <enc>, want 1`)
        const e = bare[0]
        if (!['pkmsg', 'msg'].includes(e.attrs.type)) return refuse(`a peer message's <enc type=${e.attrs.type}>`)
        if (e.attrs.v !== '2') return refuse(`<enc v=${e.attrs.v}>, want 2`)
        if (!bytesOf(e)?.length) return refuse('a peer message\'s <enc> holds no bytes')
        if (child(node, 'tctoken') || child(node, 'cstoken')) return refuse('a token on a peer message', '479')
        const di = child(node, 'device-identity')
        if (e.attrs.type === 'pkmsg' && !di) return refuse('pkmsg without <device-identity>')
        if (e.attrs.type !== 'pkmsg' && di) return refuse('<device-identity> without any pkmsg')
        if (di) { const why = this.checkDeviceIdentity(conn, di); if (why) return refuse(why) }
        const ourPhone = conn.client.username
        const party = this.world.ownPhone(ourPhone)
        let message
        try {
            message = P.Message.decode(unpad(await party.decrypt({ name: ourPhone, device: Number(conn.client.device) }, e.attrs.type, bytesOf(e))))
        } catch (err) {
            return refuse(`our phone cannot read the peer message: ${err.message}`)
        }
        this.emit({ type: 'peer-received', conn: conn.id, id: a.id, enc: e.attrs.type, message: messageJson(message) })
        const pm = message.protocolMessage
        const op = pm?.peerDataOperationRequestMessage
        if (pm?.type === P.Message.ProtocolMessage.Type.PEER_DATA_OPERATION_REQUEST_MESSAGE && op
            && op.peerDataOperationRequestType === P.Message.PeerDataOperationRequestType.HISTORY_SYNC_ON_DEMAND) {
            const req = op.historySyncOnDemandRequest
            if (!req?.chatJid) return refuse('a history request without chatJid')
            after.push(() => this.mock.history.onDemand(conn, a.id, {
                chatJid: req.chatJid, oldestMsgId: req.oldestMsgId, onDemandMsgCount: req.onDemandMsgCount,
                oldestMsgTimestampMs: Number(req.oldestMsgTimestampMs ?? 0),
            }).catch(err => this.mock.log(`conn ${conn.id}: history on demand for ${a.id} failed: ${err.message}`)))
        }
        return ack({})
    }

    // What our other companion `dev` gets of a message our companion sent:
    // its own enc (and the skmsg in groups), from the sending device.
    forward(conn, node, dev, e, skEnc, group) {
        const a = node.attrs
        const attrs = { id: a.id, t: String(this.mock.nowSeconds()), type: a.type }
        if (group) { attrs.from = group.jid; attrs.participant = `${conn.deviceKey()}@${PN}`; attrs.addressing_mode = group.addressingMode }
        else { attrs.from = `${conn.deviceKey()}@${PN}`; attrs.recipient = a.to }
        const content = [leaf('enc', e.body, { v: '2', type: e.type })]
        if (skEnc) content.push(leaf('enc', bytesOf(skEnc), { ...skEnc.attrs }))
        const di = child(node, 'device-identity')
        if (e.type === 'pkmsg' && di) content.push(di)
        this.deliverStanza(`${conn.client.username}:${dev}`, a.id, { tag: 'message', attrs, content })
    }

    // <iq xmlns="privacy" type="set"><tokens><token jid t type="trusted_contact"/>
    onIssueTokens(conn, node) {
        const tokens = kids(child(node, 'tokens'))
        if (!tokens.length) return 'no <token>'
        for (const t of tokens) {
            if (t.tag !== 'token' || t.attrs.type !== 'trusted_contact') return `<${t.tag} type=${t.attrs.type}>`
            if (!parseJid(t.attrs.jid) || !/^\d+$/.test(t.attrs.t ?? '')) return `<token jid=${t.attrs.jid} t=${t.attrs.t}>`
        }
        for (const t of tokens) this.emit({ type: 'token-issued', conn: conn.id, jid: t.attrs.jid, t: Number(t.attrs.t) })
        return null
    }
}
