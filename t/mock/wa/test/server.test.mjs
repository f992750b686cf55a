// The loopback WhatsApp server, seen from a client built from the npm
// packages: the handshake and its certificate chain, login and registration,
// pings, each control action, and the strict refusals.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as B from 'baileys'
import { startMock } from '../lib/harness.mjs'
import { TestClient, loginPayload, registrationPayload, verifyCertChain, ChainError } from '../lib/test-client.mjs'

const P = B.proto
let mock

before(async () => { mock = await startMock() })
after(async () => { await mock.stop() })

async function loggedIn(username = 15551234567, device = 7) {
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    await c.handshake({ payload: loginPayload({ username, device }), rootKey: mock.rootKey })
    const success = await c.next()
    assert.equal(success.tag, 'success')
    const hs = await mock.wait({ type: 'handshake' }, since)
    return { c, conn: hs.conn, since }
}

test('the ready line names the WebSocket URL and the root key written to the file', () => {
    assert.match(mock.url, /^ws:\/\/127\.0\.0\.1:\d+\/ws\/chat$/)
    assert.equal(mock.rootKey.length, 32)
    assert.equal(mock.root_key, mock.rootKey.toString('hex'))
})

test('handshake: the chain verifies under the test root key and names the server static key', async () => {
    const c = await TestClient.open(mock.url)
    const { serverStatic, verified } = await c.handshake({ payload: loginPayload({ username: 15551230001, device: 2 }), rootKey: mock.rootKey })
    assert.equal(serverStatic.length, 32)
    assert.deepEqual(Buffer.from(verified.leaf.key), serverStatic)
    assert.equal(verified.inter.issuerSerial, 0)
    c.close()
})

test('handshake: a client trusting another root key refuses the chain', async () => {
    const c = await TestClient.open(mock.url)
    await assert.rejects(c.handshake({ payload: loginPayload({ username: 1, device: 1 }), rootKey: B.Curve.generateKeyPair().public }),
        e => e instanceof ChainError && /not signed by the root/.test(e.message))
    c.close()
})

test('cert variants each break the check they are named for', async () => {
    const want = { 'wrong-root': /not signed by the root/, 'bad-leaf-signature': /leaf not signed/, 'issuer-serial': /issuer serial is not 0/,
        'leaf-key-mismatch': /not the server static/, expired: /validity/, 'not-yet-valid': /validity/ }
    try {
        for (const [variant, re] of Object.entries(want)) {
            assert.equal((await mock.control('cert', { variant })).status, 200)
            const c = await TestClient.open(mock.url)
            await assert.rejects(c.handshake({ payload: loginPayload({ username: 1, device: 1 }), rootKey: mock.rootKey }),
                e => e instanceof ChainError && re.test(e.message), variant)
            c.close()
        }
    } finally {
        await mock.control('cert', { variant: 'valid' })
    }
})

test('login: <success> with a LID, and the record names the device', async () => {
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    const { noiseKey } = await c.handshake({ payload: loginPayload({ username: 15551234567, device: 7 }), rootKey: mock.rootKey })
    const node = await c.next()
    assert.equal(node.tag, 'success')
    assert.match(node.attrs.lid, /^\d{15}@lid$/)
    assert.match(node.attrs.t, /^\d+$/)
    const hs = await mock.wait({ type: 'handshake' }, since)
    assert.equal(hs.client.kind, 'login')
    assert.equal(hs.client.username, '15551234567')
    assert.equal(hs.client.device, 7)
    assert.equal(hs.client.noiseKey, noiseKey.public.toString('hex'))
    c.close()
})

test('registration: pair-device with six refs, and the ack is recorded', async () => {
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    const { payload, identity } = registrationPayload()
    await c.handshake({ payload, rootKey: mock.rootKey })
    const iq = await c.next()
    assert.equal(iq.tag, 'iq')
    assert.equal(iq.attrs.type, 'set')
    assert.equal(iq.attrs.from, 's.whatsapp.net')
    const pd = iq.content[0]
    assert.equal(pd.tag, 'pair-device')
    assert.equal(pd.content.length, 6)
    for (const ref of pd.content) {
        assert.equal(ref.tag, 'ref')
        assert.match(Buffer.from(ref.content).toString(), /^2@[A-Za-z0-9+/=]+$/)
    }
    const hs = await mock.wait({ type: 'handshake' }, since)
    assert.equal(hs.client.kind, 'registration')
    assert.equal(hs.client.identity, identity.public.toString('hex'))
    c.send({ tag: 'iq', attrs: { to: 's.whatsapp.net', id: iq.attrs.id, type: 'result' } })
    const ack = await mock.wait({ type: 'pair-device-ack', conn: String(hs.conn) }, since)
    assert.equal(ack.result, 'result')
    c.close()
})

const ping = id => ({ tag: 'iq', attrs: { id, to: 's.whatsapp.net', type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] })

test('pings are answered with the same id, and not while pings are off', async () => {
    const { c, conn, since } = await loggedIn()
    c.send(ping('p-1'))
    const pong = await c.next()
    assert.deepEqual([pong.tag, pong.attrs.type, pong.attrs.id], ['iq', 'result', 'p-1'])
    try {
        assert.equal((await mock.control('pings', { answer: false })).status, 200)
        c.send(ping('p-2'))
        const un = await mock.wait({ type: 'ping-unanswered', conn: String(conn) }, since)
        assert.equal(un.id, 'p-2')
    } finally {
        await mock.control('pings', { answer: true })
    }
    c.send(ping('p-3'))
    const pong3 = await c.next()
    assert.equal(pong3.attrs.id, 'p-3') // p-2 never got an answer
    const got = (await mock.control(`events?type=received&conn=${conn}`)).body.events
    assert.deepEqual(got.map(e => e.node.attrs.id), ['p-1', 'p-2', 'p-3'])
    c.close()
})

for (const [code, check] of [
    ['515', n => assert.equal(n.attrs.code, '515')],
    ['503', n => assert.equal(n.attrs.code, '503')],
    ['401', n => { assert.equal(n.attrs.code, '401'); assert.deepEqual([n.content[0].tag, n.content[0].attrs.type], ['conflict', 'device_removed']) }],
    ['conflict', n => assert.deepEqual([n.content[0].tag, n.content[0].attrs.type], ['conflict', 'replaced'])],
]) {
    test(`stream error ${code} reaches the client, then the server closes`, async () => {
        const { c, conn } = await loggedIn()
        const r = await mock.control('stream-error', { code, conn })
        assert.equal(r.status, 200)
        const n = await c.next()
        assert.equal(n.tag, 'stream:error')
        check(n)
        assert.equal((await c.whenClosed()).code, 1000)
    })
}

test('failure 405 now, and as the answer to later logins', async () => {
    const { c, conn } = await loggedIn()
    await mock.control('failure', { reason: 405, conn })
    const f = await c.next()
    assert.deepEqual([f.tag, f.attrs.reason], ['failure', '405'])
    await c.whenClosed()
    try {
        await mock.control('login-answer', { failure: 405 })
        const d = await TestClient.open(mock.url)
        await d.handshake({ payload: loginPayload({ username: 15551234567, device: 7 }), rootKey: mock.rootKey })
        const f2 = await d.next()
        assert.deepEqual([f2.tag, f2.attrs.reason], ['failure', '405'])
        await d.whenClosed()
    } finally {
        await mock.control('login-answer', { failure: null })
    }
})

test('drop cuts the socket without a close frame', async () => {
    const { c, conn } = await loggedIn()
    assert.equal((await mock.control('drop', { conn })).status, 200)
    assert.equal((await c.whenClosed()).code, 1006)
})

test('send: zlib-flagged, split across messages, several frames in one message', async () => {
    const { c, conn } = await loggedIn()
    const nodes = [1, 2, 3].map(i => ({ tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: String(i) } }] }))
    await mock.control('send', { conn, nodes, compress: true, split: 5 })
    await mock.control('send', { conn, nodes }) // one WebSocket message, three frames
    const got = []
    for (let i = 0; i < 6; i++) got.push((await c.next()).content[0].attrs.count)
    assert.deepEqual(got, ['1', '2', '3', '1', '2', '3'])
    const r = await mock.control('send', { conn, node: { tag: 'x', attrs: {}, content: { hex: '00ff' } } })
    assert.equal(r.status, 200)
    assert.deepEqual(Buffer.from((await c.next()).content), Buffer.from('00ff', 'hex'))
    c.close()
})

test('edge routing preface: the routing info is recorded', async () => {
    const c = await TestClient.open(mock.url, { routingInfo: Buffer.from('0801', 'hex') })
    await c.handshake({ payload: loginPayload({ username: 15551234567, device: 7 }), rootKey: mock.rootKey })
    await c.next()
    const conns = (await mock.control('connections')).body.connections
    assert.equal(conns.at(-1).routing_info, '0801')
    c.close()
})

test('control API refuses what it cannot do', async () => {
    assert.equal((await mock.control('stream-error', { code: '999' })).status, 400)
    assert.equal((await mock.control('drop', { conn: 99999 })).status, 404)
    assert.equal((await mock.control('pings', { answer: 'no' })).status, 400)
    assert.equal((await mock.control('cert', { variant: 'nope' })).status, 400)
    assert.equal((await mock.control('nothing', {})).status, 404)
})

// Strictness: each refusal closes the socket and names its reason.
async function refused(send, reason, opts) {
    const since = await mock.last()
    const c = await TestClient.open(mock.url, opts)
    await send(c)
    const ev = await mock.wait({ type: 'refused' }, since)
    assert.match(ev.reason, reason)
    await c.whenClosed()
    assert.ok(mock.log.some(l => l.includes('refused') && reason.test(l)), 'a log line names the reason')
}

test('refused: a bad intro header', () => refused(c => c.sendRaw(Buffer.from('WA\x05\x03\x00\x00\x01\x00', 'latin1')), /bad intro header 57410503/))
test('refused: a text message', () => refused(c => c.ws.send('hello'), /text WebSocket message/))
test('refused: an empty frame', () => refused(c => c.sendRaw(Buffer.from([0x57, 0x41, 6, 3, 0, 0, 0])), /empty frame/))
test('refused: an oversize handshake frame', () => refused(c => c.sendRaw(Buffer.from([0x57, 0x41, 6, 3, 0x01, 0, 0])), /65536 bytes exceeds the limit of 8192/))
test('refused: a first frame that is not a clientHello', () =>
    refused(c => c.sendRaw(c.noise.encodeFrame(P.HandshakeMessage.encode({ clientFinish: { static: Buffer.alloc(48) } }).finish())), /not a bare clientHello/))

async function refusedPayload(payload, reason) {
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    await c.handshake({ payload, rootKey: mock.rootKey })
    const ev = await mock.wait({ type: 'refused' }, since)
    assert.match(ev.reason, reason)
    await c.whenClosed()
}

test('refused: a ClientPayload without userAgent', () =>
    refusedPayload(Buffer.from(P.ClientPayload.encode({ username: 1, device: 1 }).finish()), /no userAgent/))
test('refused: a login as device 0', () => refusedPayload(loginPayload({ username: 15551234567, device: 0 }), /device 0/))
test('refused: a registration whose signed prekey does not verify', () =>
    refusedPayload(registrationPayload({ breakSignature: true }).payload, /eSkeySig does not verify/))
test('refused: a payload both login and registration', () => {
    const p = P.ClientPayload.decode(registrationPayload().payload)
    p.username = 1; p.device = 1
    return refusedPayload(Buffer.from(P.ClientPayload.encode(p).finish()), /both username/)
})

test('refused: an upgrade without the WhatsApp Origin', async () => {
    await assert.rejects(TestClient.open(mock.url, { origin: 'https://evil.example' }), /HTTP 403/)
    await assert.rejects(TestClient.open(mock.url.replace('/ws/chat', '/other')), /HTTP 404/)
})

test('a frame split at every byte is reassembled', async () => {
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    // Feed the handshake's first frame one byte per WebSocket message.
    const orig = c.ws.send.bind(c.ws)
    let first = true
    c.ws.send = bytes => {
        if (!first) return orig(bytes)
        first = false
        for (const b of bytes) orig(Buffer.from([b]))
    }
    await c.handshake({ payload: loginPayload({ username: 15551234567, device: 7 }), rootKey: mock.rootKey })
    assert.equal((await c.next()).tag, 'success')
    await mock.wait({ type: 'handshake' }, since)
    c.close()
})


test('version: GET / names the current client_revision; while enforced an older client gets 405', async () => {
    const page = async () => (await fetch(mock.url.replace('ws://', 'http://').replace('/ws/chat', '/'))).text()
    try {
        assert.equal((await mock.control('version', { current: '2.3000.1099999999', enforce: true })).status, 200)
        assert.match(await page(), /"client_revision":1099999999,/)
        const since = await mock.last()
        const old = await TestClient.open(mock.url)
        await old.handshake({ payload: loginPayload({ username: 15551234567, device: 7 }), rootKey: mock.rootKey })
        const f = await old.next()
        assert.deepEqual([f.tag, f.attrs.reason], ['failure', '405'])
        const ev = await mock.wait({ type: 'outdated' }, since)
        assert.equal(ev.current, '2.3000.1099999999')
        await old.whenClosed()
        const cur = await TestClient.open(mock.url)
        await cur.handshake({ payload: loginPayload({ username: 15551234567, device: 7, version: { primary: 2, secondary: 3000, tertiary: 1099999999 } }), rootKey: mock.rootKey })
        assert.equal((await cur.next()).tag, 'success')
        cur.close()
        assert.equal((await mock.control('version', { current: 'x' })).status, 400)
    } finally {
        await mock.control('version', { enforce: false })
    }
})

test('stanza actions wait for the handshake; drop does not', async () => {
    const since = await mock.last()
    const c = await TestClient.open(mock.url)
    const { conn } = await mock.wait({ type: 'connected' }, since)
    const r = await mock.control('stream-error', { code: '515', conn })
    assert.equal(r.status, 409)
    assert.match(r.body.error, /not past its handshake \(hello\)/)
    assert.equal((await mock.control('drop', { conn })).status, 200)
    assert.equal((await c.whenClosed()).code, 1006)
})

test('a second live login of one device replaces the first and is recorded', async () => {
    const first = await loggedIn(15559990001, 4)
    const second = await loggedIn(15559990001, 4)
    const n = await first.c.next()
    assert.deepEqual([n.tag, n.content[0].attrs.type], ['stream:error', 'replaced'])
    await first.c.whenClosed()
    const dup = await mock.wait({ type: 'duplicate-login' }, first.since)
    assert.deepEqual([dup.conn, dup.replaced, dup.device], [second.conn, first.conn, '15559990001:4'])
    // Another device of the same phone is not a duplicate.
    const other = await loggedIn(15559990001, 5)
    assert.equal((await mock.control(`events?type=duplicate-login&since=${second.since}`)).body.events.length, 1)
    second.c.close(); other.c.close()
})

test('the command line refuses a bad argument with exit code 2 and a message', async () => {
    const { spawnSync } = await import('node:child_process')
    const server = new URL('../server.mjs', import.meta.url).pathname
    for (const [args, re] of [[['--port', 'x'], /--port/], [['--root-private', 'abc'], /64 hex/], [['--nope'], /unknown argument/]]) {
        const r = spawnSync(process.execPath, [server, ...args], { encoding: 'utf8' })
        assert.equal(r.status, 2)
        assert.match(r.stderr, re)
    }
})

test('--root-private fixes the root key', async () => {
    const { startMock: start } = await import('../lib/harness.mjs')
    const a = await start(['--root-private', '11'.repeat(32)])
    const b = await start(['--root-private', '11'.repeat(32)])
    try {
        assert.equal(a.root_key, b.root_key)
        assert.notEqual(a.root_key, mock.root_key)
        const c = await TestClient.open(a.url)
        await c.handshake({ payload: loginPayload({ username: 15551234567, device: 7 }), rootKey: a.rootKey })
        assert.equal((await c.next()).tag, 'success')
        c.close()
    } finally {
        await a.stop(); await b.stop()
    }
})
