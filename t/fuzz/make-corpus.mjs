// Writes the seed corpora of the fuzzers from the test vectors, so the
// fuzzers start from real encodings instead of random bytes:
//   corpus/binary_node/  every binary[] payload and the binary_zlib one
//                        (whole payloads: flags byte, then the node)
//   corpus/passkey_json/ the pasted assertions of passkey_vectors.json
//                        (byte 0), its options (byte 1) and base64url texts
//                        (byte 2): the target's selector, then the text
//   corpus/media_conn/   media_vectors.json's media_conn answers (byte 0),
//                        hosts (1), direct paths (2) and urls (3)
//   corpus/media_retry/  media_vectors.json's notifications (byte 0) and
//                        their IV || ciphertext (byte 1)
// Run: node t/fuzz/make-corpus.mjs   (after regenerating either file)
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const vectors = JSON.parse(fs.readFileSync(path.join(here, '../unit/wa/vectors.json'), 'utf8'))

const dir = path.join(here, 'corpus', 'binary_node')
fs.rmSync(dir, { recursive: true, force: true })
fs.mkdirSync(dir, { recursive: true })
vectors.binary.forEach((v, i) => {
  const name = `${String(i).padStart(2, '0')}-${v.node.tag.replace(/[^a-z0-9]/gi, '_')}.bin`
  fs.writeFileSync(path.join(dir, name), Buffer.from(v.encoded_hex, 'hex'))
})
fs.writeFileSync(path.join(dir, 'zlib-iq.bin'), Buffer.from(vectors.binary_zlib.encoded_hex, 'hex'))
console.error(`make-corpus: ${vectors.binary.length + 1} seeds in ${dir}`)

// The passkey fuzzer checks assertions against the vectors' options, which
// it holds verbatim: keep the two in step.
const passkey = JSON.parse(fs.readFileSync(path.join(here, '../unit/wa/passkey_vectors.json'), 'utf8'))
const pkDir = path.join(here, 'corpus', 'passkey_json')
const fuzzSource = fs.readFileSync(path.join(here, 'passkey_json_fuzz.cpp'), 'utf8')
if (!fuzzSource.includes(passkey.assertions.options_json))
  throw new Error('passkey_json_fuzz.cpp does not hold the options of passkey_vectors.json: copy them in')
fs.rmSync(pkDir, { recursive: true, force: true })
fs.mkdirSync(pkDir, { recursive: true })
const seed = (name, selector, text) => fs.writeFileSync(path.join(pkDir, name), Buffer.concat([Buffer.from([selector]), Buffer.from(text)]))
passkey.assertions.cases.forEach((c, i) => seed(`assertion-${String(i).padStart(2, '0')}-${c.name.replace(/[^a-z0-9]/gi, '_')}.json`, 0, c.json))
seed('options.json', 1, passkey.assertions.options_json)
;['', 'Zg', 'Zm8=', 'Zm9vYmFy', '-_-_', passkey.ceremony.ref].forEach((t, i) => seed(`base64url-${i}.txt`, 2, t))
console.error(`make-corpus: ${passkey.assertions.cases.length + 7} seeds in ${pkDir}`)

// The media fuzzers, from media_vectors.json (gen-media-vectors.mjs).
const media = JSON.parse(fs.readFileSync(path.join(here, '../unit/wa/media_vectors.json'), 'utf8'))
const seeds = (name, list) => {
  const d = path.join(here, 'corpus', name)
  fs.rmSync(d, { recursive: true, force: true })
  fs.mkdirSync(d, { recursive: true })
  list.forEach(([file, selector, bytes]) => fs.writeFileSync(path.join(d, file), Buffer.concat([Buffer.from([selector]), Buffer.from(bytes)])))
  console.error(`make-corpus: ${list.length} seeds in ${d}`)
}
const retryDirectPath = media.notifications.find(n => n.direct_path).direct_path
seeds('media_conn', [
  ...media.media_conn.map((m, i) => [`answer-${i}.bin`, 0, Buffer.from(m.encoded, 'hex')]),
  ...media.media_conn.flatMap(m => m.hosts).map((h, i) => [`host-${i}.txt`, 1, h]),
  ['path-0.txt', 2, retryDirectPath],
  ['url-0.txt', 3, 'https://mmg.whatsapp.net' + retryDirectPath],
  ['url-1.txt', 3, 'https://127.0.0.1:8443/m/1.enc?x=1'],
])
seeds('media_retry', [
  ...media.notifications.map(n => [`notification-${n.name}.bin`, 0, Buffer.from(n.encoded, 'hex')]),
  ...media.notifications.filter(n => n.ciphertext).map(n => [`sealed-${n.name}.bin`, 1, Buffer.from(n.iv + n.ciphertext, 'hex')]),
])
