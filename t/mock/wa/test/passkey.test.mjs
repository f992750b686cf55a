// A passkey-gated account: the scan starts the ceremony instead of
// pair-success; the assertion from a software authenticator, the handoff
// proof, the commitment and nonces, the code and the encrypted pairing
// request are checked, then pair-success with the new adv secret.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { startMock } from '../lib/harness.mjs'
import { TestClient, registrationPayload, qrText, companionAnswer, softwareAssertion, PasskeyCompanion } from '../lib/test-client.mjs'

let mock
before(async () => { mock = await startMock() })
after(async () => { await mock.stop() })

let nextPhone = 5521900000001
// A companion waiting for a scan, scanned by a passkey-gated phone.
async function requested() {
    const phone = String(nextPhone++)
    const acct = (await mock.control('account', { phone, passkey: true })).body
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    const { payload, identity } = registrationPayload()
    const { noiseKey } = await c.handshake({ payload, rootKey: mock.rootKey })
    const pd = await c.next()
    c.send({ tag: 'iq', attrs: { to: 's.whatsapp.net', id: pd.attrs.id, type: 'result' } })
    const adv = crypto.randomBytes(32)
    const ref = Buffer.from(pd.content[0].content[0].content).toString()
    const scan = await mock.control('scan', { qr: qrText({ ref, noise: noiseKey.public, identity: identity.public, adv }), phone })
    assert.equal(scan.status, 200, JSON.stringify(scan.body))
    assert.equal(scan.body.passkey, true)
    const note = await c.next(n => n.tag === 'notification')
    assert.equal(note.attrs.type, 'passkey_prologue_request')
    const options = JSON.parse(Buffer.from(note.content[0].content).toString())
    const conn = (await mock.wait({ type: 'passkey-requested' }, since)).conn
    const companion = new PasskeyCompanion({ client: c, identity, noiseKey, qrAdv: adv })
    return { c, conn, since, phone, acct, options, companion, identity }
}

const assertion = (r, extra = {}) => softwareAssertion({ privateJwk: r.acct.passkey.private_jwk, credentialId: r.acct.passkey.credential_id, options: r.options, ...extra })

test('the whole ceremony pairs, and the code both sides show agrees', async () => {
    const r = await requested()
    assert.equal(r.options.rpId, 'whatsapp.com')
    assert.equal(r.options.userVerification, 'required')
    assert.equal((await r.companion.ref()).attrs.type, 'result')
    const pro = await r.companion.prologue({ credentialId: r.acct.passkey.credential_id, assertion: assertion(r) })
    assert.equal(pro.attrs.type, 'result')
    assert.equal((await mock.wait({ type: 'passkey-prologue', conn: String(r.conn) }, r.since)).handoff_proof, true)
    const cont = await r.c.next(n => n.tag === 'notification' && n.attrs.type === 'crsc_continuation')
    assert.equal((await r.companion.companionNonce(cont)).attrs.type, 'result')
    const shown = await mock.wait({ type: 'passkey-code', conn: String(r.conn) }, r.since)
    assert.equal(shown.code, r.companion.code)
    assert.equal((await r.companion.encryptedRequest()).attrs.type, 'result')
    const iq = await r.c.next(n => n.tag === 'iq' && n.content?.[0]?.tag === 'pair-success')
    const ans = companionAnswer(iq, { identity: r.identity, adv: r.companion.adv }) // the new adv secret
    assert.equal(ans.verdict, 'ok')
    r.c.send(ans.reply)
    await mock.wait({ type: 'paired', conn: String(r.conn) }, r.since)
    assert.equal((await r.c.next()).attrs.code, '515')
})

test('without the handoff proof the ceremony goes on (the operator compares codes)', async () => {
    const r = await requested()
    await r.companion.ref()
    assert.equal((await r.companion.prologue({ credentialId: r.acct.passkey.credential_id, assertion: assertion(r), proof: false })).attrs.type, 'result')
    assert.equal((await mock.wait({ type: 'passkey-prologue', conn: String(r.conn) }, r.since)).handoff_proof, false)
    r.c.close()
})

const refusals = [
    ['a wrong assertion signature', r => ({ assertion: assertion(r, { privateJwk: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) }) }), /signature does not verify/],
    ['a wrong rpId', r => ({ assertion: assertion(r, { rpId: 'evil.example' }) }), /rpIdHash/],
    ['a wrong origin', r => ({ assertion: assertion(r, { origin: 'https://evil.example' }) }), /origin/],
    ['another challenge', r => ({ assertion: assertion(r, { options: { ...r.options, challenge: crypto.randomBytes(32).toString('base64url') } }) }), /challenge/],
    ['no user verification', r => ({ assertion: assertion(r, { flags: 0x01 }) }), /not verified/],
    ['a bad handoff proof', r => ({ assertion: assertion(r), badProof: true }), /pairing_handoff_proof/],
    ['garbage instead of JSON', () => ({ assertion: '{nope' }), /not JSON/],
]
for (const [what, make, reason] of refusals) {
    test(`the prologue with ${what} is refused, named`, async () => {
        const r = await requested()
        await r.companion.ref()
        const res = await r.companion.prologue({ credentialId: r.acct.passkey.credential_id, ...make(r) })
        assert.deepEqual([res.attrs.type, res.content[0].attrs.code], ['error', '401'])
        const ev = await mock.wait({ type: 'passkey-refused', conn: String(r.conn) }, r.since)
        assert.match(ev.reason, reason)
        assert.equal(ev.step, 'passkey_prologue')
        r.c.close()
    })
}

test('a late assertion is refused', async () => {
    const r = await requested()
    await r.companion.ref()
    assert.equal((await mock.control('expire-passkey', { conn: r.conn })).status, 200)
    const res = await r.companion.prologue({ credentialId: r.acct.passkey.credential_id, assertion: assertion(r) })
    assert.equal(res.attrs.type, 'error')
    assert.match((await mock.wait({ type: 'passkey-refused', conn: String(r.conn) }, r.since)).reason, /expired/)
    r.c.close()
})

test('a nonce that does not open the commitment is refused', async () => {
    const r = await requested()
    await r.companion.ref()
    await r.companion.prologue({ credentialId: r.acct.passkey.credential_id, assertion: assertion(r) })
    const cont = await r.c.next(n => n.tag === 'notification' && n.attrs.type === 'crsc_continuation')
    assert.equal((await r.companion.companionNonce(cont, { wrongNonce: true })).attrs.type, 'error')
    assert.match((await mock.wait({ type: 'passkey-refused', conn: String(r.conn) }, r.since)).reason, /commitment/)
    r.c.close()
})

test('steps out of order are refused', async () => {
    const r = await requested()
    const res = await r.companion.prologue({ credentialId: r.acct.passkey.credential_id, assertion: assertion(r) }) // before <ref>
    assert.equal(res.attrs.type, 'error')
    assert.match((await mock.wait({ type: 'passkey-refused', conn: String(r.conn) }, r.since)).reason, /in stage options/)
    r.c.close()
})

test('the options can also be fetched with an iq', async () => {
    const r = await requested()
    const res = await r.companion.iq('get', [{ tag: 'passkey_request_options', attrs: {} }])
    assert.equal(res.attrs.type, 'result')
    assert.deepEqual(JSON.parse(Buffer.from(res.content[0].content).toString()), r.options)
    r.c.close()
})
