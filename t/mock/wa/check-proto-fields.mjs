// Checks our hand-written protobuf subset (src/wa/proto/*.proto) against the
// WAProto.proto shipped in npm baileys: every message, field and enum value
// we declare must exist there with the same name, number, type, label and
// (for repeated scalars) the same packed encoding.  Our subset may leave
// things out; it may not disagree.
//
// Run:  node t/mock/wa/check-proto-fields.mjs     (after npm ci in t/mock/wa)
// Prints one line per .proto file and a total; exits 1 on any mismatch.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const srcRoot = path.resolve(here, '../../../src')
const oursDir = path.join(srcRoot, 'wa/proto')
const refFile = path.join(here, 'node_modules/baileys/WAProto/WAProto.proto')
const OUR_PACKAGE = 'chatwoot.wa.proto'
// Fields our subset declares that the reference lacks, with where they come
// from: HistorySync.nctSalt (19, bytes): waweb-2026.md section 3 (WhatsApp
// Web's own schema, whatsmeow's waHistorySync).
const BEYOND_REFERENCE = {
    'HistorySync.nctSalt': { id: 19, type: 'bytes' },
}
const REF_PACKAGE = 'proto'

const ref = new protobuf.Root()
ref.loadSync(refFile, { keepCase: true })
ref.resolveAll()

const files = fs.readdirSync(oursDir).filter(f => f.endsWith('.proto')).sort()
if (files.length === 0) { console.error(`no .proto files in ${oursDir}`); process.exit(1) }

// Every file loads into its own root so a type is attributed to the file
// that declares it; imports resolve against src/, as protoc's -I does.
const loadOne = file => {
  const root = new protobuf.Root()
  root.resolvePath = (origin, target) =>
    path.isAbsolute(target) ? target : path.join(srcRoot, target)
  root.loadSync(path.join(oursDir, file), { keepCase: true })
  root.resolveAll()
  return root
}

// ".chatwoot.wa.proto.Message.ImageMessage" -> "Message.ImageMessage"
const relName = (obj, pkg) => {
  const full = obj.fullName.replace(/^\./, '')
  if (!full.startsWith(pkg + '.')) return null
  return full.slice(pkg.length + 1)
}
const lookupRef = name => {
  try { return ref.lookup(`${REF_PACKAGE}.${name}`) } catch { return null }
}
const typeOf = (field, pkg) => field.resolvedType ? relName(field.resolvedType, pkg) : field.type
const labelOf = field => field.map ? 'map' : field.repeated ? 'repeated' : 'single'
// Only numbers and enums have a packed form; strings, bytes and messages
// are always one record per element, whatever the file's syntax says.
const packable = field => field.resolvedType instanceof protobuf.Enum ||
  (!field.resolvedType && !['string', 'bytes'].includes(field.type))

let totalPassed = 0, totalFailed = 0
for (const file of files) {
  const root = loadOne(file)
  const declared = path.join(oursDir, file)
  let passed = 0
  const failures = []
  const fail = msg => failures.push(msg)
  const walk = ns => {
    for (const obj of ns.nestedArray) {
      if (!obj.filename || path.resolve(obj.filename) !== declared) {
        if (obj.nestedArray) walk(obj)  // a package namespace or an imported type
        continue
      }
      const name = relName(obj, OUR_PACKAGE)
      if (obj instanceof protobuf.Type) {
        const r = lookupRef(name)
        if (!(r instanceof protobuf.Type)) {
          fail(`message ${name}: not in the reference`)
          walk(obj)
          continue
        }
        for (const f of obj.fieldsArray) {
          const rf = r.fields[f.name]
          const where = `${name}.${f.name}`
          if (!rf) {
            // A field Baileys' WAProto does not list yet, declared on the
            // word of another reading of WhatsApp Web: its number and type
            // must be the ones written down here.
            const extra = BEYOND_REFERENCE[where]
            if (extra && extra.id === f.id && extra.type === f.type && !f.repeated) { passed++; continue }
            fail(`${where}: no such field in the reference`); continue
          }
          const problems = []
          if (rf.id !== f.id) problems.push(`number ${f.id} != reference ${rf.id}`)
          const t = typeOf(f, OUR_PACKAGE), rt = typeOf(rf, REF_PACKAGE)
          if (t !== rt) problems.push(`type ${t} != reference ${rt}`)
          if (labelOf(f) !== labelOf(rf)) problems.push(`${labelOf(f)} != reference ${labelOf(rf)}`)
          if (f.repeated && packable(f) && f.packed !== rf.packed)
            problems.push(`packed=${f.packed} != reference packed=${rf.packed}`)
          if (problems.length) fail(`${where}: ${problems.join(', ')}`); else passed++
        }
        walk(obj)
      } else if (obj instanceof protobuf.Enum) {
        const r = lookupRef(name)
        if (!(r instanceof protobuf.Enum)) { fail(`enum ${name}: not in the reference`); continue }
        for (const [k, v] of Object.entries(obj.values)) {
          if (r.values[k] === undefined) fail(`${name}.${k}: no such value in the reference`)
          else if (r.values[k] !== v) fail(`${name}.${k}: ${v} != reference ${r.values[k]}`)
          else passed++
        }
      } else if (obj.nestedArray) {
        walk(obj)
      }
    }
  }
  walk(root)
  for (const f of failures) console.log(`  FAIL ${file}: ${f}`)
  console.log(`${file}: ${passed} passed, ${failures.length} failed`)
  totalPassed += passed; totalFailed += failures.length
}
console.log(`check-proto-fields: ${totalPassed} passed, ${totalFailed} failed`)
process.exit(totalFailed === 0 ? 0 : 1)
