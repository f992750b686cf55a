// Stanzas as JSON for the control API and the record: a node is
// { tag, attrs, content } where content is a list of nodes, a string, or
// { hex } / { b64 } for bytes.  The binary codec is Baileys' (a library here).
import zlib from 'node:zlib'
import * as B from 'baileys'

export function nodeToJson(node) {
    const out = { tag: node.tag, attrs: { ...(node.attrs || {}) } }
    const c = node.content
    if (Array.isArray(c)) out.content = c.map(nodeToJson)
    else if (c instanceof Uint8Array) out.content = { hex: Buffer.from(c).toString('hex') }
    else if (typeof c === 'string') out.content = c
    return out
}

export function nodeFromJson(j) {
    if (!j || typeof j.tag !== 'string' || j.tag === '') throw new Error('a node needs a non-empty string tag')
    const attrs = {}
    for (const [k, v] of Object.entries(j.attrs || {})) {
        if (typeof v !== 'string') throw new Error(`attribute ${k} of <${j.tag}> is not a string`)
        attrs[k] = v
    }
    const node = { tag: j.tag, attrs }
    const c = j.content
    if (Array.isArray(c)) node.content = c.map(nodeFromJson)
    else if (c && typeof c.hex === 'string') node.content = Buffer.from(c.hex, 'hex')
    else if (c && typeof c.b64 === 'string') node.content = Buffer.from(c.b64, 'base64')
    else if (typeof c === 'string') node.content = c
    else if (c !== undefined) throw new Error(`content of <${j.tag}> is neither nodes, a string, {hex} nor {b64}`)
    return node
}

// The frame plaintext: a flags byte then the node; flag 0x02 means the rest
// is zlib-deflated (waweb.md 1.5).
export function encodeStanza(node, { compress = false } = {}) {
    const plain = B.encodeBinaryNode(node) // begins with flags byte 0
    if (!compress) return plain
    return Buffer.concat([Buffer.from([2]), zlib.deflateSync(plain.subarray(1))])
}

export const decodeStanza = plain => B.decodeBinaryNode(plain)

export const child = (node, tag) => Array.isArray(node?.content) ? node.content.find(c => c.tag === tag) : undefined
