// The server's half of WhatsApp's Noise XX handshake and the transport
// cipher that follows it (waweb.md 1.3 and 1.5).  Pure state: bytes in,
// bytes out; the WebSocket plumbing lives in server.mjs.  Built on node:crypto
// and the curve helpers Baileys exports; the handshake steps are ours.
import crypto from 'node:crypto'
import * as B from 'baileys'

// Exactly 32 bytes, so it is the initial h and ck as is (not hashed).
export const NOISE_NAME = Buffer.from('Noise_XX_25519_AESGCM_SHA256\0\0\0\0')
export const WA_HEADER = Buffer.from([0x57, 0x41, 6, 3])

const nonce = counter => {
    const iv = Buffer.alloc(12)
    iv.writeUInt32BE(counter, 8)
    return iv
}

function seal(key, counter, plain, aad) {
    const c = crypto.createCipheriv('aes-256-gcm', key, nonce(counter))
    c.setAAD(aad)
    return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
}

// Throws on a bad tag, like node:crypto; callers turn that into a reason.
function open(key, counter, sealed, aad) {
    if (sealed.length < 16) throw new Error(`ciphertext of ${sealed.length} bytes is shorter than the tag`)
    const d = crypto.createDecipheriv('aes-256-gcm', key, nonce(counter))
    d.setAAD(aad)
    d.setAuthTag(sealed.subarray(sealed.length - 16))
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()])
}

const hkdf64 = (ikm, salt) => Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.alloc(0), 64))

// One handshake, responder side.  Call in order: readClientHello,
// writeServerHello, readClientFinish, then split() for the transport.
export class NoiseResponder {
    constructor({ serverStatic, certChain, ephemeral = B.Curve.generateKeyPair() }) {
        this.static = serverStatic
        this.certChain = certChain
        this.eph = ephemeral
        this.h = Buffer.from(NOISE_NAME)
        this.ck = Buffer.from(NOISE_NAME)
        this.k = null
        this.n = 0
        this.mixHash(WA_HEADER) // the prologue is the 4-byte header, never the ED preface
    }

    mixHash(data) {
        this.h = crypto.createHash('sha256').update(this.h).update(data).digest()
    }

    mixKey(ikm) {
        const out = hkdf64(ikm, this.ck)
        this.ck = out.subarray(0, 32)
        this.k = out.subarray(32)
        this.n = 0
    }

    encrypt(plain) {
        const ct = seal(this.k, this.n++, plain, this.h)
        this.mixHash(ct)
        return ct
    }

    decrypt(ct) {
        const pt = open(this.k, this.n++, ct, this.h)
        this.mixHash(ct)
        return pt
    }

    readClientHello(clientEphemeral) {
        this.clientEph = clientEphemeral
        this.mixHash(clientEphemeral)
    }

    // -> { ephemeral, static, payload } for HandshakeMessage.serverHello
    writeServerHello() {
        this.mixHash(this.eph.public)
        this.mixKey(B.Curve.sharedKey(this.eph.private, this.clientEph))
        const encStatic = this.encrypt(this.static.public)
        this.mixKey(B.Curve.sharedKey(this.static.private, this.clientEph))
        const payload = this.encrypt(this.certChain)
        return { ephemeral: this.eph.public, static: encStatic, payload }
    }

    // -> { clientStatic, payload }; throws when a tag does not verify.
    readClientFinish(encStatic, encPayload) {
        const clientStatic = this.decrypt(encStatic)
        if (clientStatic.length !== 32) throw new Error(`client static key is ${clientStatic.length} bytes, want 32`)
        this.mixKey(B.Curve.sharedKey(this.eph.private, clientStatic))
        const payload = this.decrypt(encPayload)
        return { clientStatic, payload }
    }

    // The client writes with the first half, so that is what we read with.
    split() {
        const out = hkdf64(Buffer.alloc(0), this.ck)
        return new TransportCipher({ read: out.subarray(0, 32), write: out.subarray(32) })
    }
}

// AES-256-GCM, empty AAD, one counter per direction.
export class TransportCipher {
    constructor({ read, write }) {
        this.readKey = read
        this.writeKey = write
        this.readCounter = 0
        this.writeCounter = 0
    }

    encrypt(plain) { return seal(this.writeKey, this.writeCounter++, plain, Buffer.alloc(0)) }

    // The counter advances even when the tag fails, as the client's does.
    decrypt(sealed) { return open(this.readKey, this.readCounter++, sealed, Buffer.alloc(0)) }
}
