// The server's view of a prekey upload (waweb.md 1.13):
//   <iq xmlns="encrypt" type="set"> <registration>4B</registration>
//   <type>05</type> <identity>32B</identity> <list><key><id>3B</id>
//   <value>32B</value></key>…</list> <skey><id>3B</id><value>32B</value>
//   <signature>64B</signature></skey></iq>
// Checked strictly; the signed prekey must verify under the identity key.
import { curveVerify } from './curve.mjs'

export class UploadError extends Error {}

const kids = n => Array.isArray(n?.content) ? n.content : []

function bytes(parent, tag, len, where) {
    const c = kids(parent).find(k => k.tag === tag)
    if (!c) throw new UploadError(`${where} has no <${tag}>`)
    if (!(c.content instanceof Uint8Array)) throw new UploadError(`${where}<${tag}> holds no bytes`)
    if (c.content.length !== len) throw new UploadError(`${where}<${tag}> is ${c.content.length} bytes, want ${len}`)
    return Buffer.from(c.content)
}

// -> { registrationId, identity, keys: [{ id, value }], signedPreKey: { id, value, signature } }
export function readPrekeyUpload(iq, { identity: known = null, maxKeys = 2000 } = {}) {
    const registrationId = bytes(iq, 'registration', 4, '').readUInt32BE(0)
    const type = bytes(iq, 'type', 1, '')
    if (type[0] !== 5) throw new UploadError(`<type> is ${type[0]}, want 5 (DJB)`)
    const identity = bytes(iq, 'identity', 32, '')
    if (known && !identity.equals(known)) throw new UploadError('<identity> is not the identity key this device paired with')
    const list = kids(iq).find(k => k.tag === 'list')
    if (!list) throw new UploadError('no <list>')
    const keys = kids(list).map((k, i) => {
        if (k.tag !== 'key') throw new UploadError(`<list> item ${i} is <${k.tag}>, want <key>`)
        return { id: bytes(k, 'id', 3, `<key> ${i} `).readUIntBE(0, 3), value: bytes(k, 'value', 32, `<key> ${i} `) }
    })
    if (keys.length === 0) throw new UploadError('<list> is empty')
    if (keys.length > maxKeys) throw new UploadError(`${keys.length} keys, more than ${maxKeys}`)
    const ids = new Set(keys.map(k => k.id))
    if (ids.size !== keys.length) throw new UploadError('a prekey id repeats')
    if (ids.has(0)) throw new UploadError('prekey id 0')
    const skey = kids(iq).find(k => k.tag === 'skey')
    if (!skey) throw new UploadError('no <skey>')
    const signedPreKey = { id: bytes(skey, 'id', 3, '<skey>').readUIntBE(0, 3), value: bytes(skey, 'value', 32, '<skey>') }
    const signature = bytes(skey, 'signature', 64, '<skey>')
    if (!curveVerify(identity, Buffer.concat([Buffer.from([5]), signedPreKey.value]), signature))
        throw new UploadError('<skey><signature> does not verify under <identity>')
    return { registrationId, identity, keys, signedPreKey: { ...signedPreKey, signature } }
}
