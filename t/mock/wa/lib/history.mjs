// History sync from our phone (waweb.md 1.18): what the phone sends a new
// companion of its past chats.  POST history builds a HistorySync with
// Baileys' WAProto, deflates it (zlib), and either puts it in the
// notification itself (initialHistBootstrapInlinePayload, as the phone does
// with the first bootstrap chunk) or encrypts it as md-msg-hist media
// ("WhatsApp History Keys"), keeps it on the media host and names it in the
// notification.  The notification is a peer message of our phone to its own
// account: protocolMessage{HISTORY_SYNC_NOTIFICATION}.  The companion owes a
// <receipt type="hist_sync"> for it once it has stored the chunk: recorded
// as the event history-receipt.
import crypto from 'node:crypto'
import zlib from 'node:zlib'
import * as B from 'baileys'
import { encryptMedia } from './media.mjs'
import { WorldError } from './world.mjs'

const P = B.proto

const SYNC_TYPES = {
    initial_bootstrap: 0, initial_status_v3: 1, full: 2, recent: 3, push_name: 4, non_blocking_data: 5, on_demand: 6,
}

// HistorySync.nctSalt is field 19 (waweb-2026.md 3), which Baileys' WAProto
// does not list: appended as a raw length-delimited field (a protobuf
// message is the concatenation of its fields).
function rawBytesField(field, bytes) {
    const varint = n => { const out = []; while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7 } out.push(n); return out }
    return Buffer.concat([Buffer.from(varint((field << 3) | 2)), Buffer.from(varint(bytes.length)), bytes])
}

const str = (v, what) => {
    if (typeof v !== 'string' || !v) throw new WorldError(`${what}: a non-empty string`)
    return v
}

export class History {
    constructor(mock) {
        this.mock = mock
        this.sent = new Map() // notification id -> { sync_type, chunk_order, inline }
        // What the phone holds of each chat (chat JID -> { jid, name?, pn_jid?,
        // lid_jid?, messages: [JSON as POST history takes them] }): every
        // chunk it sent, and what POST phone-history loads without sending.
        // An on-demand request is answered from here.
        this.phoneChats = new Map()
    }

    // Keeps a chunk's conversations as the phone's own history.
    remember(conversations) {
        for (const c of conversations ?? []) {
            const jid = str(c.jid, 'conversations[].jid')
            const kept = this.phoneChats.get(jid) ?? { jid, messages: [] }
            for (const k of ['name', 'pn_jid', 'lid_jid']) if (c[k] !== undefined) kept[k] = c[k]
            const ids = new Set(kept.messages.map(m => m.id))
            for (const m of c.messages ?? []) {
                str(m.id, 'messages[].id')
                if (!Number.isInteger(Number(m.timestamp)) || Number(m.timestamp) <= 0) throw new WorldError(`messages[${m.id}].timestamp: seconds`)
                if (!ids.has(m.id)) { kept.messages.push(m); ids.add(m.id) }
            }
            this.phoneChats.set(jid, kept)
        }
    }

    // A companion's HISTORY_SYNC_ON_DEMAND request (a peer message to our
    // phone, `id` its message id): up to onDemandMsgCount messages of the
    // chat older than the oldest the companion named, newest of those
    // first taken, sent oldest first as an ON_DEMAND chunk.  A chat the
    // phone does not hold, or nothing older, answers a chunk without
    // messages, so the companion learns there is no more.
    async onDemand(conn, id, req) {
        const chat = req.chatJid ?? ''
        const kept = this.phoneChats.get(chat)
        const before = Number(req.oldestMsgTimestampMs ?? 0) / 1000
        const count = Math.max(0, Math.min(Number(req.onDemandMsgCount ?? 0), 500))
        const older = (kept?.messages ?? [])
            .filter(m => m.id !== req.oldestMsgId && (before <= 0 || Number(m.timestamp) < before))
            .sort((x, y) => Number(x.timestamp) - Number(y.timestamp) || (x.id < y.id ? -1 : 1))
        const picked = count > 0 ? older.slice(-count) : []
        const conv = { jid: chat || 'unknown@s.whatsapp.net', messages: picked }
        for (const k of ['name', 'pn_jid', 'lid_jid']) if (kept?.[k] !== undefined) conv[k] = kept[k]
        const r = await this.send({ type: 'on_demand', conversations: [conv], conn: conn.id })
        this.mock.emit({ type: 'history-on-demand', conn: conn.id, id, chat, count, oldest_id: req.oldestMsgId ?? null,
            oldest_ms: Number(req.oldestMsgTimestampMs ?? 0), sent: picked.map(m => m.id), notification: r.id })
    }

    // One history message (WebMessageInfo) from its JSON description.
    webMessage(chatJid, m) {
        const id = str(m.id, 'messages[].id')
        const t = Number(m.timestamp)
        if (!Number.isInteger(t) || t <= 0) throw new WorldError(`messages[${id}].timestamp: seconds`)
        let message
        if (m.media !== undefined) {
            // Uploaded as the sender's device would have: the message carries
            // the keys and path a later download needs.
            const media = this.mock.media.senderMedia(m.media)
            message = media.part
        } else if (m.text !== undefined) {
            message = { conversation: String(m.text) }
        } else throw new WorldError(`messages[${id}]: text or media`)
        const info = { key: { remoteJid: chatJid, fromMe: !!m.from_me, id }, message, messageTimestamp: t }
        if (m.participant) info.key.participant = String(m.participant)
        if (m.push_name) info.pushName = String(m.push_name)
        return { message: info }
    }

    // The HistorySync protobuf, and the messages' media as the test needs to
    // compare (media keys, paths), by message id.
    build(body) {
        const type = SYNC_TYPES[body.type ?? 'recent']
        if (type === undefined) throw new WorldError(`type: one of ${Object.keys(SYNC_TYPES).join(', ')}`)
        const media = {}
        const conversations = (body.conversations ?? []).map((c, i) => {
            const jid = str(c.jid, `conversations[${i}].jid`)
            const conv = { id: jid, messages: [] }
            if (c.name !== undefined) conv.name = String(c.name)
            if (c.pn_jid !== undefined) conv.pnJid = String(c.pn_jid)
            if (c.lid_jid !== undefined) conv.lidJid = String(c.lid_jid)
            if (c.tc_token_hex !== undefined) {
                conv.tcToken = Buffer.from(String(c.tc_token_hex), 'hex')
                conv.tcTokenTimestamp = Number(c.tc_token_t ?? this.mock.nowSeconds())
            }
            for (const m of c.messages ?? []) {
                const w = this.webMessage(jid, m)
                const part = w.message.message
                const inner = part.imageMessage ?? part.videoMessage ?? part.audioMessage ?? part.documentMessage ?? part.stickerMessage
                    ?? part.viewOnceMessageV2?.message?.imageMessage ?? part.viewOnceMessageV2?.message?.videoMessage
                    ?? part.documentWithCaptionMessage?.message?.documentMessage
                if (inner) {
                    media[m.id] = { direct_path: inner.directPath, url: inner.url, media_key: Buffer.from(inner.mediaKey).toString('base64'),
                        file_sha256: Buffer.from(inner.fileSha256).toString('base64'), file_enc_sha256: Buffer.from(inner.fileEncSha256).toString('base64'),
                        file_length: Number(inner.fileLength), mimetype: inner.mimetype }
                }
                conv.messages.push(w)
            }
            return conv
        })
        const sync = {
            syncType: type, conversations,
            pushnames: (body.push_names ?? []).map(p => ({ id: str(p.jid, 'push_names[].jid'), pushname: String(p.name ?? '') })),
            phoneNumberToLidMappings: (body.jid_mappings ?? []).map(m => ({ pnJid: str(m.pn_jid, 'jid_mappings[].pn_jid'), lidJid: str(m.lid_jid, 'jid_mappings[].lid_jid') })),
        }
        if (body.chunk_order !== undefined) sync.chunkOrder = Number(body.chunk_order)
        if (body.progress !== undefined) sync.progress = Number(body.progress)
        let bytes
        try { bytes = Buffer.from(P.HistorySync.encode(P.HistorySync.fromObject(sync)).finish()) } catch (e) { throw new WorldError(`history: ${e.message}`) }
        if (body.nct_salt_hex !== undefined) {
            if (!/^([0-9a-fA-F]{2})+$/.test(String(body.nct_salt_hex))) throw new WorldError('nct_salt_hex: hex')
            bytes = Buffer.concat([bytes, rawBytesField(19, Buffer.from(body.nct_salt_hex, 'hex'))])
        }
        return { type, bytes, media }
    }

    // POST history.  Hostile variants for the receiver's refusals: bomb: N
    // deflates N zero bytes instead of the chunk (a few kB that inflate
    // past any sane bound); forge: "mac" flips a bit of the blob's MAC (its
    // enc hash names the forged blob, so only the MAC check can catch it);
    // from: <contact phone> has a contact send the notification instead
    // of our phone.
    async send(body) {
        const { type, bytes, media } = this.build(body)
        if (body.from === undefined && body.bomb === undefined && !body.forge) this.remember(body.conversations)
        let zipped
        if (body.bomb !== undefined) {
            const n = Number(body.bomb)
            if (!Number.isInteger(n) || n < 1 || n > 2 ** 31) throw new WorldError('bomb: a byte count')
            // Deflated in pieces: a zero buffer of that size need not exist.
            const d = zlib.createDeflate({ level: 9 })
            const chunks = []
            d.on('data', c => chunks.push(c))
            const done = new Promise(resolve => d.on('end', resolve))
            const block = Buffer.alloc(1 << 20)
            for (let left = n; left > 0; left -= block.length) {
                const piece = left >= block.length ? block : block.subarray(0, left)
                if (!d.write(piece)) await new Promise(resolve => d.once('drain', resolve))
            }
            d.end()
            await done
            zipped = Buffer.concat(chunks)
        } else zipped = zlib.deflateSync(bytes)
        const forge = body.forge ?? null
        if (![null, 'mac'].includes(forge)) throw new WorldError('forge: mac')
        const note = { syncType: type }
        if (body.chunk_order !== undefined) note.chunkOrder = Number(body.chunk_order)
        if (body.progress !== undefined) note.progress = Number(body.progress)
        const inline = !!body.inline
        let blob = null
        if (inline) {
            if (forge) throw new WorldError('forge: not for an inline chunk')
            note.initialHistBootstrapInlinePayload = zipped
        } else {
            const mediaKey = crypto.randomBytes(32)
            let { body: enc, fileSha256, fileEncSha256 } = encryptMedia(zipped, mediaKey, 'History')
            if (forge === 'mac') {
                enc = Buffer.from(enc)
                enc[enc.length - 1] ^= 0x01
                fileEncSha256 = crypto.createHash('sha256').update(enc).digest()
            }
            const up = this.mock.media.store(enc, 'md-msg-hist', 'phone')
            Object.assign(note, { fileSha256, fileLength: zipped.length, mediaKey, fileEncSha256, directPath: up.direct_path })
            blob = { direct_path: up.direct_path, enc_length: enc.length }
        }
        const message = { protocolMessage: { type: P.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION, historySyncNotification: note } }
        const M = this.mock.messaging
        const r = body.from !== undefined
            ? await M.fromWorld({ from: body.from, message, id: body.id, conn: body.conn }, {})
            : await M.fromWorld({ message, id: body.id, conn: body.conn }, { peer: true, self: true })
        this.sent.set(r.id, { sync_type: body.type ?? 'recent', chunk_order: note.chunkOrder ?? 0, inline })
        this.mock.emit({ type: 'history-sent', id: r.id, sync_type: body.type ?? 'recent', inline, inflated_length: body.bomb !== undefined ? Number(body.bomb) : bytes.length,
            zlib_length: zipped.length, forge, from: body.from ?? 'phone' })
        return { id: r.id, to: r.to, inline, inflated_length: bytes.length, zlib_length: zipped.length, media, ...(blob ? { blob } : {}) }
    }

    // A companion's <receipt type="hist_sync">: recorded with what it acks.
    onReceipt(conn, node) {
        const a = node.attrs
        const sent = this.sent.get(a.id)
        this.mock.emit({ type: 'history-receipt', conn: conn.id, id: a.id, to: a.to ?? null, known: !!sent, ...(sent ?? {}) })
    }
}
