// The curve25519 signature check (waweb.md 1.11), strict.  Baileys'
// Curve.verify cannot be used for this: it calls libsignal's
// verifySignature, which *returns* false on a bad signature, and only
// treats a throw as failure, so it accepts any well-formed signature.
import libsignal from 'libsignal'

export function curveVerify(publicKey, message, signature) {
    if (!publicKey || publicKey.length !== 32 || !signature || signature.length !== 64) return false
    try {
        return libsignal.curve.verifySignature(Buffer.concat([Buffer.from([5]), publicKey]), message, signature) === true
    } catch {
        return false
    }
}
