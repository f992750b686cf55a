// A device of the world that cannot decrypt what our companion sent it asks
// for the message again, as real clients do (waweb.md 1.17): the stanza is
// acked, the other devices have it, and that device sends a retry receipt,
// count 1 bare, from 2 on with a fresh bundle in <keys>, and gives up after 5.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as B from 'baileys'
import { startMock } from '../lib/harness.mjs'
import { Companion } from '../lib/companion.mjs'
import { signalAddress, pad } from '../lib/signal-party.mjs'

const P = B.proto
let mock, me
let nextPhone = 4915200000001
const newPhone = () => String(nextPhone++)

before(async () => {
    mock = await startMock()
    me = await Companion.pair(mock, { phone: '15550002000' })
})
after(async () => { me?.close(); await mock.stop() })

const ok = r => { assert.equal(r.status, 200, JSON.stringify(r.body)); return r.body }
async function contact(extra = {}) {
    const phone = extra.phone ?? newPhone()
    return { phone, ...ok(await mock.control('contact', { phone, ...extra })) }
}
const eventsOf = async (since, id) => (await mock.control(`events?since=${since}`)).body.events.filter(e => e.id === id)
const idn = () => ({ tag: 'device-identity', attrs: {}, content: me.deviceIdentity })
const child = (n, tag) => (Array.isArray(n.content) ? n.content : []).find(c => c.tag === tag)
const isRetry = id => n => n.tag === 'receipt' && n.attrs.type === 'retry' && n.attrs.id === id

// The ack for `id`, and then the retry receipt: the device answers after
// the server acked (whichever comes first is taken first).
async function ackThenRetry(id) {
    const first = await me.next(n => (n.tag === 'ack' && n.attrs.id === id) || isRetry(id)(n))
    assert.equal(first.tag, 'ack', 'the ack comes before the retry receipt')
    assert.equal(first.attrs.error, undefined, 'an undecryptable enc is no refusal')
    return me.next(isRetry(id))
}

// A resend as our bridge sends one in a DM: the chat as `to`, only that
// device in <participants>, its enc with count.
async function resendDM(chat, device, id, message, count) {
    const e = await me.party.encrypt(signalAddress(device), pad(P.Message.encode(P.Message.fromObject(message)).finish()))
    const content = [{ tag: 'participants', attrs: {}, content: [{ tag: 'to', attrs: { jid: device }, content: [
        { tag: 'enc', attrs: { v: '2', type: e.type, count: String(count) }, content: e.body }] }] }]
    if (e.type === 'pkmsg') content.push(idn())
    me.send({ tag: 'message', attrs: { id, to: chat, type: 'text' }, content })
    return e.type
}

// The <keys> of a retry receipt as a new session under `jid`.
async function sessionFromKeys(rr, jid) {
    const get = (n, tag) => Buffer.from(child(n, tag).content)
    const keys = child(rr, 'keys'), k = child(keys, 'key'), s = child(keys, 'skey')
    await me.party.startSession(signalAddress(jid), { registrationId: get(rr, 'registration').readUInt32BE(0), identity: get(keys, 'identity'),
        signedPreKey: { id: get(s, 'id').readUIntBE(0, 3), value: get(s, 'value'), signature: get(s, 'signature') },
        preKey: { id: get(k, 'id').readUIntBE(0, 3), value: get(k, 'value') } })
}

// A contact with devices 0 and 2 that already decrypted one message of ours,
// then device 2 forgets its sessions.
async function brokenDevice() {
    const c = await contact({ devices: [0, 2] })
    const first = await me.sendDM(c.pn, { conversation: 'before' })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === first.id)).attrs.error, undefined)
    assert.deepEqual(ok(await mock.control('forget-session', { from: c.phone, device: 2 })), { forgotten: 1 })
    return { c, dev: `${c.phone}:2@s.whatsapp.net` }
}

test('a device without the session: acked, the others have it, then retry count 1 without keys, count 2 with keys; the keyed resend is delivered once', async () => {
    const { c, dev } = await brokenDevice()
    const since = await mock.last()
    const sent = await me.sendDM(c.pn, { conversation: 'after' })
    const rr1 = await ackThenRetry(sent.id)
    assert.deepEqual([rr1.attrs.from, rr1.attrs.participant, child(rr1, 'retry').attrs.count, child(rr1, 'retry').attrs.id], [dev, undefined, '1', sent.id])
    assert.equal(child(rr1, 'keys'), undefined, 'count 1 carries no keys')
    assert.equal(child(rr1, 'registration').content.length, 4)
    let evs = await eventsOf(since, sent.id)
    const und = evs.filter(e => e.type === 'undecryptable')
    assert.deepEqual(und.map(e => [e.to, e.count, e.chat]), [[dev, 1, c.pn]])
    // Still a pkmsg (the contact never answered us): its one-time pre-key is gone with the session.
    assert.match(und[0].reason, /^(pkmsg|msg): /)
    assert.deepEqual(evs.filter(e => e.type === 'delivered').map(e => e.to).sort(), [c.pn, `${me.user}@s.whatsapp.net`].sort(),
        'device 0 and our phone have it, device 2 does not')
    assert.deepEqual(evs.filter(e => e.type === 'refused'), [])

    // Our old session again: the device still has none, and now sends keys.
    const since2 = await mock.last()
    await resendDM(c.pn, dev, sent.id, { conversation: 'after' }, 1)
    const rr2 = await ackThenRetry(sent.id)
    assert.equal(child(rr2, 'retry').attrs.count, '2')
    const keys = child(rr2, 'keys')
    assert.ok(keys, 'count 2 carries keys')
    assert.deepEqual(keys.content.map(k => k.tag), ['type', 'identity', 'key', 'skey', 'device-identity'])
    assert.deepEqual((await eventsOf(since2, sent.id)).filter(e => /delivered|undecryptable/.test(e.type)).map(e => [e.type, e.count]), [['undecryptable', 2]])

    // A fresh session from the keys: the pkmsg decrypts, delivered with retry, exactly once.
    const since3 = await mock.last()
    await sessionFromKeys(rr2, dev)
    assert.equal(await resendDM(c.pn, dev, sent.id, { conversation: 'after' }, 2), 'pkmsg')
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)).attrs.error, undefined)
    evs = await eventsOf(since3, sent.id)
    assert.deepEqual(evs.filter(e => /delivered|undecryptable|refused/.test(e.type)).map(e => [e.type, e.to, e.retry, e.enc, e.message?.conversation]),
        [['delivered', dev, true, 'pkmsg', 'after']])
    // And the next message goes on that session (pkmsg until the device answers).
    const since4 = await mock.last()
    const next = await me.sendDM(c.pn, { conversation: 'again' })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === next.id)).attrs.error, undefined)
    assert.deepEqual((await eventsOf(since4, next.id)).filter(e => e.to === dev).map(e => [e.type, e.message?.conversation]), [['delivered', 'again']])
})

test('resends that never decrypt: counts 1..5, the 6th failure gives up without a receipt', async () => {
    const { c, dev } = await brokenDevice()
    const since = await mock.last()
    const sent = await me.sendDM(c.pn, { conversation: 'never' })
    for (let count = 1; count <= 5; count++) {
        const rr = await ackThenRetry(sent.id)
        assert.equal(child(rr, 'retry').attrs.count, String(count))
        assert.equal(!!child(rr, 'keys'), count >= 2, `keys from count 2 (count ${count})`)
        // Ignoring the keys: our stale session again.
        await resendDM(c.pn, dev, sent.id, { conversation: 'never' }, count)
    }
    const gave = await mock.wait({ type: 'undecryptable-gave-up', id: sent.id }, since)
    assert.deepEqual([gave.to, gave.count], [dev, 5])
    // The ack of the last resend came, and nothing after it: a ping round trip
    // later, no sixth receipt is there.
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)).attrs.error, undefined)
    await me.iq({ xmlns: 'w:p', type: 'get' }, [{ tag: 'ping', attrs: {} }])
    assert.equal(me.c.frames.filter(isRetry(sent.id)).length, 0, 'no receipt after giving up')
    const evs = await eventsOf(since, sent.id)
    assert.deepEqual(evs.filter(e => e.type === 'undecryptable').map(e => e.count), [1, 2, 3, 4, 5])
    assert.deepEqual(evs.filter(e => e.type === 'delivered' && e.to === dev), [], 'device 2 never had it')
})

test('a replayed msg (its counter already used) is the retry case too', async () => {
    const c = await contact()
    // The contact writes first: our session with it sends msg, not pkmsg.
    const hello = ok(await mock.control('message', { from: c.phone, message: { conversation: 'hi' } }))
    await me.open(await me.nextMessage(hello.id))
    const first = await me.sendDM(c.pn, { conversation: 'once' }, { send: false })
    me.send(first.stanza)
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === first.id)).attrs.error, undefined)
    // A second message with a msg of the session, decrypted, then the same
    // bytes again under a new id: the contact's device has used that key.
    const second = await me.sendDM(c.pn, { conversation: 'twice' }, { send: false })
    me.send(second.stanza)
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === second.id)).attrs.error, undefined)
    const since = await mock.last()
    const replay = { ...second.stanza, attrs: { ...second.stanza.attrs, id: 'REPLAY1' } }
    me.send(replay)
    // The contact's device and our phone both had that key once.
    const phone = `${me.user}@s.whatsapp.net`
    const rr = await ackThenRetry('REPLAY1')
    const rr2 = await me.next(isRetry('REPLAY1'))
    assert.deepEqual([rr, rr2].map(r => [r.attrs.from, child(r, 'retry').attrs.count]), [[c.pn, '1'], [phone, '1']])
    const evs = await eventsOf(since, 'REPLAY1')
    assert.deepEqual(evs.filter(e => e.type === 'undecryptable').map(e => e.to), [c.pn, phone])
    assert.match(evs.find(e => e.type === 'undecryptable' && e.to === c.pn).reason, /^msg: /)
    assert.deepEqual(evs.filter(e => /delivered|refused/.test(e.type)), [])
})

test('a group skmsg without our sender key: retry receipt from the group, participant=<device>; the resend with the SKDM is delivered', async () => {
    const a = await contact({ devices: [0, 3] })
    const g = ok(await mock.control('group', { subject: 'No key', addressing_mode: 'pn', participants: [a.phone] }))
    const dev = `${a.phone}:3@s.whatsapp.net`
    // Our companion believes every member has its sender key: no SKDM goes.
    const devices = (await me.devices([a.pn, `${me.user}@s.whatsapp.net`])).filter(j => j !== me.jid)
    me.skHolders = new Map([[g.jid, new Set(devices)]])
    const since = await mock.last()
    const sent = await me.sendGroup(g.jid, { conversation: 'keyless' })
    // One device at a time answers; each receipt names its device.
    const first = await me.next(n => (n.tag === 'ack' && n.attrs.id === sent.id) || isRetry(sent.id)(n))
    assert.equal(first.tag, 'ack')
    const receipts = []
    for (let i = 0; i < devices.length; i++) receipts.push(await me.next(isRetry(sent.id)))
    assert.ok(receipts.every(r => r.attrs.from === g.jid && child(r, 'retry').attrs.count === '1'))
    assert.deepEqual(receipts.map(r => r.attrs.participant).sort(), devices.sort())
    const und = (await eventsOf(since, sent.id)).filter(e => e.type === 'undecryptable')
    assert.equal(und.length, devices.length)
    assert.ok(und.every(e => /^skmsg: /.test(e.reason) && e.chat === g.jid), JSON.stringify(und))
    // The resend to device 3 in whatsmeow's form, our sender key along.
    const since2 = await mock.last()
    await me.startSessions([dev])
    const skdm = await me.party.senderKeyDistribution(g.jid, signalAddress(me.jid))
    const e = await me.party.encrypt(signalAddress(dev), pad(P.Message.encode(P.Message.fromObject({ conversation: 'keyless',
        senderKeyDistributionMessage: { groupId: g.jid, axolotlSenderKeyDistributionMessage: skdm } })).finish()))
    const content = [{ tag: 'enc', attrs: { v: '2', type: e.type, count: '1' }, content: e.body }]
    if (e.type === 'pkmsg') content.push(idn())
    me.send({ tag: 'message', attrs: { id: sent.id, to: g.jid, participant: dev, type: 'text' }, content })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === sent.id)).attrs.error, undefined)
    const evs = (await eventsOf(since2, sent.id)).filter(x => /delivered|undecryptable|refused/.test(x.type))
    assert.deepEqual(evs.map(x => [x.type, x.to, x.retry, x.message?.conversation]), [['delivered', dev, true, 'keyless']])
})

test('what decrypts but is wrong inside stays a refusal: a plaintext without padding', async () => {
    const c = await contact({ devices: [0] })
    await me.startSessions([c.pn])
    const since = await mock.last()
    // 'x' ends the protobuf: a padding byte of 120 for a 3-byte plaintext.
    const e = await me.party.encrypt(signalAddress(c.pn), P.Message.encode({ conversation: 'x' }).finish())
    const content = [{ tag: 'participants', attrs: {}, content: [{ tag: 'to', attrs: { jid: c.pn }, content: [
        { tag: 'enc', attrs: { v: '2', type: e.type }, content: e.body }] }] }]
    if (e.type === 'pkmsg') content.push(idn())
    me.send({ tag: 'message', attrs: { id: 'NOPAD1', to: c.pn, type: 'text' }, content })
    assert.equal((await me.next(n => n.tag === 'ack' && n.attrs.id === 'NOPAD1')).attrs.error, '400')
    // (Our phone got no enc: that is the stale-set record beside it.)
    const refused = (await eventsOf(since, 'NOPAD1')).filter(x => x.type === 'refused' && !x.stale)
    assert.equal(refused.length, 1)
    assert.match(refused[0].reason, /padding/)
    assert.deepEqual((await eventsOf(since, 'NOPAD1')).filter(x => x.type === 'undecryptable'), [])
})

// POST lose: the server reads the next message stanza(s) of a companion and
// drops them, as if the connection had died with them in flight.
const ping = () => me.iq({ xmlns: 'w:p', type: 'get' }, [{ tag: 'ping', attrs: {} }])
const ackOf = id => n => n.tag === 'ack' && n.attrs.class === 'message' && n.attrs.id === id

test('lose {retry}: our resend is dropped unprocessed and unacked; the retry receipt, unacked, comes again after a new login, and not once acked', async () => {
    const { c, dev } = await brokenDevice()
    const sent = await me.sendDM(c.pn, { conversation: 'in flight' })
    assert.equal(child(await ackThenRetry(sent.id), 'retry').attrs.count, '1')
    assert.deepEqual(ok(await mock.control('lose', { retry: true })), { count: 1, id: null, retry: true, conn: null })

    // A plain message is no retry resend: it goes through.
    const plain = await me.sendDM(c.pn, { conversation: 'plain' })
    assert.equal((await me.next(ackOf(plain.id))).attrs.error, undefined, 'a message that is no resend is not lost')

    const since = await mock.last()
    await resendDM(c.pn, dev, sent.id, { conversation: 'in flight' }, 1)
    const lost = await mock.wait({ type: 'lost', id: sent.id }, since)
    assert.deepEqual([lost.conn, lost.retry, lost.node.tag], [me.conn, true, 'message'])
    // A ping round trip later (frames are handled in order): no ack came,
    // no device saw the resend, and the server recorded no received stanza.
    await ping()
    assert.equal(me.c.frames.filter(ackOf(sent.id)).length, 0, 'the lost resend is not acked')
    let evs = await eventsOf(since, sent.id)
    assert.deepEqual(evs.map(e => e.type), ['lost'])
    assert.deepEqual((await mock.control(`events?since=${since}&type=received&tag=message`)).body.events, [])

    // Disarmed by that one: the same resend again is taken (the device still
    // has no session: undecryptable, count 2).
    const since2 = await mock.last()
    await resendDM(c.pn, dev, sent.id, { conversation: 'in flight' }, 1)
    const rr2 = await ackThenRetry(sent.id)
    assert.equal(child(rr2, 'retry').attrs.count, '2')
    assert.deepEqual((await eventsOf(since2, sent.id)).filter(e => e.type === 'lost'), [])

    // Neither receipt acked: a new login gets the latest one again (one per
    // message and device), offline; acked, the next login does not.
    const key = `retry|${sent.id}|${dev}`
    me.close()
    const since3 = await mock.last()
    await me.login()
    const again = await me.next(isRetry(sent.id))
    assert.deepEqual([again.attrs.offline, again.attrs.from, child(again, 'retry').attrs.count], ['1', dev, '2'])
    assert.ok(child(again, 'keys'), 'the receipt with its keys')
    const redelivered = (await mock.control(`events?since=${since3}&type=message-redelivered`)).body.events.filter(e => e.id === key)
    assert.deepEqual(redelivered.map(e => e.conn), [me.conn])
    me.send({ tag: 'ack', attrs: { class: 'receipt', type: 'retry', id: sent.id, to: dev } })
    await ping()
    me.close()
    const since4 = await mock.last()
    await me.login()
    await ping()
    assert.deepEqual((await mock.control(`events?since=${since4}&type=message-redelivered`)).body.events.filter(e => e.id === key), [])
    assert.equal(me.c.frames.filter(isRetry(sent.id)).length, 0, 'the acked receipt does not come again')
    evs = await eventsOf(since, sent.id)
    assert.deepEqual(evs.filter(e => e.type === 'refused'), [])
})

test('lose {id, count}: only that id, count times, then disarmed; count 0 disarms; bad arguments refused', async () => {
    const c = await contact()
    const a = await me.sendDM(c.pn, { conversation: 'a' }, { send: false })
    const b = await me.sendDM(c.pn, { conversation: 'b' }, { send: false })
    assert.equal(ok(await mock.control('lose', { id: a.id, count: 2, conn: me.conn })).count, 2)
    const since = await mock.last()
    me.send(b.stanza)
    assert.equal((await me.next(ackOf(b.id))).attrs.error, undefined, 'another id goes through')
    me.send(a.stanza)
    me.send(a.stanza)
    await mock.wait({ type: 'lost', id: a.id }, since)
    me.send(a.stanza)   // the third time it is taken
    assert.equal((await me.next(ackOf(a.id))).attrs.error, undefined)
    const evs = (await mock.control(`events?since=${since}`)).body.events.filter(e => e.type === 'lost')
    assert.deepEqual(evs.map(e => [e.id, e.retry, e.conn]), [[a.id, false, me.conn], [a.id, false, me.conn]])

    assert.equal(ok(await mock.control('lose', { id: b.id })).count, 1)
    assert.equal(ok(await mock.control('lose', { count: 0 })).count, 0)
    const since2 = await mock.last()
    const d = await me.sendDM(c.pn, { conversation: 'd' }, { send: false })
    me.send({ ...d.stanza, attrs: { ...d.stanza.attrs, id: b.id } })
    assert.equal((await me.next(ackOf(b.id))).attrs.error, undefined, 'disarmed: nothing lost')
    assert.deepEqual((await mock.control(`events?since=${since2}&type=lost`)).body.events, [])

    for (const bad of [{ count: -1 }, { count: 1.5 }, { id: '' }, { retry: 'yes' }]) {
        assert.equal((await mock.control('lose', bad)).status, 400, JSON.stringify(bad))
    }
    assert.equal((await mock.control('lose', { conn: 999999 })).status, 404)
})

test('POST retry {unknown}: a receipt for an id our account never sent, queued until acked', async () => {
    const c = await contact()
    const id = '3EB0UNKNOWN0000000001'
    assert.equal((await mock.control('retry', { from: c.phone, id })).status, 400, 'without unknown: refused')
    assert.deepEqual(ok(await mock.control('retry', { from: c.phone, id, unknown: true })), { id, count: 1 })
    const rr = await me.next(isRetry(id))
    assert.deepEqual([rr.attrs.from, child(rr, 'retry').attrs.count, child(rr, 'retry').attrs.id], [`${c.phone}@s.whatsapp.net`, '1', id])
    me.close()
    await me.login()
    const again = await me.next(isRetry(id))
    assert.equal(again.attrs.offline, '1', 'unacked: again after a new login')
    me.send({ tag: 'ack', attrs: { class: 'receipt', type: 'retry', id, to: rr.attrs.from } })
    await ping()
    me.close()
    await me.login()
    await ping()
    assert.equal(me.c.frames.filter(isRetry(id)).length, 0, 'acked: not again')
})

test('two retry receipts of one device for one message: the ack of the first does not settle the second', async () => {
    const { c, dev } = await brokenDevice()
    const sent = await me.sendDM(c.pn, { conversation: 'twice asked' })
    const rr1 = await ackThenRetry(sent.id)
    await resendDM(c.pn, dev, sent.id, { conversation: 'twice asked' }, 1)
    const rr2 = await ackThenRetry(sent.id)
    assert.deepEqual([rr1, rr2].map(r => child(r, 'retry').attrs.count), ['1', '2'])
    // The first acked (its resend was), the second not yet: the connection dies.
    me.send({ tag: 'ack', attrs: { class: 'receipt', type: 'retry', id: sent.id, to: dev } })
    await ping()
    me.close()
    await me.login()
    await ping() // what is pending comes at the login, before the answer to anything
    const again = me.c.frames.filter(isRetry(sent.id))
    assert.deepEqual(again.map(r => [r.attrs.offline, child(r, 'retry').attrs.count]), [['1', '2']], 'the unacked second one comes again')
    me.send({ tag: 'ack', attrs: { class: 'receipt', type: 'retry', id: sent.id, to: dev } })
    await ping()
    me.close()
    await me.login()
    await ping()
    assert.equal(me.c.frames.filter(isRetry(sent.id)).length, 0, 'acked: not again')
})
