// Writes the seed corpora of the fuzzers from the test vectors, so the
// fuzzers start from real encodings instead of random bytes:
//   corpus/binary_node/  every binary[] payload and the binary_zlib one
//                        (whole payloads: flags byte, then the node)
// Run: node t/fuzz/make-corpus.mjs   (after regenerating vectors.json)
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
