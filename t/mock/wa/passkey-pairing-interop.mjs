// Passkey-gated linking, our C++ session against the loopback WhatsApp
// server: the Node half of the interop check.
//
//   node t/mock/wa/passkey-pairing-interop.mjs <build>/src/wa/session/wa_passkey_pairing_interop
//
// Starts server.mjs with a passkey-gated account, and for each run opens
// the WebSocket to it and runs the tool, which drives a fresh device's
// Connection, QrPairing and PasskeyPairing; this script carries WebSocket
// messages both ways (framed records, see the tool's header) and plays the
// phone and the operator: the mock phone scans the QR the tool shows, a
// software authenticator makes the assertion over the options the tool
// passes on, and the operator confirms once the tool's code is the phone's.
//
//   pairs        the mock checked the assertion (ES256, challenge, rpId,
//                origin, UV), the handoff proof, the commitment, opened our
//                pairing request and checked our pair-device-sign; the tool
//                saw the 515
//   another key  the server refuses the prologue (signature): the tool's
//                ceremony fails at "prologue"
//   wrong rpId   our own check refuses it before the server sees it: the
//                ceremony fails at "assertion", the mock got no prologue
//   late         the challenge expired at the server: fails at "prologue"
//
// Bounded: each run must finish within 20 s.
import crypto from 'node:crypto'
import { spawn } from 'node:child_process'
import { WebSocket } from 'ws'
import { startMock } from './lib/harness.mjs'
import { softwareAssertion } from './lib/test-client.mjs'

const tool = process.argv[2]
if (!tool) {
    console.error('usage: node passkey-pairing-interop.mjs <wa_passkey_pairing_interop>')
    process.exit(2)
}

const mock = await startMock()
let nextPhone = 5521955500001

const record = (type, body = Buffer.alloc(0)) => {
    const head = Buffer.alloc(5)
    head[0] = type.charCodeAt(0)
    head.writeUInt32BE(body.length, 1)
    return Buffer.concat([head, body])
}

// One device, one ceremony.  -> { events, failure, conn, phone }
async function run(mode) {
    const phone = String(nextPhone++)
    const acct = (await mock.control('account', { phone, passkey: true })).body
    const since = await mock.last()
    const child = spawn(tool, [mock.rootKey.toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] })
    const ws = new WebSocket(mock.url, { origin: 'https://web.whatsapp.com', perMessageDeflate: false })
    const opened = new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    const events = []
    let conn = null
    let settle = null
    const finished = new Promise(resolve => { settle = resolve })
    const toTool = (type, body) => child.stdin.write(record(type, body))

    const handle = async (type, body) => {
        if (type === 'M') {
            await opened
            ws.send(body)
            return
        }
        if (type !== 'E') return settle(`the tool wrote a record of type ${JSON.stringify(type)}`)
        const e = JSON.parse(body.toString())
        events.push(e)
        if (e.event === 'qr') {
            const r = await mock.control('scan', { qr: e.text, phone })
            if (r.status !== 200 || r.body.passkey !== true) return settle(`scan answered ${r.status}: ${JSON.stringify(r.body)}`)
            conn = r.body.conn
        } else if (e.event === 'assertion_wanted') {
            const options = JSON.parse(e.options)
            if (mode === 'late') await mock.control('expire-passkey', { conn })
            const extra = mode === 'another key'
                ? { privateJwk: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) }
                : mode === 'wrong rpId' ? { rpId: 'evil.example' } : {}
            toTool('A', Buffer.from(softwareAssertion({ privateJwk: acct.passkey.private_jwk,
                credentialId: acct.passkey.credential_id, options, ...extra })))
        } else if (e.event === 'code') {
            // The operator compares with what the phone shows.
            const phoneCode = (await mock.wait({ type: 'passkey-code', conn: String(conn) }, since)).code
            if (phoneCode !== e.code) return settle(`the tool shows ${e.code}, the phone ${phoneCode}`)
            toTool('C')
        }
    }
    let pending = Buffer.alloc(0)
    let chain = Promise.resolve()
    child.stdout.on('data', chunk => {
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 5) {
            const n = pending.readUInt32BE(1)
            if (pending.length < 5 + n) break
            const type = String.fromCharCode(pending[0]), body = Buffer.from(pending.subarray(5, 5 + n))
            pending = pending.subarray(5 + n)
            chain = chain.then(() => handle(type, body)).catch(e => settle(`handling a record: ${e.message}`))
        }
    })
    ws.on('message', data => toTool('M', Buffer.from(data)))
    ws.on('close', () => child.stdin.end())
    child.stdin.on('error', () => {}) // the tool may be gone when the socket's last bytes come
    child.on('close', code => chain.then(() => settle(code === 0 || code === 1 ? null : `the tool exited with ${code}`)))
    const timer = setTimeout(() => settle('no outcome within 20 s'), 20000)
    const failure = await finished
    clearTimeout(timer)
    ws.terminate()
    child.kill()
    return { events, failure, conn, phone, since }
}

const problems = []
const summary = []
const expect = (what, ok, detail) => { if (!ok) problems.push(`${what}: ${detail}`) }
const find = async (type, conn, since) =>
    (await mock.control(`events?${new URLSearchParams({ type, since: String(since), ...(conn == null ? {} : { conn: String(conn) }) })}`)).body.events

for (const mode of ['pairs', 'another key', 'wrong rpId', 'late']) {
    const r = await run(mode)
    const names = r.events.map(e => e.event)
    summary.push(`${mode}: ${names.join(' -> ')}`)
    if (r.failure) { problems.push(`${mode}: ${r.failure}`); continue }
    const failed = r.events.find(e => e.event === 'failed')
    const refused = await find('passkey-refused', r.conn, r.since)
    if (mode === 'pairs') {
        expect(mode, !failed, `the ceremony failed: ${JSON.stringify(failed)}`)
        const prologue = await find('passkey-prologue', r.conn, r.since)
        expect(mode, prologue.length === 1 && prologue[0].handoff_proof === true, `passkey-prologue ${JSON.stringify(prologue)}`)
        expect(mode, (await find('passkey-request-opened', r.conn, r.since)).length === 1, 'the mock did not open our pairing request')
        const paired = await find('paired', r.conn, r.since)
        const ours = r.events.find(e => e.event === 'paired')
        expect(mode, paired.length === 1 && ours && paired[0].jid === ours.jid && ours.jid.startsWith(`${r.phone}:`),
            `paired: mock ${JSON.stringify(paired)}, tool ${JSON.stringify(ours)}`)
        expect(mode, names.includes('adv_secret') && names.at(-1) === 'restart', `events ${names.join(',')}`)
        expect(mode, r.events.find(e => e.event === 'code')?.handoff_proven === 'true', 'the code was not marked proven by the handoff')
    } else if (mode === 'wrong rpId') {
        expect(mode, failed?.step === 'assertion' && /rpIdHash/.test(failed.detail), `failed ${JSON.stringify(failed)}`)
        expect(mode, (await find('passkey-prologue', r.conn, r.since)).length === 0 && refused.length === 0,
            'the server saw a prologue our check should have stopped')
    } else {
        const reason = mode === 'late' ? /expired/ : /signature does not verify/
        expect(mode, failed?.step === 'prologue' && /401/.test(failed.detail), `failed ${JSON.stringify(failed)}`)
        expect(mode, refused.length === 1 && reason.test(refused[0].reason), `passkey-refused ${JSON.stringify(refused)}`)
    }
}
await mock.stop()
if (problems.length) {
    console.error(`passkey pairing interop: FAILED\n  ${problems.join('\n  ')}`)
    console.error(`runs:\n  ${summary.join('\n  ')}\nmock log:\n${mock.log.join('\n')}`)
    process.exit(1)
}
console.log(`passkey pairing interop: ok\n  ${summary.join('\n  ')}`)
