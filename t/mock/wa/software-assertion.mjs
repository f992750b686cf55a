#!/usr/bin/env node
// A software authenticator for the black-box tests (t/passkey.t): what the
// operator's browser does on web.whatsapp.com with the account's passkey,
// made from the WebAuthn request options the devices API shows.
//
//   node t/mock/wa/software-assertion.mjs < request.json > assertion.json
//
// request.json: {"options": <GET <name>/passkey's options>,
//                "passkey": <the mock's POST account answer's passkey>,
//                "variant": "good" | "another key" | "wrong rpId"}
// Prints the PublicKeyCredential JSON (base64url fields) on stdout.  The
// private key comes from the test and goes nowhere else.
import crypto from 'node:crypto'
import { softwareAssertion } from './lib/test-client.mjs'

const chunks = []
for await (const c of process.stdin) chunks.push(c)
const { options, passkey, variant = 'good' } = JSON.parse(Buffer.concat(chunks).toString())
if (!options?.challenge || !passkey?.private_jwk || !passkey?.credential_id) {
    console.error('software-assertion: need options.challenge, passkey.private_jwk and passkey.credential_id')
    process.exit(2)
}
const extra = {
    good: {},
    // a key the account never registered: only the server can tell
    'another key': { privateJwk: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) },
    // made for another site: the companion's own check refuses it
    'wrong rpId': { rpId: 'evil.example' },
}[variant]
if (!extra) {
    console.error(`software-assertion: unknown variant ${JSON.stringify(variant)}`)
    process.exit(2)
}
process.stdout.write(softwareAssertion({ privateJwk: passkey.private_jwk, credentialId: passkey.credential_id, options, ...extra }) + '\n')
