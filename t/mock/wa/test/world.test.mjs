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
    await mock.wait({ type: 'message-redelivered', conn: String(me.conn) }, since)
    const redone = (await mock.control(`events?since=${since}&type=message-redelivered`)).body.events.map(e => e.id)
    assert.ok(redone.includes(b.id) && !redone.includes(a.id), JSON.stringify(redone))
    me.receipt(again)
    const stray = me.c.frames.find(n => n.tag === 'message' && n.attrs.id === a.id)
    assert.equal(stray, undefined)
})
