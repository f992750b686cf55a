// The phone's side of pairing by code (waweb.md 1.12).  The companion shows
// an 8-character code and wraps its ephemeral key with a key derived from
// it; the person types the code into the phone, which unwraps that key,
// wraps its own, and later opens the companion's key bundle and derives the
// same adv secret.  Built on node:crypto; the steps are ours.
import crypto from 'node:crypto'
import { promisify } from 'node:util'
import * as B from 'baileys'

const pbkdf2 = promisify(crypto.pbkdf2)
export const CODE_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTVWXYZ'
const ITERATIONS = 2 << 16
const BUNDLE_INFO = 'link_code_pairing_key_bundle_encryption_key'

export class CodeError extends Error {}

// "ABCD-EFGH" or "ABCDEFGH" -> "ABCDEFGH"; a person may type lower case.
export function normalizeCode(text) {
    const code = String(text).replace('-', '').toUpperCase()
    if (code.length !== 8) throw new CodeError(`code has ${code.length} characters, want 8`)
    for (const [i, ch] of [...code].entries())
        if (!CODE_ALPHABET.includes(ch)) throw new CodeError(`code character ${i + 1} (${ch}) is not in the alphabet`)
    return code
}

const codeKey = (code, salt) => pbkdf2(Buffer.from(code), salt, ITERATIONS, 32, 'sha256')

const ctr = (key, iv, data) => {
    const c = crypto.createCipheriv('aes-256-ctr', key, iv)
    return Buffer.concat([c.update(data), c.final()])
}

// salt32 || iv16 || AES-256-CTR(code key, iv, key32): 80 bytes.
export async function unwrapEphemeral(code, wrapped) {
    if (wrapped.length !== 80) throw new CodeError(`wrapped ephemeral key is ${wrapped.length} bytes, want 80`)
    return ctr(await codeKey(code, wrapped.subarray(0, 32)), wrapped.subarray(32, 48), wrapped.subarray(48))
}

export async function wrapEphemeral(code, publicKey) {
    const salt = crypto.randomBytes(32), iv = crypto.randomBytes(16)
    return Buffer.concat([salt, iv, ctr(await codeKey(code, salt), iv, publicKey)])
}

const hkdf32 = (ikm, salt, info) => Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from(info), 32))

// Opens the companion's wrapped key bundle (salt32 || nonce12 || GCM) and
// derives the adv secret.  A wrong code shows here: the tag does not verify.
export function openKeyBundle({ bundle, primaryEphemeral, companionEphemeral, account, companionIdentity }) {
    if (bundle.length !== 32 + 12 + 96 + 16) throw new CodeError(`key bundle is ${bundle.length} bytes, want 156`)
    const shared = B.Curve.sharedKey(primaryEphemeral.private, companionEphemeral)
    const key = hkdf32(shared, bundle.subarray(0, 32), BUNDLE_INFO)
    let plain
    try {
        const d = crypto.createDecipheriv('aes-256-gcm', key, bundle.subarray(32, 44))
        d.setAuthTag(bundle.subarray(bundle.length - 16))
        plain = Buffer.concat([d.update(bundle.subarray(44, bundle.length - 16)), d.final()])
    } catch {
        throw new CodeError('key bundle does not decrypt (a wrong code?)')
    }
    if (!plain.subarray(0, 32).equals(companionIdentity)) throw new CodeError('key bundle names another companion identity')
    if (!plain.subarray(32, 64).equals(account.public)) throw new CodeError('key bundle names another primary identity')
    const advRandom = plain.subarray(64, 96)
    const identityShared = B.Curve.sharedKey(account.private, companionIdentity)
    return hkdf32(Buffer.concat([shared, identityShared, advRandom]), Buffer.alloc(0), 'adv_secret')
}
