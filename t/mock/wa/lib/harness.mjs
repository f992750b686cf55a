// Starts server.mjs as the tests' child process, the way the black-box
// tests will, and talks to its control API.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

export async function startMock(args = []) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mock-wa-'))
    const keyFile = path.join(dir, 'root.key')
    const child = spawn(process.execPath, [path.join(here, '..', 'server.mjs'), '--port', '0', '--root-key-out', keyFile, ...args],
        { stdio: ['ignore', 'pipe', 'pipe'] })
    const log = []
    readline.createInterface({ input: child.stderr }).on('line', l => log.push(l))
    const ready = await new Promise((resolve, reject) => {
        readline.createInterface({ input: child.stdout }).on('line', l => {
            if (l.startsWith('ready ')) resolve(JSON.parse(l.slice(6)))
        })
        child.once('exit', code => reject(new Error(`mock exited (${code}): ${log.join('\n')}`)))
    })
    const rootKey = Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'hex')
    const control = async (name, body) => {
        const res = await fetch(ready.control + name, body === undefined ? {} :
            { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        return { status: res.status, body: await res.json() }
    }
    const last = async () => (await control('events')).body.events.at(-1)?.seq ?? 0
    // The first event after `since` that matches; fails the test if none comes.
    const wait = async (filter, since = 0) => {
        const q = new URLSearchParams({ since: String(since), timeout: '10000', ...filter })
        const r = await control(`wait?${q}`)
        if (r.status !== 200) throw new Error(`no event ${q}: ${JSON.stringify(r.body)}\n${log.join('\n')}`)
        return r.body
    }
    const stop = () => new Promise(resolve => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', resolve)
        child.kill('SIGTERM')
    })
    return { ...ready, rootKey, control, wait, last, log, stop, child }
}
