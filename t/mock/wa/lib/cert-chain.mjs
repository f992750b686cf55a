// A test certificate chain in the shape WhatsApp's server sends (waweb.md
// 1.4): an intermediate signed by a root key, a leaf signed by the
// intermediate naming the server's Noise static key.  The root's public key
// is what a client under test is told to trust (whatsapp_server root_key=).
import * as B from 'baileys'

const P = B.proto

// Variants let hostile-server tests hand the client a chain it must refuse;
// each breaks exactly one of the checks our C++ client makes.
export const CHAIN_VARIANTS = ['valid', 'wrong-root', 'bad-leaf-signature', 'issuer-serial',
    'leaf-key-mismatch', 'expired', 'not-yet-valid', 'garbage']

export function makeCertChain({ root, serverStatic, now, variant = 'valid' }) {
    if (!CHAIN_VARIANTS.includes(variant)) throw new Error(`unknown chain variant ${variant}`)
    if (variant === 'garbage') return Buffer.from('this is not a CertChain')
    const inter = B.Curve.generateKeyPair()
    const day = 86400
    let notBefore = now - day, notAfter = now + 30 * day
    if (variant === 'expired') { notBefore = now - 60 * day; notAfter = now - day }
    if (variant === 'not-yet-valid') { notBefore = now + day; notAfter = now + 30 * day }
    const interSerial = 1 + Math.floor(Math.random() * 1000)
    const interDetails = P.CertChain.NoiseCertificate.Details.encode({
        serial: interSerial, issuerSerial: variant === 'issuer-serial' ? 1 : 0,
        key: inter.public, notBefore, notAfter }).finish()
    const leafKey = variant === 'leaf-key-mismatch' ? B.Curve.generateKeyPair().public : serverStatic.public
    const leafDetails = P.CertChain.NoiseCertificate.Details.encode({
        serial: interSerial + 1, issuerSerial: interSerial, key: leafKey, notBefore, notAfter }).finish()
    const signer = variant === 'wrong-root' ? B.Curve.generateKeyPair() : root
    const leafSigner = variant === 'bad-leaf-signature' ? B.Curve.generateKeyPair() : inter
    return Buffer.from(P.CertChain.encode({
        intermediate: { details: interDetails, signature: Buffer.from(B.Curve.sign(signer.private, interDetails)) },
        leaf: { details: leafDetails, signature: Buffer.from(B.Curve.sign(leafSigner.private, leafDetails)) },
    }).finish())
}
