// The hostile-server controls: POST raw at each layer, and POST send with
// its WebSocket frames cut into single-byte TCP writes.  What a client
// receives is checked byte for byte (a plain ws client below the Noise
// layer, the npm-built TestClient above it).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocket } from 'ws'
import * as B from 'baileys'
const P = B.proto
import { startMock } from '../lib/harness.mjs'
import { TestClient, loginPayload } from '../lib/test-client.mjs'

let mock

before(async () => { mock = await startMock() })
after(async () => { await mock.stop() })

// A WebSocket client that never speaks: the connection stays in the
// handshake's first stage, which raw's lower layers accept.
async function bareSocket() {
    const since = await mock.last()
    const ws = new WebSocket(mock.url, { origin: 'https://web.whatsapp.com', perMessageDeflate: false })
    const messages = []
    const waiters = []
    ws.on('message', data => {
        messages.push(Buffer.from(data))
        for (const w of waiters.splice(0)) w()
    })
    const closed = new Promise(resolve => ws.on('close', code => resolve(code)))
    const failed = new Promise(resolve => ws.on('error', e => resolve(e)))
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    const { conn } = await mock.wait({ type: 'connected' }, since)
    // Resolves once `n` messages came.
    const received = n => new Promise(resolve => {
        const check = () => messages.length >= n ? resolve(messages.slice(0, n)) : waiters.push(check)
        check()
    })
    return { ws, conn, messages, received, closed, failed }
}

async function loggedIn(username) {
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    await c.handshake({ payload: loginPayload({ username, device: 3 }), rootKey: mock.rootKey })
    assert.equal((await c.next()).tag, 'success')
    const hs = await mock.wait({ type: 'handshake' }, since)
    return { c, conn: hs.conn }
}

test('raw stream: the bytes arrive as they are, split into messages as asked', async () => {
    const s = await bareSocket()
    const r = await mock.control('raw', { conn: s.conn, layer: 'stream', hex: '0102030405', split: 2 })
    assert.equal(r.status, 200)
    assert.deepEqual(await s.received(3), [Buffer.from('0102', 'hex'), Buffer.from('0304', 'hex'), Buffer.from('05', 'hex')])
    const ev = await mock.wait({ type: 'raw-sent', conn: s.conn })
    assert.equal(ev.layer, 'stream')
    assert.equal(ev.bytes, 5)
    s.ws.terminate()
})

test('raw frame: a u24 length, then the body unencrypted', async () => {
    const s = await bareSocket()
    assert.equal((await mock.control('raw', { conn: s.conn, layer: 'frame', hex: 'abcd' })).status, 200)
    assert.deepEqual(await s.received(1), [Buffer.from('000002abcd', 'hex')])
    s.ws.terminate()
})

test('raw frame of the largest size: size and fill make the body', async () => {
    const s = await bareSocket()
    const size = (1 << 24) - 1
    assert.equal((await mock.control('raw', { conn: s.conn, layer: 'frame', size, fill: 0x41 })).status, 200)
    const [m] = await s.received(1)
    assert.equal(m.length, 3 + size)
    assert.deepEqual(m.subarray(0, 4), Buffer.from('ffffff41', 'hex'))
    assert.equal(m.at(-1), 0x41)
    s.ws.terminate()
})

test('raw socket: a hand-made WebSocket frame written a byte at a time is one message', async () => {
    const s = await bareSocket()
    assert.equal((await mock.control('raw', { conn: s.conn, layer: 'socket', hex: '8203616263', split: 1 })).status, 200)
    assert.deepEqual(await s.received(1), [Buffer.from('abc')])
    s.ws.terminate()
})

test('raw socket: garbage below WebSocket makes the client fail the connection', async () => {
    const s = await bareSocket()
    // FIN and the reserved opcode 0xF: RFC 6455 says fail the connection.
    assert.equal((await mock.control('raw', { conn: s.conn, layer: 'socket', hex: '8f00' })).status, 200)
    assert.match((await s.failed).message, /invalid opcode 15/)
    await s.closed
})

test('raw stanza: encrypted with the transport, so a client reads it (plain and deflated)', async () => {
    const { c, conn } = await loggedIn(15557770001)
    const node = { tag: 'hello', attrs: { id: 'r1' }, content: Buffer.from('payload') }
    const plain = B.encodeBinaryNode(node) // flags byte 0, then the node
    assert.equal((await mock.control('raw', { conn, layer: 'stanza', hex: plain.toString('hex') })).status, 200)
    const got = await c.next()
    assert.equal(got.tag, 'hello')
    assert.equal(got.attrs.id, 'r1')
    // compress: flag 2 and the node bytes deflated.
    assert.equal((await mock.control('raw', { conn, layer: 'stanza', compress: true, hex: plain.subarray(1).toString('hex') })).status, 200)
    assert.equal((await c.next()).tag, 'hello')
    c.close()
})

test('raw: refusals name what is wrong', async () => {
    const s = await bareSocket()
    assert.equal((await mock.control('raw', { conn: s.conn, layer: 'tcp', hex: '00' })).status, 400)
    assert.equal((await mock.control('raw', { conn: s.conn, layer: 'stream', hex: 'abc' })).status, 400)
    assert.equal((await mock.control('raw', { conn: s.conn, layer: 'stream', size: 0 })).status, 400)
    // A stanza needs the transport keys of a finished handshake.
    assert.equal((await mock.control('raw', { conn: s.conn, layer: 'stanza', hex: '00' })).status, 409)
    s.ws.terminate()
})

test('send with tcp: a stanza a byte per WebSocket message and per TCP write still reads', async () => {
    const { c, conn } = await loggedIn(15557770002)
    const node = { tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: '42' } }] }
    const r = await mock.control('send', { conn, node, split: 1, tcp: 1 })
    assert.equal(r.status, 200)
    const got = await c.next()
    assert.equal(got.tag, 'ib')
    assert.equal(got.content[0].attrs.count, '42')
    // What the mock sends meanwhile waits for the paced write: a ping
    // answer is not cut into the middle of its frames.
    await mock.control('send', { conn, nodes: [node, node], split: 1, tcp: 1, compress: true })
    assert.equal((await c.next()).tag, 'ib')
    assert.equal((await c.next()).tag, 'ib')
    c.close()
})

test('hello: each hostile answer to a ClientHello, then valid again', async () => {
    const want = {
        garbage: f => assert.equal(f.length, 64),
        empty: f => assert.equal(P.HandshakeMessage.decode(f).serverHello.ephemeral?.length ?? 0, 0),
        'short-ephemeral': f => assert.equal(P.HandshakeMessage.decode(f).serverHello.ephemeral.length, 5),
        undecryptable: f => assert.equal(P.HandshakeMessage.decode(f).serverHello.static.length, 48),
        huge: f => assert.equal(f.length, (1 << 24) - 1),
    }
    try {
        for (const [variant, check] of Object.entries(want)) {
            assert.equal((await mock.control('hello', { variant })).status, 200)
            const since = await mock.last()
            const c = await TestClient.open(mock.url)
            c.ws.send(c.noise.encodeFrame(P.HandshakeMessage.encode({ clientHello: { ephemeral: c.eph.public } }).finish()))
            check(Buffer.from(await c.next()))
            const ev = await mock.wait({ type: 'hostile-hello' }, since)
            assert.equal(ev.variant, variant)
            c.close()
        }
    } finally {
        assert.equal((await mock.control('hello', { variant: 'valid' })).status, 200)
    }
    assert.equal((await mock.control('hello', { variant: 'nonsense' })).status, 400)
    const { c } = await loggedIn(15557770003)
    c.close()
})
