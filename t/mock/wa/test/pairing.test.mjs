// The phone's side of pairing by QR: the mock scans the QR a companion shows,
// sends <pair-success> signed by the account key, checks the countersigned
// answer, and sends stream error 515; the companion logs in as the device.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import * as B from 'baileys'
import { startMock } from '../lib/harness.mjs'
import { TestClient, loginPayload, registrationPayload, qrText, companionAnswer, prekeyUploadNode, codeHello, codeFinish } from '../lib/test-client.mjs'

let mock

before(async () => { mock = await startMock() })
after(async () => { await mock.stop() })

// A fresh companion that registered and holds its refs.
async function waitingForScan() {
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    const { payload, identity } = registrationPayload()
    const { noiseKey } = await c.handshake({ payload, rootKey: mock.rootKey })
    const iq = await c.next()
    c.send({ tag: 'iq', attrs: { to: 's.whatsapp.net', id: iq.attrs.id, type: 'result' } })
    const refs = iq.content[0].content.map(r => Buffer.from(r.content).toString())
    const conn = (await mock.wait({ type: 'handshake' }, since)).conn
    return { c, conn, since, identity, noiseKey, refs, adv: crypto.randomBytes(32) }
}

test('scan, pair-success, countersigned answer, 515, then login as the paired device', async () => {
    const w = await waitingForScan()
    const qr = qrText({ ref: w.refs[2], noise: w.noiseKey.public, identity: w.identity.public, adv: w.adv })
    const r = await mock.control('scan', { qr, phone: '5511987654321' })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.conn, w.conn)
    const iq = await w.c.next(n => n.tag === 'iq')
    assert.equal(iq.content[0].tag, 'pair-success')
    const ans = companionAnswer(iq, { identity: w.identity, adv: w.adv })
    assert.equal(ans.verdict, 'ok')
    assert.equal(ans.accountKey.toString('hex'), r.body.account_key)
    assert.equal(ans.device.jid, r.body.jid)
    assert.match(ans.device.jid, /^5511987654321:\d+@s\.whatsapp\.net$/)
    assert.match(ans.device.lid, /^\d{15}:\d+@lid$/)
    w.c.send(ans.reply)
    const paired = await mock.wait({ type: 'paired', conn: String(w.conn) }, w.since)
    assert.equal(paired.jid, r.body.jid)
    const err = await w.c.next()
    assert.deepEqual([err.tag, err.attrs.code], ['stream:error', '515'])
    await w.c.whenClosed()

    const [user, device] = r.body.jid.split('@')[0].split(':')
    const d = await TestClient.open(mock.url)
    await d.handshake({ payload: loginPayload({ username: Number(user), device: Number(device) }), rootKey: mock.rootKey })
    const ok = await d.next()
    assert.equal(ok.tag, 'success')
    assert.equal(ok.attrs.lid, `${r.body.lid.split(':')[0]}@lid`)
    // The paired device's prekeys must come under the identity it paired with.
    d.send(prekeyUploadNode('u1', { count: 5 }))
    assert.equal((await d.next()).attrs.type, 'error')
    const bad = await mock.wait({ type: 'prekeys-refused' }, w.since)
    assert.match(bad.reason, /not the identity key this device paired with/)
    d.send(prekeyUploadNode('u2', { count: 5, identity: w.identity }))
    assert.equal((await d.next()).attrs.type, 'result')
    d.close()
})

test('a second device of the same phone gets the next device number and key index', async () => {
    const pair = async () => {
        const w = await waitingForScan()
        const r = await mock.control('scan', { qr: qrText({ ref: w.refs[0], noise: w.noiseKey.public, identity: w.identity.public, adv: w.adv }), phone: '4915112345678' })
        w.c.close()
        return r.body
    }
    const a = await pair(), b = await pair()
    assert.equal(a.account_key, b.account_key)
    assert.equal(b.key_index, a.key_index + 1)
    assert.notEqual(a.jid, b.jid)
})

for (const [spoil, reason] of [['device-signature', /deviceSignature does not verify/], ['keep-account-key', /accountSignatureKey was not cleared/]]) {
    test(`an answer with ${spoil} is refused`, async () => {
        const w = await waitingForScan()
        await mock.control('scan', { qr: qrText({ ref: w.refs[0], noise: w.noiseKey.public, identity: w.identity.public, adv: w.adv }) })
        const iq = await w.c.next(n => n.tag === 'iq')
        w.c.send(companionAnswer(iq, { identity: w.identity, adv: w.adv, spoil }).reply)
        const ev = await mock.wait({ type: 'refused', conn: String(w.conn) }, w.since)
        assert.match(ev.reason, reason)
        await w.c.whenClosed()
        assert.equal((await mock.control(`events?type=paired&conn=${w.conn}`)).body.events.length, 0)
    })
}

for (const [tamper, verdict] of [['hmac', 'hmac-mismatch'], ['account-signature', 'signature-mismatch']]) {
    test(`a pair-success with a bad ${tamper} is caught by the companion, and its error recorded`, async () => {
        const w = await waitingForScan()
        await mock.control('scan', { qr: qrText({ ref: w.refs[0], noise: w.noiseKey.public, identity: w.identity.public, adv: w.adv }), tamper })
        const iq = await w.c.next(n => n.tag === 'iq')
        const ans = companionAnswer(iq, { identity: w.identity, adv: w.adv })
        assert.equal(ans.verdict, verdict)
        w.c.send(ans.reply)
        const ev = await mock.wait({ type: 'pair-rejected', conn: String(w.conn) }, w.since)
        assert.equal(ev.text, verdict)
        w.c.close()
    })
}

test('the phone refuses a QR that does not match the connection, an unknown ref, a malformed QR', async () => {
    const w = await waitingForScan()
    const other = crypto.randomBytes(32)
    const base = { ref: w.refs[0], noise: w.noiseKey.public, identity: w.identity.public, adv: w.adv }
    let r = await mock.control('scan', { qr: qrText({ ...base, noise: other }) })
    assert.equal(r.status, 409)
    assert.match(r.body.error, /noise key/)
    r = await mock.control('scan', { qr: qrText({ ...base, identity: other }) })
    assert.equal(r.status, 409)
    assert.match(r.body.error, /identity key/)
    r = await mock.control('scan', { qr: qrText({ ...base, ref: '2@unknown' }) })
    assert.equal(r.status, 404)
    r = await mock.control('scan', { qr: 'https://wa.me/settings/linked_devices#a,b,c' })
    assert.equal(r.status, 400)
    assert.match(r.body.error, /3 comma-separated fields/)
    r = await mock.control('scan', { qr: qrText(base), phone: '+5511' })
    assert.equal(r.status, 400)
    w.c.close()
})

// Pairing by code: hello, the person types the code, the phone's key,
// finish, then pair-success as for a QR.
async function codeUntilFinish(w, phone, typed) {
    const hello = await codeHello(phone)
    w.c.send(hello.stanza('h1', w.noiseKey.public))
    const r1 = await w.c.next(n => n.attrs.id === 'h1')
    assert.equal(r1.attrs.type, 'result')
    const ref = Buffer.from(r1.content[0].content[0].content).toString()
    assert.equal((await mock.wait({ type: 'pair-code-hello', conn: String(w.conn) }, w.since)).ref, ref)
    const entered = await mock.control('enter-code', { code: typed ? typed(hello.code) : `${hello.code.slice(0, 4)}-${hello.code.slice(4)}` })
    assert.equal(entered.status, 200, JSON.stringify(entered.body))
    const notification = await w.c.next(n => n.tag === 'notification')
    assert.equal(notification.attrs.type, 'link_code_companion_reg')
    const fin = await codeFinish({ ...hello, identity: w.identity, phone, notification })
    w.c.send(fin.stanza('f1'))
    return { fin, answer: await w.c.next(n => n.attrs.id === 'f1') }
}

test('pairing by code: the typed code opens the bundle, then pair-success, answer, 515', async () => {
    const w = await waitingForScan()
    const { fin, answer } = await codeUntilFinish(w, '5511912345678')
    assert.equal(answer.attrs.type, 'result')
    const iq = await w.c.next(n => n.tag === 'iq' && n.content?.[0]?.tag === 'pair-success')
    const ans = companionAnswer(iq, { identity: w.identity, adv: fin.adv })
    assert.equal(ans.verdict, 'ok') // the HMAC proves both sides derived the same adv secret
    assert.deepEqual(ans.accountKey, fin.primaryIdentity)
    w.c.send(ans.reply)
    const paired = await mock.wait({ type: 'paired', conn: String(w.conn) }, w.since)
    assert.match(paired.jid, /^5511912345678:\d+@s\.whatsapp\.net$/)
    assert.equal((await w.c.next()).attrs.code, '515')
})

test('pairing by code: a mistyped code fails at the bundle, named', async () => {
    const w = await waitingForScan()
    const wrong = code => (code[0] === 'A' ? 'B' : 'A') + code.slice(1)
    const { answer } = await codeUntilFinish(w, '5511912345679', wrong)
    assert.equal(answer.attrs.type, 'error')
    const ev = await mock.wait({ type: 'pair-code-refused', conn: String(w.conn) }, w.since)
    assert.match(ev.reason, /does not decrypt/)
    w.c.close()
})

test('pairing by code: a hello with another noise key, a bad code typed, finish before the phone', async () => {
    const w = await waitingForScan()
    const hello = await codeHello('5511900000000')
    w.c.send(hello.stanza('h1', crypto.randomBytes(32)))
    assert.equal((await w.c.next(n => n.attrs.id === 'h1')).attrs.type, 'error')
    assert.match((await mock.wait({ type: 'pair-code-refused', conn: String(w.conn) }, w.since)).reason, /not the noise key/)
    assert.equal((await mock.control('enter-code', { code: 'ABCD-EFG0' })).status, 400) // 0 is not in the alphabet
    assert.equal((await mock.control('enter-code', { code: 'ABCD-EFGH', conn: w.conn })).status, 409)
    const early = (await codeFinish({ ...hello, identity: w.identity, phone: '5511900000000', notification: {
        content: [{ tag: 'link_code_companion_reg', attrs: {}, content: [
            { tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: crypto.randomBytes(80) },
            { tag: 'primary_identity_pub', attrs: {}, content: B.Curve.generateKeyPair().public },
            { tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from('2@x') }] }] } })).stanza('f0')
    const since = await mock.last()
    w.c.send(early)
    assert.equal((await w.c.next(n => n.attrs.id === 'f0')).attrs.type, 'error')
    assert.match((await mock.wait({ type: 'pair-code-refused', conn: String(w.conn) }, since)).reason, /before the phone/)
    w.c.close()
})
