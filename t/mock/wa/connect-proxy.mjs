#!/usr/bin/env node
// An HTTP CONNECT proxy for tests of whatsapp_proxy: it tunnels each
// CONNECT to the host and port asked for, answers anything else 405, and
// prints one line per tunnel on stdout (`connect host:port`) after the
// `ready {"port":N}` line, so that a test can see its client went through.
//
//   node t/mock/wa/connect-proxy.mjs [--port N]
import http from 'node:http'
import net from 'node:net'

const args = process.argv.slice(2)
let port = 0
for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port' && i + 1 < args.length) port = Number(args[++i])
    else {
        process.stderr.write(`connect-proxy: unknown argument ${args[i]}\n`)
        process.exit(2)
    }
}

const server = http.createServer((req, res) => {
    // A plain proxy request: a WebSocket client must tunnel instead.
    res.writeHead(405, { 'content-type': 'text/plain', allow: 'CONNECT' })
    res.end('CONNECT only\n')
    process.stdout.write(`refused ${req.method} ${req.url}\n`)
})

server.on('connect', (req, client, head) => {
    const m = /^([^:\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(req.url)
    if (!m) {
        client.end('HTTP/1.1 400 Bad Request\r\n\r\n')
        process.stdout.write(`refused CONNECT ${req.url}\n`)
        return
    }
    const upstream = net.connect(Number(m[2]), m[1].replace(/^\[|\]$/g, ''), () => {
        process.stdout.write(`connect ${req.url}\n`)
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        if (head.length) upstream.write(head)
        upstream.pipe(client)
        client.pipe(upstream)
    })
    upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'))
    client.on('error', () => upstream.destroy())
})

server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`ready ${JSON.stringify({ port: server.address().port })}\n`)
})
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0))
