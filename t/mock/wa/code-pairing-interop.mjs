// Pairing by phone number, our C++ session against the loopback WhatsApp
// server: the Node half of the interop check.
//
//   node t/mock/wa/code-pairing-interop.mjs <build>/src/wa/session/wa_code_pairing_interop
//
// Starts server.mjs, opens the WebSocket to it and runs the tool, which
// drives a fresh device's Connection, QrPairing and CodePairing; this
// script only carries WebSocket messages both ways (framed records on the
// tool's stdin and stdout, see the tool's header) and plays the person: it
// types the code the tool shows into the mock phone (enter-code).  Passes
// when the mock took our companion_hello and companion_finish (it opens
// our key bundle with the code, so the adv secret matched), checked our
// pair-device-sign, and the tool saw the 515 that follows.  Bounded: the
// whole run must finish within 20 s.
import { spawn } from 'node:child_process'
import { WebSocket } from 'ws'
import { startMock } from './lib/harness.mjs'

const tool = process.argv[2]
if (!tool) {
    console.error('usage: node code-pairing-interop.mjs <wa_code_pairing_interop>')
    process.exit(2)
}
const phone = '5511987654321'

const mock = await startMock()
const child = spawn(tool, [mock.rootKey.toString('hex'), `+${phone.slice(0, 2)} ${phone.slice(2)}`],
    { stdio: ['pipe', 'pipe', 'inherit'] })
const ws = new WebSocket(mock.url, { origin: 'https://web.whatsapp.com', perMessageDeflate: false })
const opened = new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
const events = []
let result = null
const finished = new Promise(resolve => { result = resolve })

const record = (type, body) => {
    const head = Buffer.alloc(5)
    head[0] = type.charCodeAt(0)
    head.writeUInt32BE(body.length, 1)
    return Buffer.concat([head, body])
}

// The tool's records, handled one after the other in the order written
// (a handler that waits, on the socket or the control API, holds back the
// ones after it): messages go to the server once the socket is open.
let pending = Buffer.alloc(0)
let chain = Promise.resolve()
const handle = async (type, body) => {
    if (type === 'M') {
        await opened
        ws.send(body)
    } else if (type === 'E') {
        const e = JSON.parse(body.toString())
        events.push(e)
        if (e.event === 'code') {
            const r = await mock.control('enter-code', { code: e.display })
            if (r.status !== 200) result(`enter-code answered ${r.status}: ${JSON.stringify(r.body)}`)
        }
    } else {
        result(`the tool wrote a record of type ${JSON.stringify(type)}`)
    }
}
child.stdout.on('data', chunk => {
    pending = Buffer.concat([pending, chunk])
    while (pending.length >= 5) {
        const n = pending.readUInt32BE(1)
        if (pending.length < 5 + n) break
        const type = String.fromCharCode(pending[0]), body = Buffer.from(pending.subarray(5, 5 + n))
        pending = pending.subarray(5 + n)
        chain = chain.then(() => handle(type, body)).catch(e => result(`handling a record: ${e.message}`))
    }
})
ws.on('message', data => child.stdin.write(record('M', Buffer.from(data))))
ws.on('close', () => child.stdin.end())
// 'close' comes after the tool's last record was read; its handling first.
child.on('close', code => chain.then(() => result(code === 0 ? null : `the tool exited with ${code}`)))
const timer = setTimeout(() => result('no pairing within 20 s'), 20000)

const failure = await finished
clearTimeout(timer)
ws.terminate()
child.kill()
const problems = failure ? [failure] : []
if (!failure) {
    const find = async type => (await mock.control(`events?type=${type}`)).body.events
    const hello = await find('pair-code-hello'), finish = await find('pair-code-finish'), paired = await find('paired')
    if (hello.length !== 1 || hello[0].phone !== phone) problems.push(`pair-code-hello: ${JSON.stringify(hello)}`)
    if (finish.length !== 1) problems.push(`pair-code-finish: ${JSON.stringify(finish)}`)
    const ours = events.find(e => e.event === 'paired')
    if (paired.length !== 1 || !ours || paired[0].jid !== ours.jid || !ours.jid.startsWith(`${phone}:`))
        problems.push(`paired: mock ${JSON.stringify(paired)}, tool ${JSON.stringify(ours)}`)
    if (!/^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$/.test(events.find(e => e.event === 'code')?.display ?? ''))
        problems.push('the code shown is not XXXX-XXXX in the alphabet')
    if (!events.some(e => e.event === 'restart')) problems.push('no 515 restart')
}
await mock.stop()
if (problems.length) {
    console.error(`code pairing interop: FAILED\n  ${problems.join('\n  ')}`)
    console.error(`tool events: ${JSON.stringify(events)}\nmock log:\n${mock.log.join('\n')}`)
    process.exit(1)
}
console.log(`code pairing interop: ok (${events.map(e => e.event).join(' -> ')})`)
