// The server's world of contacts, groups and messages, seen from a companion
// built from the npm packages (lib/companion.mjs): each control endpoint both
// ways, the strict refusals, retry receipts, and exactly-once records.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as B from 'baileys'
import { startMock } from '../lib/harness.mjs'
import { Companion } from '../lib/companion.mjs'

const P = B.proto
let mock, me
let nextPhone = 4915100000001
const newPhone = () => String(nextPhone++)

before(async () => {
    mock = await startMock()
    me = await Companion.pair(mock, { phone: '15550001000' })
})
after(async () => { me?.close(); await mock.stop() })

const ok = r => { assert.equal(r.status, 200, JSON.stringify(r.body)); return r.body }
async function contact(extra = {}) {
    const phone = extra.phone ?? newPhone()
    return { phone, ...ok(await mock.control('contact', { phone, ...extra })) }
}

test('contact: a PN and a LID, devices each a Signal party, usync answers them', async () => {
    const phone = newPhone()
    const c = ok(await mock.control('contact', { phone, devices: [0, 2], hosted: [99], name: 'Ana' }))
    assert.equal(c.pn, `${phone}@s.whatsapp.net`)
    assert.match(c.lid, /^\d{15}@lid$/)
    const given = ok(await mock.control('contact', { phone: newPhone(), lid: '123456789012345' }))
    assert.equal(given.lid, '123456789012345@lid')
    assert.deepEqual((await me.devices([c.pn])).sort(), [`${phone}:2@s.whatsapp.net`, `${phone}:99@hosted`, `${phone}@s.whatsapp.net`].sort())
    const r = await me.iq({ xmlns: 'usync', type: 'get' }, [{ tag: 'usync', attrs: { sid: 'x', mode: 'query', last: 'true', index: '0', context: 'background' }, content: [
        { tag: 'query', attrs: {}, content: [{ tag: 'lid', attrs: {} }, { tag: 'contact', attrs: {} }] },
        { tag: 'list', attrs: {}, content: [{ tag: 'user', attrs: { jid: c.pn } }, { tag: 'user', attrs: { jid: '19990000000@s.whatsapp.net' } }] }] }])
    const users = r.content[0].content.find(n => n.tag === 'list').content
    assert.equal(users[0].content.find(n => n.tag === 'lid').attrs.val, c.lid)
    assert.equal(users[0].content.find(n => n.tag === 'contact').attrs.type, 'in')
    assert.equal(users[1].content.find(n => n.tag === 'contact').attrs.type, 'out')
    assert.equal((await mock.control('contact', { phone: '+49' })).status, 400)
})

test('message: pkmsg from our uploaded bundle with the stanza attributes, msg once answered', async () => {
    const c = await contact({ name: 'Bea' })
    const since = await mock.last()
    const r = ok(await mock.control('message', { from: c.phone, message: { conversation: 'hello' }, push_name: 'Bea B' }))
    const s = await me.nextMessage(r.id)
    assert.equal(s.attrs.from, c.pn)
    assert.equal(s.attrs.sender_lid, c.lid)
    assert.equal(s.attrs.notify, 'Bea B')
    assert.equal(s.attrs.type, 'text')
    const [m] = await me.open(s)
    assert.equal(m.type, 'pkmsg')
    assert.equal(m.message.conversation, 'hello')
    me.receipt(s)
    const rin = await mock.wait({ type: 'receipt-in' }, since)
    assert.deepEqual([rin.id, rin.receipt_type, rin.to], [r.id, 'delivery', c.pn])
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === r.id)).attrs.class, 'receipt')
    // Still pkmsg: the contact has not heard from us yet.
    const r2 = ok(await mock.control('message', { from: c.phone, message: { extendedTextMessage: { text: 'quoted', contextInfo: { stanzaId: r.id, participant: c.pn, quotedMessage: { conversation: 'hello' } } } } }))
    const s2 = await me.nextMessage(r2.id)
    const [m2] = await me.open(s2)
    assert.equal(m2.type, 'pkmsg')
    assert.equal(m2.message.extendedTextMessage.contextInfo.stanzaId, r.id)
    // We answer: the contact's device decrypts it, and its next one is msg.
    await me.sendDM(c.pn, { conversation: 'hi back' })
    await mock.wait({ type: 'delivered' }, since)
    const r3 = ok(await mock.control('message', { from: c.phone, addressing: 'lid', message: { reactionMessage: { key: { id: r.id, remoteJid: c.pn }, text: '👍' } } }))
    const s3 = await me.nextMessage(r3.id)
    assert.equal(s3.attrs.from, c.lid)
    assert.equal(s3.attrs.sender_pn, c.pn)
    assert.equal(s3.attrs.type, 'reaction')
    const [m3] = await me.open(s3)
    assert.equal(m3.type, 'msg')
    assert.equal(m3.message.reactionMessage.text, '👍')
})

test('garbage once: the retry receipt is recorded and the same id comes again, readable, with count', async () => {
    const c = await contact()
    const since = await mock.last()
    const r = ok(await mock.control('message', { from: c.phone, message: { conversation: 'scrambled' }, garbage: 'once' }))
    const s = await me.nextMessage(r.id)
    await assert.rejects(me.open(s))
    me.retryReceipt(s, 1)
    const ev = await mock.wait({ type: 'retry-receipt' }, since)
    assert.deepEqual([ev.id, ev.count, ev.keys], [r.id, 1, false])
    const again = await me.nextMessage(r.id)
    assert.equal(again.content[0].attrs.count, '1')
    const [m] = await me.open(again)
    assert.equal(m.message.conversation, 'scrambled')
})

test('garbage always: every resend stays undecryptable, keys or not', async () => {
    const c = await contact()
    const r = ok(await mock.control('message', { from: c.phone, message: { conversation: 'never' }, garbage: 'always' }))
    let s = await me.nextMessage(r.id)
    await assert.rejects(me.open(s))
    me.retryReceipt(s, 1)
    s = await me.nextMessage(r.id)
    await assert.rejects(me.open(s))
    me.retryReceipt(s, 2, { keys: true })
    s = await me.nextMessage(r.id)
    assert.equal(s.content[0].attrs.count, '2')
    await assert.rejects(me.open(s))
})

test('a message not receipted comes again after the next login; a receipted one does not', async () => {
    const c = await contact()
    const a = ok(await mock.control('message', { from: c.phone, message: { conversation: 'receipted' } }))
    const b = ok(await mock.control('message', { from: c.phone, message: { conversation: 'not receipted' } }))
    const since = await mock.last()
    const sa = await me.nextMessage(a.id)
    await me.open(sa)
    me.receipt(sa)
    await me.open(await me.nextMessage(b.id))
    assert.equal((await mock.wait({ type: 'receipt-in' }, since)).id, a.id)
    me.close()
    await me.login()
    const again = await me.nextMessage(b.id)
    assert.equal(again.attrs.offline, '1')
    assert.ok(await me.next(n => n.tag === 'ib' && n.content[0].tag === 'offline'))
    await mock.wait({ type: 'message-redelivered', conn: String(me.conn) }, since)
    const redone = (await mock.control(`events?since=${since}&type=message-redelivered`)).body.events.map(e => e.id)
    assert.ok(redone.includes(b.id) && !redone.includes(a.id), JSON.stringify(redone))
    me.receipt(again)
    const stray = me.c.frames.find(n => n.tag === 'message' && n.attrs.id === a.id)
    assert.equal(stray, undefined)
})

test('group: an SKDM in a 1:1 enc for a device without the sender key, then skmsg only', async () => {
    const a = await contact(), b = await contact()
    const g = ok(await mock.control('group', { subject: 'Team', addressing_mode: 'lid', participants: [a.phone, b.phone] }))
    assert.match(g.jid, /@g\.us$/)
    const r = ok(await mock.control('message', { from: a.phone, chat: g.jid, message: { conversation: 'to all' } }))
    const s = await me.nextMessage(r.id)
    assert.equal(s.attrs.from, g.jid)
    assert.equal(s.attrs.participant, a.lid)
    assert.equal(s.attrs.participant_pn, a.pn)
    assert.equal(s.attrs.addressing_mode, 'lid')
    const got = await me.open(s)
    assert.deepEqual(got.map(x => x.type), ['pkmsg', 'skmsg'])
    assert.ok(got[0].message.senderKeyDistributionMessage)
    assert.equal(got[1].message.conversation, 'to all')
    const r2 = ok(await mock.control('message', { from: a.phone, chat: g.jid, message: { conversation: 'again' } }))
    const s2 = await me.nextMessage(r2.id)
    const got2 = await me.open(s2)
    assert.deepEqual(got2.map(x => x.type), ['skmsg'])
    assert.equal(got2[0].message.conversation, 'again')
    assert.equal((await mock.control('message', { from: (await contact()).phone, chat: g.jid, message: { conversation: 'x' } })).status, 400)
})

test('peer-message: our phone\'s DM reaches us wrapped in a DeviceSentMessage with recipient', async () => {
    const c = await contact()
    const r = ok(await mock.control('peer-message', { chat: c.pn, message: { conversation: 'from my phone' } }))
    const s = await me.nextMessage(r.id)
    assert.equal(s.attrs.from, `${me.user}@s.whatsapp.net`)
    assert.equal(s.attrs.recipient, c.pn)
    const [m] = await me.open(s)
    assert.equal(m.message.deviceSentMessage.destinationJid, c.pn)
    assert.equal(m.message.deviceSentMessage.message.conversation, 'from my phone')
})

test('receipt: a contact\'s read receipt for several of our ids, as the real stanza', async () => {
    const c = await contact()
    ok(await mock.control('receipt', { from: c.phone, ids: ['A1', 'A2', 'A3'], type: 'read' }))
    const n = await me.next(x => x.tag === 'receipt' && x.attrs.id === 'A1')
    assert.deepEqual([n.attrs.from, n.attrs.type], [c.pn, 'read'])
    assert.deepEqual(n.content[0].content.map(i => i.attrs.id), ['A2', 'A3'])
    ok(await mock.control('receipt', { from: c.phone, ids: ['D1'] }))
    assert.equal((await me.next(x => x.tag === 'receipt' && x.attrs.id === 'D1')).attrs.type, undefined)
})

test('we send a DM: every device of the contact and our phone (wrapped) get it, exactly once', async () => {
    const c = await contact({ devices: [0, 3] })
    const since = await mock.last()
    const sent = await me.sendDM(c.pn, { conversation: 'hello world' })
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    assert.deepEqual([ack.attrs.class, ack.attrs.error], ['message', undefined])
    const evs = (await mock.control(`events?since=${since}&type=delivered`)).body.events.filter(e => e.id === sent.id)
    assert.deepEqual(evs.map(e => e.to).sort(), [c.pn, `${c.phone}:3@s.whatsapp.net`, `${me.user}@s.whatsapp.net`].sort())
    for (const e of evs) {
        assert.equal(e.message.conversation, 'hello world')
        assert.equal(e.addressing, 'pn')
        // New sessions with the contact's devices; our phone's may be older.
        if (e.to !== `${me.user}@s.whatsapp.net`) assert.equal(e.enc, 'pkmsg')
    }
    // The same stanza again: recorded as redelivered, not delivered.
    me.send(sent.stanza)
    await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    const again = (await mock.control(`events?since=${since}`)).body.events.filter(e => e.id === sent.id && /delivered$/.test(e.type))
    assert.equal(again.filter(e => e.type === 'delivered').length, 3)
    // The contact's devices answered nothing yet, so this is pkmsg again... after it writes, msg.
    const r = ok(await mock.control('message', { from: c.phone, message: { conversation: 'reply' } }))
    await me.open(await me.nextMessage(r.id))
    const s2 = await me.sendDM(c.pn, { conversation: 'second' })
    await me.next(n => n.tag === 'ack' && n.attrs.id === s2.id)
    const second = (await mock.control(`events?since=${since}&type=delivered`)).body.events.filter(e => e.id === s2.id)
    assert.equal(second.find(e => e.to === c.pn).enc, 'msg')
})

test('we send to a LID: accepted and recorded as lid addressing', async () => {
    const c = await contact()
    const since = await mock.last()
    const sent = await me.sendDM(c.lid, { conversation: 'via lid' })
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    assert.equal(ack.attrs.error, undefined)
    const evs = (await mock.control(`events?since=${since}&type=delivered`)).body.events.filter(e => e.id === sent.id)
    assert.equal(evs.length, 2)
    assert.ok(evs.every(e => e.addressing === 'lid'))
})

// (bad-device-signature comes after good identities were seen: one that
// verified once does not let a spoilt signature through.)
for (const [spoil, re] of [['no-device-identity', /without <device-identity>/], ['no-dsm', /no DeviceSentMessage/],
    ['bad-device-signature', /deviceSignature does not verify/]]) {
    test(`refused: ${spoil}`, async () => {
        const c = await contact()
        const since = await mock.last()
        const sent = await me.sendDM(c.pn, { conversation: 'bad' }, { spoil })
        const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
        assert.equal(ack.attrs.error, '400')
        assert.match((await mock.wait({ type: 'refused' }, since)).reason, re)
    })
}

test('a device left out: the ack carries the server\'s phash and the record says stale', async () => {
    const c = await contact({ devices: [0, 4] })
    const since = await mock.last()
    const sent = await me.sendDM(c.pn, { conversation: 'partial' }, { spoil: 'leave-out' })
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    assert.match(ack.attrs.phash, /^2:[A-Za-z0-9+/]{8}$/)
    const ev = await mock.wait({ type: 'refused' }, since)
    assert.ok(ev.stale)
    assert.match(ev.reason, /no <enc> for/)
})

test('requires_token: 463 without a token, accepted with the granted tctoken', async () => {
    const c = await contact({ requires_token: true })
    const since = await mock.last()
    const bad = await me.sendDM(c.pn, { conversation: 'cold' })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === bad.id)).attrs.error, '463')
    const tok = ok(await mock.control('privacy-token', { phone: c.phone }))
    const note = await me.next(n => n.tag === 'notification' && n.attrs.type === 'privacy_token')
    assert.equal(note.attrs.from, c.pn)
    assert.equal(note.attrs.sender_lid, c.lid)
    const t = note.content[0].content[0]
    assert.deepEqual([t.attrs.type, Buffer.from(t.content).toString('hex')], ['trusted_contact', tok.token_hex])
    const good = await me.sendDM(c.pn, { conversation: 'warm' }, { tctoken: Buffer.from(tok.token_hex, 'hex') })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === good.id)).attrs.error, undefined)
    const old = ok(await mock.control('privacy-token', { phone: c.phone, t: Math.floor(Date.now() / 1000) - 40 * 86400 }))
    await me.next(n => n.tag === 'notification' && n.attrs.type === 'privacy_token')
    const stale = await me.sendDM(c.pn, { conversation: 'stale' }, { tctoken: Buffer.from(old.token_hex, 'hex') })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === stale.id)).attrs.error, '463')
    const wrong = await me.sendDM(c.pn, { conversation: 'forged' }, { tctoken: Buffer.alloc(32, 1) })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === wrong.id)).attrs.error, '463')
    assert.ok((await mock.control(`events?since=${since}&type=delivered`)).body.events.some(e => e.id === good.id))
    await me.iq({ xmlns: 'privacy', type: 'set' }, [{ tag: 'tokens', attrs: {}, content: [{ tag: 'token', attrs: { jid: c.lid, t: '1700000000', type: 'trusted_contact' } }] }])
    assert.equal((await mock.wait({ type: 'token-issued' }, since)).jid, c.lid)
})

test('ack-policy: the next ack carries the forced error once', async () => {
    const c = await contact()
    ok(await mock.control('ack-policy', { phone: c.phone, error: 475, once: true }))
    const a = await me.sendDM(c.pn, { conversation: 'one' })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === a.id)).attrs.error, '475')
    const b = await me.sendDM(c.pn, { conversation: 'two' })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === b.id)).attrs.error, undefined)
})

test('retry: a contact device asks again with fresh keys; we resend to it only, recorded with retry', async () => {
    const c = await contact({ devices: [0, 5] })
    const sent = await me.sendDM(c.pn, { conversation: 'lost' })
    await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    const since = await mock.last()
    ok(await mock.control('retry', { from: c.phone, device: 5, id: sent.id, fresh_session: true }))
    const rr = await me.next(n => n.tag === 'receipt' && n.attrs.type === 'retry' && n.attrs.id === sent.id)
    assert.equal(rr.attrs.from, `${c.phone}:5@s.whatsapp.net`)
    const keys = rr.content.find(n => n.tag === 'keys')
    assert.ok(keys)
    // The companion answers as clients do: a new session from <keys>, the same id to that device.
    const get = (n, tag) => Buffer.from(n.content.find(x => x.tag === tag).content)
    const k = keys.content.find(x => x.tag === 'key'), s = keys.content.find(x => x.tag === 'skey')
    const { signalAddress } = await import('../lib/signal-party.mjs')
    await me.party.startSession(signalAddress(rr.attrs.from), { registrationId: get(rr, 'registration').readUInt32BE(0), identity: get(keys, 'identity'),
        signedPreKey: { id: get(s, 'id').readUIntBE(0, 3), value: get(s, 'value'), signature: get(s, 'signature') }, preKey: { id: get(k, 'id').readUIntBE(0, 3), value: get(k, 'value') } })
    const e = await me.party.encrypt(signalAddress(rr.attrs.from), (await import('../lib/signal-party.mjs')).pad(P.Message.encode({ conversation: 'lost' }).finish()))
    me.send({ tag: 'message', attrs: { id: sent.id, to: c.pn, type: 'text' }, content: [
        { tag: 'participants', attrs: {}, content: [{ tag: 'to', attrs: { jid: rr.attrs.from }, content: [{ tag: 'enc', attrs: { v: '2', type: e.type, count: '1' }, content: e.body }] }] },
        { tag: 'device-identity', attrs: {}, content: me.deviceIdentity }] })
    const ev = await mock.wait({ type: 'delivered' }, since)
    assert.deepEqual([ev.to, ev.retry, ev.message.conversation], [rr.attrs.from, true, 'lost'])
})

test('we send to a group: group info, SKDM to every device, one skmsg each member decrypts, phash checked', async () => {
    const a = await contact({ devices: [0, 2], hosted: [77] }), b = await contact()
    const g = ok(await mock.control('group', { subject: 'Ops', addressing_mode: 'pn', participants: [a.phone, b.phone] }))
    const since = await mock.last()
    const sent = await me.sendGroup(g.jid, { conversation: 'hi group' })
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    assert.equal(ack.attrs.error, undefined)
    assert.equal(ack.attrs.phash, sent.phash)
    const evs = (await mock.control(`events?since=${since}&type=delivered`)).body.events.filter(e => e.id === sent.id)
    assert.deepEqual(evs.map(e => e.to).sort(), [a.pn, `${a.phone}:2@s.whatsapp.net`, b.pn, `${me.user}@s.whatsapp.net`].sort())
    assert.ok(evs.every(e => e.enc === 'skmsg' && e.message.conversation === 'hi group' && e.chat === g.jid))
    assert.equal((await mock.wait({ type: 'group-info' }, since)).jid, g.jid)
    // The next one needs no SKDM: only the skmsg.
    const s2 = await me.sendGroup(g.jid, { conversation: 'second' })
    await me.next(n => n.tag === 'ack' && n.attrs.id === s2.id)
    assert.equal((await mock.control(`events?since=${since}&type=delivered`)).body.events.filter(e => e.id === s2.id).length, 4)
    // A wrong phash: the ack gives the right one, the record says stale.
    const since2 = await mock.last()
    const s3 = await me.sendGroup(g.jid, { conversation: 'third' }, { spoil: 'phash' })
    const ack3 = await me.next(n => n.tag === 'ack' && n.attrs.id === s3.id)
    assert.equal(ack3.attrs.phash, sent.phash)
    const ev = await mock.wait({ type: 'refused' }, since2)
    assert.ok(ev.stale)
    assert.match(ev.reason, /phash/)
})

test('contact-devices: the device list changes and the companion gets <notification type="devices">', async () => {
    const c = await contact()
    const r = ok(await mock.control('contact-devices', { phone: c.phone, devices: [0, 6] }))
    assert.equal(r.notified, 1)
    const n = await me.next(x => x.tag === 'notification' && x.attrs.type === 'devices' && x.attrs.from === c.pn)
    assert.equal(n.attrs.lid, c.lid)
    const add = n.content[0]
    assert.equal(add.tag, 'add')
    assert.equal(add.content[0].attrs.jid, `${c.phone}:6@s.whatsapp.net`)
    const { phash } = await import('../lib/companion.mjs')
    assert.equal(add.attrs.device_hash, phash([c.pn, `${c.phone}:6@s.whatsapp.net`]))
    assert.deepEqual((await me.devices([c.pn])).sort(), [c.pn, `${c.phone}:6@s.whatsapp.net`].sort())
    ok(await mock.control('contact-devices', { phone: c.phone, devices: [0], notify: false }))
    ok(await mock.control('contact-devices', { phone: c.phone, devices: [0, 7] }))
    const n2 = await me.next(x => x.tag === 'notification' && x.attrs.type === 'devices' && x.attrs.from === c.pn)
    assert.deepEqual(n2.content.map(x => x.tag), ['add'])
})

test('restriction and encrypt-count: the server-pushed notifications', async () => {
    ok(await mock.control('restriction', { kind: 'reachout_timelock', active: true, ends: 1900000000 }))
    const n = await me.next(x => x.tag === 'notification' && x.attrs.type === 'mex')
    const u = n.content[0]
    assert.equal(u.attrs.op_name, 'NotificationUserReachoutTimelockUpdate')
    assert.deepEqual(JSON.parse(Buffer.from(u.content).toString()).data.xwa2_notify_account_reachout_timelock, { is_active: true, enforcement_type: 'DEFAULT', time_enforcement_ends: '1900000000' })
    ok(await mock.control('restriction', { kind: 'new_chat_capping', state: 'CAPPED' }))
    const n2 = await me.next(x => x.tag === 'notification' && x.attrs.type === 'mex')
    assert.equal(n2.content[0].attrs.op_name, 'MessageCappingInfoNotification')
    ok(await mock.control('encrypt-count', { count: 4 }))
    const n3 = await me.next(x => x.tag === 'notification' && x.attrs.type === 'encrypt')
    assert.equal(n3.content[0].attrs.value, '4')
})

test('receipts, acks, chatstate and presence from the companion are recorded', async () => {
    const since = await mock.last()
    me.send({ tag: 'chatstate', attrs: { to: '4915100000001@s.whatsapp.net' }, content: [{ tag: 'composing', attrs: {} }] })
    me.send({ tag: 'presence', attrs: { type: 'available', name: 'Bot' } })
    me.send({ tag: 'ack', attrs: { class: 'notification', id: 'n1', to: 's.whatsapp.net', type: 'devices' } })
    me.send({ tag: 'receipt', attrs: { id: 'R1', to: '4915100000001@s.whatsapp.net', type: 'read' }, content: [{ tag: 'list', attrs: {}, content: [{ tag: 'item', attrs: { id: 'R2' } }] }] })
    const cs = await mock.wait({ type: 'chatstate' }, since)
    assert.deepEqual([cs.to, cs.state], ['4915100000001@s.whatsapp.net', 'composing'])
    assert.equal((await mock.wait({ type: 'presence' }, since)).presence, 'available')
    const ak = await mock.wait({ type: 'ack-in' }, since)
    assert.deepEqual([ak.class, ak.id, ak.ack_type], ['notification', 'n1', 'devices'])
    const rc = await mock.wait({ type: 'receipt-in' }, since)
    assert.deepEqual([rc.receipt_type, rc.ids], ['read', ['R1', 'R2']])
    await assert.rejects(me.iq({ xmlns: 'w:nothing', type: 'get' }, [{ tag: 'x', attrs: {} }]), e => e.node.content[0].attrs.code === '501')
})

test('a peer message to our own account goes to our phone only, unwrapped; without category it is refused', async () => {
    const since = await mock.last()
    const own = `${me.user}@s.whatsapp.net`
    const mk = async (id, attrs) => {
        await me.startSessions([own])
        const e = await me.party.encrypt({ name: me.user, device: 0 }, (await import('../lib/signal-party.mjs')).pad(P.Message.encode(P.Message.fromObject({ protocolMessage: { type: 'APP_STATE_SYNC_KEY_REQUEST' } })).finish()))
        const content = [{ tag: 'participants', attrs: {}, content: [{ tag: 'to', attrs: { jid: own }, content: [{ tag: 'enc', attrs: { v: '2', type: e.type }, content: e.body }] }] }]
        if (e.type === 'pkmsg') content.push({ tag: 'device-identity', attrs: {}, content: me.deviceIdentity })
        me.send({ tag: 'message', attrs: { id, to: own, type: 'text', ...attrs }, content })
        return me.next(n => n.tag === 'ack' && n.attrs.id === id)
    }
    assert.equal((await mk('PEER1', { category: 'peer', push_priority: 'high_force' })).attrs.error, undefined)
    const ev = await mock.wait({ type: 'delivered' }, since)
    assert.deepEqual([ev.to, ev.message.protocolMessage.type], [own, 'APP_STATE_SYNC_KEY_REQUEST'])
    assert.equal((await mk('PEER2', {})).attrs.error, '400')
})

test('cstoken: HMAC(nct salt, "<lid>@lid") stands in for a missing tctoken', async () => {
    const crypto = await import('node:crypto')
    const c = await contact({ requires_token: true })
    const salt = crypto.randomBytes(32)
    ok(await mock.control('nct-salt', { salt_hex: salt.toString('hex') }))
    const good = await me.sendDM(c.pn, { conversation: 'cs' }, { cstoken: crypto.createHmac('sha256', salt).update(c.lid).digest() })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === good.id)).attrs.error, undefined)
    const bad = await me.sendDM(c.pn, { conversation: 'cs' }, { cstoken: crypto.createHmac('sha256', salt).update(c.pn).digest() })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === bad.id)).attrs.error, '463')
})

test('a contact\'s companion device sends with its <device-identity> signed by the contact\'s account', async () => {
    const c = await contact({ devices: [0, 9] })
    const r = ok(await mock.control('message', { from: c.phone, device: 9, message: { locationMessage: { degreesLatitude: 52.5, degreesLongitude: 13.4 } } }))
    const s = await me.nextMessage(r.id)
    assert.equal(s.attrs.from, `${c.phone}:9@s.whatsapp.net`)
    const di = P.ADVSignedDeviceIdentity.decode(s.content.find(n => n.tag === 'device-identity').content)
    assert.equal(P.ADVDeviceIdentity.decode(di.details).keyIndex > 0, true)
    const [m] = await me.open(s)
    assert.equal(m.message.locationMessage.degreesLatitude, 52.5)
})

test('a removed device still in our list: taken as stale, the others get it', async () => {
    const c = await contact({ devices: [0, 8] })
    await me.devices([c.pn]) // cached by the test's own list below
    ok(await mock.control('contact-devices', { phone: c.phone, devices: [0], notify: false }))
    const since = await mock.last()
    const { signalAddress, pad } = await import('../lib/signal-party.mjs')
    const targets = [c.pn, `${c.phone}:8@s.whatsapp.net`, `${me.user}@s.whatsapp.net`]
    await me.startSessions(targets.filter(j => !j.includes(':8@')))
    const participants = []
    for (const j of targets) {
        if (!me.party.hasSession(signalAddress(j))) continue // no bundle for the removed device
        const m = j.startsWith(me.user) ? { deviceSentMessage: { destinationJid: c.pn, message: { conversation: 'x' } } } : { conversation: 'x' }
        const e = await me.party.encrypt(signalAddress(j), pad(P.Message.encode(m).finish()))
        participants.push({ tag: 'to', attrs: { jid: j }, content: [{ tag: 'enc', attrs: { v: '2', type: e.type }, content: e.body }] })
    }
    // The removed device's enc: any bytes (a real client would still hold a session).
    participants.push({ tag: 'to', attrs: { jid: `${c.phone}:8@s.whatsapp.net` }, content: [{ tag: 'enc', attrs: { v: '2', type: 'msg' }, content: Buffer.alloc(40, 1) }] })
    me.send({ tag: 'message', attrs: { id: 'STALE1', to: c.pn, type: 'text' }, content: [{ tag: 'participants', attrs: {}, content: participants },
        { tag: 'device-identity', attrs: {}, content: me.deviceIdentity }] })
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === 'STALE1')
    assert.equal(ack.attrs.error, undefined)
    assert.ok(ack.attrs.phash)
    assert.match((await mock.wait({ type: 'refused', id: 'STALE1' }, since)).reason, /no such device/)
    assert.equal((await mock.wait({ type: 'delivered', id: 'STALE1' }, since)).to, c.pn)
})

test('garbage once, retry with <keys> from count 2: the sender starts a new session from them', async () => {
    const c = await contact()
    const r = ok(await mock.control('message', { from: c.phone, message: { conversation: 'rekeyed' }, garbage: 'once' }))
    const s = await me.nextMessage(r.id)
    await assert.rejects(me.open(s))
    me.retryReceipt(s, 2, { keys: true })
    const again = await me.nextMessage(r.id)
    assert.equal(again.content[0].attrs.type, 'pkmsg')
    assert.equal(again.content[0].attrs.count, '2')
    const [m] = await me.open(again)
    assert.equal(m.message.conversation, 'rekeyed')
})

test('a retry receipt for a group message: the content again in a 1:1 enc to that companion', async () => {
    const a = await contact()
    const g = ok(await mock.control('group', { subject: 'Retry', addressing_mode: 'pn', participants: [a.phone] }))
    const r = ok(await mock.control('message', { from: a.phone, chat: g.jid, message: { conversation: 'group text' }, garbage: 'once' }))
    const s = await me.nextMessage(r.id)
    await assert.rejects(me.open(s))
    me.retryReceipt(s, 1)
    const again = await me.nextMessage(r.id)
    assert.equal(again.attrs.participant, a.pn)
    const got = await me.open(again)
    assert.deepEqual(got.map(x => x.type).length, 1)
    assert.equal(got[0].message.conversation, 'group text')
})

test('a second companion of ours: included in the fan-out and gets its enc passed on', async () => {
    const other = await Companion.pair(mock, { phone: me.user })
    try {
        const c = await contact()
        const since = await mock.last()
        const devs = await me.devices([`${me.user}@s.whatsapp.net`])
        assert.ok(devs.includes(other.jid), JSON.stringify(devs))
        const sent = await me.sendDM(c.pn, { conversation: 'to both' })
        assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)).attrs.error, undefined)
        const s = await other.nextMessage(sent.id)
        assert.deepEqual([s.attrs.from, s.attrs.recipient], [me.jid, c.pn])
        const [m] = await other.open(s)
        assert.equal(m.message.deviceSentMessage.message.conversation, 'to both')
        const evs = (await mock.control(`events?since=${since}&type=delivered&id=${sent.id}`)).body.events
        assert.equal(evs.find(e => e.to === other.jid).forwarded, true)
        // And a contact's message now goes to both companions.
        const r = ok(await mock.control('message', { from: c.phone, message: { conversation: 'both of you' } }))
        assert.equal(r.to.length, 2)
        for (const x of [me, other]) assert.equal((await x.open(await x.nextMessage(r.id)))[0].message.conversation, 'both of you')
    } finally {
        other.close()
    }
})

test('edits and revokes carry the edit attribute (1 and 7)', async () => {
    const c = await contact()
    const e = ok(await mock.control('message', { from: c.phone, message: { protocolMessage: { type: 'MESSAGE_EDIT', key: { id: 'ORIG1', remoteJid: c.pn, fromMe: true }, editedMessage: { conversation: 'fixed' } } } }))
    const s = await me.nextMessage(e.id)
    assert.equal(s.attrs.edit, '1')
    assert.equal((await me.open(s))[0].message.protocolMessage.editedMessage.conversation, 'fixed')
    const r = ok(await mock.control('message', { from: c.phone, message: { protocolMessage: { type: 'REVOKE', key: { id: 'ORIG1', remoteJid: c.pn, fromMe: true } } } }))
    const s2 = await me.nextMessage(r.id)
    assert.equal(s2.attrs.edit, '7')
    assert.equal((await me.open(s2))[0].message.protocolMessage.key.id, 'ORIG1')
})

test('usync by phone number: on WhatsApp or not', async () => {
    const c = await contact()
    const r = await me.iq({ xmlns: 'usync', type: 'get' }, [{ tag: 'usync', attrs: { sid: 'p', mode: 'query', last: 'true', index: '0', context: 'interactive' }, content: [
        { tag: 'query', attrs: {}, content: [{ tag: 'contact', attrs: {} }] },
        { tag: 'list', attrs: {}, content: [{ tag: 'user', attrs: {}, content: [{ tag: 'contact', attrs: {}, content: `+${c.phone}` }] },
            { tag: 'user', attrs: {}, content: [{ tag: 'contact', attrs: {}, content: '+19990000001' }] }] }] }])
    const users = r.content[0].content.find(n => n.tag === 'list').content
    assert.deepEqual(users.map(u => [u.attrs.jid, u.content[0].attrs.type]), [[c.pn, 'in'], ['19990000001@s.whatsapp.net', 'out']])
})

test('hostile companion stanzas are refused, not fatal: bad <keys>, an enc without bytes', async () => {
    const c = await contact()
    const r = ok(await mock.control('message', { from: c.phone, message: { conversation: 'k' }, garbage: 'once' }))
    const s = await me.nextMessage(r.id)
    const since = await mock.last()
    me.send({ tag: 'receipt', attrs: { id: r.id, to: s.attrs.from, type: 'retry' }, content: [
        { tag: 'retry', attrs: { count: '2', id: r.id, t: s.attrs.t, v: '1' } }, { tag: 'registration', attrs: {}, content: Buffer.alloc(4, 1) },
        { tag: 'keys', attrs: {}, content: [{ tag: 'type', attrs: {}, content: Buffer.from([5]) }, { tag: 'identity', attrs: {}, content: Buffer.alloc(7) }] }] })
    assert.match((await mock.wait({ type: 'refused', id: r.id }, since)).reason, /without registration/)
    me.send({ tag: 'message', attrs: { id: 'EMPTY1', to: c.pn, type: 'text' }, content: [{ tag: 'participants', attrs: {}, content: [
        { tag: 'to', attrs: { jid: c.pn }, content: [{ tag: 'enc', attrs: { v: '2', type: 'msg' } }] }] }] })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === 'EMPTY1')).attrs.error, '400')
    // Still connected: a ping is answered.
    await me.iq({ xmlns: 'w:p', type: 'get' }, [{ tag: 'ping', attrs: {} }])
})

test('a receipt sent to the wrong place is recorded as refused', async () => {
    const c = await contact()
    const r = ok(await mock.control('message', { from: c.phone, addressing: 'lid', message: { conversation: 'where' } }))
    const s = await me.nextMessage(r.id)
    await me.open(s)
    const since = await mock.last()
    me.send({ tag: 'receipt', attrs: { id: r.id, to: c.pn } })
    const ev = await mock.wait({ type: 'refused', id: r.id }, since)
    assert.match(ev.reason, new RegExp(`to=${c.pn}, want ${c.lid}`))
})

test('a read receipt names the chat and the author in the form the message came in; the device need not match', async () => {
    const c = await contact({ devices: [0, 2] })
    const r = ok(await mock.control('message', { from: c.phone, device: 2, addressing: 'lid', message: { conversation: 'seen?' } }))
    const s = await me.nextMessage(r.id)
    await me.open(s)
    const since = await mock.last()
    // To the chat's LID without the device, as whatsmeow's MarkRead sends it: taken.
    me.send({ tag: 'receipt', attrs: { id: r.id, to: c.lid, type: 'read' } })
    await mock.wait({ type: 'receipt-in', id: r.id }, since)
    // To its PN: the form is wrong, refused.
    const mid = await mock.last()
    me.send({ tag: 'receipt', attrs: { id: r.id, to: c.pn, type: 'read' } })
    const ev = await mock.wait({ type: 'refused', id: r.id }, mid)
    assert.match(ev.reason, new RegExp(`to=${c.pn}, want ${c.lid.replace('@', ':2@')}`))
    const refused = (await mock.control(`events?since=${since}&type=refused`)).body.events
    assert.equal(refused.length, 1, 'only the PN-addressed one is refused')
})

// --- retry resends (waweb.md 1.17): whatsmeow's form, one device, PN or LID ---

// The <keys> of a contact's retry receipt as a bundle, started as a session
// under `jid` (the address our companion keeps that device under).
async function sessionFromRetry(rr, jid) {
    const { signalAddress } = await import('../lib/signal-party.mjs')
    const get = (n, tag) => Buffer.from(n.content.find(x => x.tag === tag).content)
    const keys = rr.content.find(n => n.tag === 'keys')
    const k = keys.content.find(x => x.tag === 'key'), s = keys.content.find(x => x.tag === 'skey')
    await me.party.startSession(signalAddress(jid), { registrationId: get(rr, 'registration').readUInt32BE(0), identity: get(keys, 'identity'),
        signedPreKey: { id: get(s, 'id').readUIntBE(0, 3), value: get(s, 'value'), signature: get(s, 'signature') }, preKey: { id: get(k, 'id').readUIntBE(0, 3), value: get(k, 'value') } })
}

// One <enc count> for `jid`, of `message`, as a retry resend carries it.
async function retryEnc(jid, message, count) {
    const { signalAddress, pad } = await import('../lib/signal-party.mjs')
    const e = await me.party.encrypt(signalAddress(jid), pad(P.Message.encode(P.Message.fromObject(message)).finish()))
    return { enc: { tag: 'enc', attrs: { v: '2', type: e.type, count: String(count) }, content: e.body }, type: e.type }
}

const idn = () => ({ tag: 'device-identity', attrs: {}, content: me.deviceIdentity })
const eventsOf = async (since, id) => (await mock.control(`events?since=${since}`)).body.events.filter(e => e.id === id)

test('group retry resend in whatsmeow\'s form: participant=<device>, a bare <enc count>, SKDM along; delivered with retry, then redelivered', async () => {
    const a = await contact({ devices: [0, 3] }), b = await contact()
    const g = ok(await mock.control('group', { subject: 'Again', addressing_mode: 'pn', participants: [a.phone, b.phone] }))
    const sent = await me.sendGroup(g.jid, { conversation: 'group lost' })
    await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    const since = await mock.last()
    ok(await mock.control('retry', { from: a.phone, device: 3, id: sent.id, fresh_session: true }))
    const rr = await me.next(n => n.tag === 'receipt' && n.attrs.type === 'retry' && n.attrs.id === sent.id)
    assert.deepEqual([rr.attrs.from, rr.attrs.participant], [g.jid, `${a.phone}:3@s.whatsapp.net`])
    await sessionFromRetry(rr, rr.attrs.participant)
    const { signalAddress } = await import('../lib/signal-party.mjs')
    const skdm = await me.party.senderKeyDistribution(g.jid, signalAddress(me.jid))
    const { enc, type } = await retryEnc(rr.attrs.participant, { conversation: 'group lost',
        senderKeyDistributionMessage: { groupId: g.jid, axolotlSenderKeyDistributionMessage: skdm } }, 1)
    assert.equal(type, 'pkmsg')
    const resend = { tag: 'message', attrs: { id: sent.id, to: g.jid, participant: rr.attrs.participant, type: 'text', t: rr.attrs.t }, content: [enc, idn()] }
    me.send(resend)
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    assert.equal(ack.attrs.error, undefined)
    const evs = await eventsOf(since, sent.id)
    const got = evs.filter(e => /delivered$/.test(e.type))
    assert.equal(got.length, 1, JSON.stringify(evs))
    assert.deepEqual([got[0].type, got[0].to, got[0].retry, got[0].enc, got[0].chat], ['delivered', rr.attrs.participant, true, 'pkmsg', g.jid])
    assert.deepEqual(got[0].message, { conversation: 'group lost' })
    assert.deepEqual(evs.filter(e => e.type === 'refused'), [])
    // The same resend again, unasked: that device had it, so redelivered.
    const since2 = await mock.last()
    const { enc: enc2 } = await retryEnc(rr.attrs.participant, { conversation: 'group lost' }, 2)
    me.send({ ...resend, content: [enc2, idn()] })
    await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    const again = (await eventsOf(since2, sent.id)).filter(e => /delivered$/.test(e.type))
    assert.deepEqual(again.map(e => [e.type, e.to, e.retry]), [['redelivered', rr.attrs.participant, true]])
})

test('group retry resend naming the device by its LID in a PN group: the same device, recorded under the group\'s PN', async () => {
    const a = await contact({ devices: [0, 4] })
    const g = ok(await mock.control('group', { subject: 'Lid again', addressing_mode: 'pn', participants: [a.phone] }))
    const sent = await me.sendGroup(g.jid, { conversation: 'lid retry' })
    await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    const since = await mock.last()
    ok(await mock.control('retry', { from: a.phone, device: 4, id: sent.id, fresh_session: true }))
    const rr = await me.next(n => n.tag === 'receipt' && n.attrs.type === 'retry' && n.attrs.id === sent.id)
    assert.equal(rr.attrs.participant, `${a.phone}:4@s.whatsapp.net`)
    // The client keeps that device's session under its LID, and answers so.
    const lidDev = `${a.lid.split('@')[0]}:4@lid`
    await sessionFromRetry(rr, lidDev)
    const { enc } = await retryEnc(lidDev, { conversation: 'lid retry' }, 1)
    me.send({ tag: 'message', attrs: { id: sent.id, to: g.jid, participant: lidDev, type: 'text' }, content: [enc, idn()] })
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    assert.equal(ack.attrs.error, undefined)
    const evs = await eventsOf(since, sent.id)
    assert.deepEqual(evs.filter(e => /delivered$/.test(e.type)).map(e => [e.type, e.to, e.retry, e.message?.conversation]),
        [['delivered', rr.attrs.participant, true, 'lid retry']])
    assert.deepEqual(evs.filter(e => e.type === 'refused'), [])
})

test('DM retry resend to one device (to=<device JID>, bare <enc count>) under the device\'s LID: delivered with retry, not stale', async () => {
    const c = await contact({ devices: [0, 6, 7] })
    const sent = await me.sendDM(c.pn, { conversation: 'dm lost' })
    await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    const since = await mock.last()
    ok(await mock.control('retry', { from: c.phone, device: 6, id: sent.id, fresh_session: true }))
    const rr = await me.next(n => n.tag === 'receipt' && n.attrs.type === 'retry' && n.attrs.id === sent.id)
    assert.equal(rr.attrs.from, `${c.phone}:6@s.whatsapp.net`)
    const lidDev = `${c.lid.split('@')[0]}:6@lid`
    await sessionFromRetry(rr, lidDev)
    const { enc } = await retryEnc(lidDev, { conversation: 'dm lost' }, 1)
    me.send({ tag: 'message', attrs: { id: sent.id, to: lidDev, type: 'text', device_fanout: 'false' }, content: [enc, idn()] })
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    assert.deepEqual([ack.attrs.error, ack.attrs.phash], [undefined, undefined])
    const evs = await eventsOf(since, sent.id)
    assert.deepEqual(evs.filter(e => /delivered$/.test(e.type)).map(e => [e.type, e.to, e.retry, e.message?.conversation, e.addressing]),
        [['delivered', lidDev, true, 'dm lost', 'lid']])
    assert.deepEqual(evs.filter(e => e.type === 'refused'), [])
})

test('DM retry resend with <participants> holding the one device (enc count): not a fan-out, no stale record', async () => {
    const c = await contact({ devices: [0, 9] })
    const sent = await me.sendDM(c.pn, { conversation: 'dm again' })
    await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    const since = await mock.last()
    ok(await mock.control('retry', { from: c.phone, device: 9, id: sent.id }))
    const rr = await me.next(n => n.tag === 'receipt' && n.attrs.type === 'retry' && n.attrs.id === sent.id)
    const { enc, type } = await retryEnc(rr.attrs.from, { conversation: 'dm again' }, 1)
    const content = [{ tag: 'participants', attrs: {}, content: [{ tag: 'to', attrs: { jid: rr.attrs.from }, content: [enc] }] }]
    if (type === 'pkmsg') content.push(idn())
    me.send({ tag: 'message', attrs: { id: sent.id, to: c.pn, type: 'text' }, content })
    const ack = await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    assert.deepEqual([ack.attrs.error, ack.attrs.phash], [undefined, undefined])
    const evs = await eventsOf(since, sent.id)
    assert.deepEqual(evs.filter(e => /delivered$/.test(e.type)).map(e => [e.type, e.to, e.retry]), [['delivered', rr.attrs.from, true]])
    assert.deepEqual(evs.filter(e => e.type === 'refused'), [])
    // Without count it is a fan-out again, and one device is a stale set.
    const since2 = await mock.last()
    const { enc: plainEnc, type: t2 } = await retryEnc(rr.attrs.from, { conversation: 'dm again' }, 1)
    delete plainEnc.attrs.count
    me.send({ tag: 'message', attrs: { id: sent.id, to: c.pn, type: 'text' }, content: [{ tag: 'participants', attrs: {}, content: [{ tag: 'to', attrs: { jid: rr.attrs.from }, content: [plainEnc] }] },
        ...(t2 === 'pkmsg' ? [idn()] : [])] })
    await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)
    const stale = await mock.wait({ type: 'refused', id: sent.id }, since2)
    assert.ok(stale.stale, JSON.stringify(stale))
})

test('a bare <enc> without count in a DM, or a retry resend to a device JID outside the chat, is refused', async () => {
    const c = await contact()
    const since = await mock.last()
    const enc = { tag: 'enc', attrs: { v: '2', type: 'msg' }, content: Buffer.alloc(40, 1) }
    me.send({ tag: 'message', attrs: { id: 'BARE1', to: `${c.phone}@s.whatsapp.net`, type: 'text' }, content: [enc] })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === 'BARE1')).attrs.error, '400')
    assert.match((await mock.wait({ type: 'refused', id: 'BARE1' }, since)).reason, /outside <participants>/)
    const g = ok(await mock.control('group', { subject: 'Outside', participants: [c.phone] }))
    const other = await contact()
    const e2 = { tag: 'enc', attrs: { v: '2', type: 'pkmsg', count: '1' }, content: Buffer.alloc(40, 1) }
    me.send({ tag: 'message', attrs: { id: 'BARE2', to: g.jid, participant: other.pn, type: 'text' }, content: [e2, idn()] })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === 'BARE2')).attrs.error, '400')
    assert.match((await mock.wait({ type: 'refused', id: 'BARE2' }, since)).reason, /not in the chat/)
})

test('a contact whose messages come by PN and then by LID keeps one session with us', async () => {
    const c = await contact()
    const r1 = ok(await mock.control('message', { from: c.phone, message: { conversation: 'by pn' }, addressing: 'pn' }))
    const s1 = await me.nextMessage(r1.id)
    assert.equal((await me.open(s1))[0].message.conversation, 'by pn')
    // Our answer settles the session on the contact's side: what comes next is a msg.
    const reply = await me.sendDM(c.pn, { conversation: 'ok' })
    await me.next(n => n.tag === 'ack' && n.attrs.id === reply.id)
    const r2 = ok(await mock.control('message', { from: c.phone, message: { conversation: 'by lid' }, addressing: 'lid' }))
    const s2 = await me.nextMessage(r2.id)
    assert.equal(s2.attrs.from, c.lid)
    assert.equal(s2.content.find(n => n.tag === 'enc').attrs.type, 'msg')
    assert.equal((await me.open(s2))[0].message.conversation, 'by lid')
})

test('burst: messages encrypted first, then sent in order from each contact, paced when asked', async () => {
    const a = await contact({ name: 'Ada' }), b = await contact({ name: 'Ben' })
    const since = await mock.last()
    const r = ok(await mock.control('burst', { from: [a.phone, b.phone], count: 6, text: 'load', id_prefix: 'BURSTA' }))
    assert.deepEqual(r.ids, ['BURSTA0', 'BURSTA1', 'BURSTA2', 'BURSTA3', 'BURSTA4', 'BURSTA5'])
    assert.equal(r.sent_at.length, 6)
    assert.ok(r.encrypt_ms > 0 && r.send_ms >= 0)
    for (const [i, id] of r.ids.entries()) {
        const s = await me.nextMessage(id)
        const who = i % 2 ? b : a
        assert.equal(s.attrs.from, who.pn, `${id} comes from its contact`)
        assert.equal(s.attrs.notify, i % 2 ? 'Ben' : 'Ada')
        const [m] = await me.open(s)
        assert.equal(m.message.conversation, `load ${i}`, `${id} decrypts to its text, in order`)
        me.receipt(s)
    }
    const sent = (await mock.control(`events?since=${since}&type=message-sent`)).body.events.filter(e => e.id.startsWith('BURSTA'))
    const byTo = new Map()
    for (const e of sent) byTo.set(e.to, [...(byTo.get(e.to) ?? []), e.id])
    assert.ok(byTo.size >= 1)
    for (const [to, ids] of byTo) assert.deepEqual(ids, r.ids, `one message-sent event per message to ${to}, in order`)
    const paced = ok(await mock.control('burst', { from: [a.phone], count: 3, interval_ms: 50, id_prefix: 'BURSTB' }))
    assert.ok(paced.sent_at[2] - paced.sent_at[0] >= 95, `paced: ${paced.sent_at}`)
    for (const id of paced.ids) { const s = await me.nextMessage(id); await me.open(s); me.receipt(s) }
    assert.equal((await mock.control('burst', { from: ['19990000009'], count: 1 })).status, 400, 'a stranger is refused')
    assert.equal((await mock.control('burst', { from: [a.phone], count: 0 })).status, 400, 'so is no message')
})

const groupNote = (jid, type = 'w:gp2') => me.next(x => x.tag === 'notification' && x.attrs.type === type && x.attrs.from === jid)

test('group-subject: the group is renamed, w:gp2 <subject> to the companion, group info says the new one', async () => {
    const a = await contact()
    const g = ok(await mock.control('group', { subject: 'Before', addressing_mode: 'pn', participants: [a.phone] }))
    const r = ok(await mock.control('group-subject', { jid: g.jid, subject: 'After — renamed' }))
    assert.deepEqual([r.subject, r.notified], ['After — renamed', 1])
    const n = await groupNote(g.jid)
    assert.equal(n.attrs.participant, `${me.user}@s.whatsapp.net`)
    assert.equal(n.content[0].tag, 'subject')
    assert.equal(n.content[0].attrs.subject, 'After — renamed')
    const info = await me.iq({ xmlns: 'w:g2', type: 'get', to: g.jid }, [{ tag: 'query', attrs: { request: 'interactive' } }])
    assert.equal(info.content[0].attrs.subject, 'After — renamed')
    assert.equal((await mock.control('group-subject', { jid: g.jid, subject: '' })).status, 400)
    assert.equal((await mock.control('group-subject', { jid: '1@g.us', subject: 'x' })).status, 400)
})

test('group-participants: removed and added in the group\'s mode; a removed member reads an old sender key, not a renewed one', async () => {
    const a = await contact(), b = await contact(), c = await contact({ devices: [0, 5] })
    const g = ok(await mock.control('group', { subject: 'Crew', addressing_mode: 'lid', participants: [a.phone, b.phone] }))
    const before = await me.sendGroup(g.jid, { conversation: 'before' })
    await me.next(x => x.tag === 'ack' && x.attrs.id === before.id)
    const r = ok(await mock.control('group-participants', { jid: g.jid, remove: [b.phone], add: [c.phone], author: a.phone }))
    assert.deepEqual([r.removed, r.added, r.participants], [[b.phone], [c.phone], [a.phone, c.phone]])
    const n = await groupNote(g.jid)
    assert.equal(n.attrs.participant, a.lid)
    assert.deepEqual(n.content.map(x => x.tag), ['remove', 'add'])
    assert.deepEqual(n.content[0].content[0].attrs, { jid: b.lid, phone_number: b.pn })
    assert.equal(n.content[1].content[0].attrs.jid, c.lid)
    // Our old sender key: the removed member can still read it.
    let since = await mock.last()
    const old = await me.sendGroup(g.jid, { conversation: 'same key' })
    await me.next(x => x.tag === 'ack' && x.attrs.id === old.id)
    const leak = await mock.wait({ type: 'leaked', id: old.id }, since)
    assert.equal(leak.to, b.lid)
    let evs = (await mock.control(`events?since=${since}&type=delivered`)).body.events.filter(e => e.id === old.id)
    // (Our own account's devices get it too: how many depends on the companions earlier tests paired.)
    const members = list => list.map(e => e.to).filter(j => !j.startsWith(`${me.lid}:`) && j !== `${me.lid}@lid`).sort()
    const want = [a.lid, c.lid, `${c.lid.split('@')[0]}:5@lid`].sort()
    assert.deepEqual(members(evs), want)
    assert.ok(evs.some(e => e.to === `${me.lid}@lid`), 'our phone gets it')
    // A renewed one: every member gets it, the removed one cannot read it.
    since = await mock.last()
    const renewed = await me.sendGroup(g.jid, { conversation: 'new key' }, { renew: true })
    await me.next(x => x.tag === 'ack' && x.attrs.id === renewed.id)
    evs = (await mock.control(`events?since=${since}`)).body.events.filter(e => e.id === renewed.id)
    assert.deepEqual(members(evs.filter(e => e.type === 'delivered')), want)
    assert.deepEqual(evs.filter(e => e.type === 'leaked' || e.type === 'refused'), [])
    assert.equal((await mock.control('group-participants', { jid: g.jid, remove: [b.phone] })).status, 400)
})

test('new-identity: the contact reinstalls; an old session cannot reach it, a new one (pkmsg) does', async () => {
    const c = await contact({ devices: [0, 2] })
    const first = await me.sendDM(c.lid, { conversation: 'before' })
    await me.next(x => x.tag === 'ack' && x.attrs.id === first.id)
    const r = ok(await mock.control('new-identity', { phone: c.phone }))
    assert.equal(r.notified, 1)
    const n = await me.next(x => x.tag === 'notification' && x.attrs.type === 'encrypt' && x.attrs.from === c.lid)
    assert.equal(n.content[0].tag, 'identity')
    let since = await mock.last()
    const stale = await me.sendDM(c.lid, { conversation: 'old session' })
    await me.next(x => x.tag === 'ack' && x.attrs.id === stale.id)
    const bad = await mock.wait({ type: 'undecryptable', id: stale.id }, since)
    assert.match(bad.reason, /msg/)
    // Sessions dropped (what our companion does on the notification): pkmsg, readable.
    const { signalAddress } = await import('../lib/signal-party.mjs')
    for (const j of [c.lid, `${c.lid.split('@')[0]}:2@lid`]) me.party.sessions.delete(`${signalAddress(j).name}.${signalAddress(j).device}`)
    since = await mock.last()
    const fresh = await me.sendDM(c.lid, { conversation: 'new session' })
    await me.next(x => x.tag === 'ack' && x.attrs.id === fresh.id)
    const evs = (await mock.control(`events?since=${since}`)).body.events.filter(e => e.id === fresh.id)
    const theirs = evs.filter(e => e.type === 'delivered' && e.to.startsWith(c.lid.split('@')[0]))
    assert.equal(theirs.length, 2)
    assert.ok(theirs.every(e => e.enc === 'pkmsg' && e.message.conversation === 'new session'))
    assert.deepEqual(evs.filter(e => e.type === 'undecryptable'), [])
    assert.equal((await mock.control('new-identity', { phone: '19990000001' })).status, 400)
})
