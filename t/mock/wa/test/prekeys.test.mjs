// After login: the prekey count starts at 0, an upload is checked (signed
// prekey signature, ids, sizes) and counted, and passive/active is acked.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startMock } from '../lib/harness.mjs'
import { TestClient, loginPayload, prekeyUploadNode } from '../lib/test-client.mjs'

let mock
before(async () => { mock = await startMock() })
after(async () => { await mock.stop() })

let nextUser = 15550000001
async function loggedIn() {
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    await c.handshake({ payload: loginPayload({ username: nextUser++, device: 3 }), rootKey: mock.rootKey })
    assert.equal((await c.next()).tag, 'success')
    const { conn } = await mock.wait({ type: 'handshake' }, since)
    return { c, conn, since }
}

const upload = (id, opts) => prekeyUploadNode(id, opts)

const count = id => ({ tag: 'iq', attrs: { id, xmlns: 'encrypt', type: 'get', to: 's.whatsapp.net' }, content: [{ tag: 'count', attrs: {} }] })

test('count 0, an upload of 812 checked and counted, then count 812', async () => {
    const { c, conn, since } = await loggedIn()
    c.send(count('c1'))
    const r1 = await c.next()
    assert.deepEqual([r1.attrs.id, r1.attrs.type, r1.content[0].tag, r1.content[0].attrs.value], ['c1', 'result', 'count', '0'])
    c.send(upload('u1'))
    const r2 = await c.next()
    assert.deepEqual([r2.attrs.id, r2.attrs.type], ['u1', 'result'])
    const ev = await mock.wait({ type: 'prekeys-uploaded', conn: String(conn) }, since)
    assert.deepEqual([ev.count, ev.total, ev.registration_id, ev.signed_prekey_id], [812, 812, 4321, 1])
    c.send(count('c2'))
    assert.equal((await c.next()).content[0].attrs.value, '812')
    c.close()
})

for (const [spoil, reason] of [['signature', /does not verify/], ['repeat', /id repeats/]]) {
    test(`an upload with a bad ${spoil} gets an error answer and is not counted`, async () => {
        const { c, conn, since } = await loggedIn()
        c.send(upload('u', { spoil, count: 20 }))
        const r = await c.next()
        assert.deepEqual([r.attrs.type, r.content[0].attrs.code], ['error', '406'])
        const ev = await mock.wait({ type: 'prekeys-refused', conn: String(conn) }, since)
        assert.match(ev.reason, reason)
        c.send(count('c'))
        assert.equal((await c.next()).content[0].attrs.value, '0')
        c.close()
    })
}

test('passive/active is acked and recorded', async () => {
    const { c, conn, since } = await loggedIn()
    c.send({ tag: 'iq', attrs: { id: 'a1', xmlns: 'passive', type: 'set', to: 's.whatsapp.net' }, content: [{ tag: 'active', attrs: {} }] })
    const r = await c.next()
    assert.deepEqual([r.attrs.id, r.attrs.type], ['a1', 'result'])
    assert.equal((await mock.wait({ type: 'passive', conn: String(conn) }, since)).mode, 'active')
    c.close()
})
