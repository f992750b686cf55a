// Reads the ClientPayload a client sends in its handshake finish and tells a
// registration (a new device, devicePairingData) from a login (a paired
// device, username + device).  Strict the way the server is: a payload
// missing what the server needs is refused with the reason, never guessed.
import crypto from 'node:crypto'
import * as B from 'baileys'
import { curveVerify } from './curve.mjs'

const P = B.proto
const has = (m, f) => m != null && Object.hasOwn(m, f)

export class PayloadError extends Error {}

const bytesOf = (name, v, len) => {
    if (!v || v.length !== len) throw new PayloadError(`devicePairingData.${name} is ${v ? v.length : 0} bytes, want ${len}`)
    return Buffer.from(v)
}

// -> { kind: 'login', username, device, passive, pull, version, pushName }
//  | { kind: 'registration', registrationId, identity, signedPreKey{id,public,signature}, buildHash, deviceProps, version }
export function readClientPayload(bytes) {
    let p
    try {
        p = P.ClientPayload.decode(bytes)
    } catch (e) {
        throw new PayloadError(`not a ClientPayload: ${e.message}`)
    }
    const ua = p.userAgent
    if (!has(p, 'userAgent')) throw new PayloadError('no userAgent')
    if (!has(ua, 'platform')) throw new PayloadError('userAgent has no platform')
    if (!has(ua, 'appVersion')) throw new PayloadError('userAgent has no appVersion')
    const av = ua.appVersion
    for (const f of ['primary', 'secondary', 'tertiary'])
        if (!has(av, f)) throw new PayloadError(`userAgent.appVersion has no ${f}`)
    const version = `${av.primary}.${av.secondary}.${av.tertiary}`
    const common = { version, platform: ua.platform, pushName: has(p, 'pushName') ? p.pushName : null,
        connectType: p.connectType, connectReason: p.connectReason }

    const login = has(p, 'username'), reg = has(p, 'devicePairingData')
    if (login && reg) throw new PayloadError('both username (login) and devicePairingData (registration)')
    if (!login && !reg) throw new PayloadError('neither username (login) nor devicePairingData (registration)')

    if (login) {
        if (!has(p, 'device')) throw new PayloadError('login without device')
        if (p.device === 0) throw new PayloadError('login as device 0 (the phone itself)')
        return { kind: 'login', username: String(p.username), device: p.device,
            passive: !!p.passive, pull: !!p.pull, lidDbMigrated: has(p, 'lidDbMigrated') ? !!p.lidDbMigrated : null, ...common }
    }

    const d = p.devicePairingData
    const regid = bytesOf('eRegid', d.eRegid, 4)
    const keyType = bytesOf('eKeytype', d.eKeytype, 1)
    if (keyType[0] !== 5) throw new PayloadError(`devicePairingData.eKeytype is ${keyType[0]}, want 5 (DJB)`)
    const identity = bytesOf('eIdent', d.eIdent, 32)
    const skeyId = bytesOf('eSkeyId', d.eSkeyId, 3)
    const skeyVal = bytesOf('eSkeyVal', d.eSkeyVal, 32)
    const skeySig = bytesOf('eSkeySig', d.eSkeySig, 64)
    const buildHash = bytesOf('buildHash', d.buildHash, 16)
    // The signed prekey is signed over its 33-byte (type-prefixed) form.
    if (!curveVerify(identity, Buffer.concat([Buffer.from([5]), skeyVal]), skeySig))
        throw new PayloadError('devicePairingData.eSkeySig does not verify under eIdent')
    const want = crypto.createHash('md5').update(version).digest()
    if (!buildHash.equals(want)) throw new PayloadError(`devicePairingData.buildHash is not MD5("${version}")`)
    if (!d.deviceProps || d.deviceProps.length === 0) throw new PayloadError('devicePairingData has no deviceProps')
    let deviceProps
    try {
        deviceProps = P.DeviceProps.decode(d.deviceProps)
    } catch (e) {
        throw new PayloadError(`devicePairingData.deviceProps is not a DeviceProps: ${e.message}`)
    }
    return { kind: 'registration', registrationId: regid.readUInt32BE(0), identity,
        signedPreKey: { id: skeyId.readUIntBE(0, 3), public: skeyVal, signature: skeySig }, buildHash,
        deviceProps: { os: deviceProps.os, platformType: deviceProps.platformType }, ...common }
}
