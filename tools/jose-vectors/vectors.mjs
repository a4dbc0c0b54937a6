// Interop vectors between pgsecrets' keyring and Node's jose.
//
//   node vectors.mjs encrypt  jose encrypts; writes from-jose.json
//   node vectors.mjs decrypt  jose decrypts from-pgsecrets.json (written by
//                             `go run ./gen`); writes decrypted-by-jose.json
//
// The Go tests in internal/keyring check both files without needing Node.
import { readFile, writeFile } from 'node:fs/promises'
import { CompactEncrypt, compactDecrypt, importJWK } from 'jose'

const testdata = new URL('../../internal/keyring/testdata/', import.meta.url)
const vectorsDir = new URL('jose/', testdata)
const bindingHeader = 'pgsecrets_bind'

async function readJSON(url) {
  return JSON.parse(await readFile(url, 'utf8'))
}

async function writeJSON(url, value) {
  await writeFile(url, JSON.stringify(value, null, 2) + '\n')
  console.log(`wrote ${url.pathname}`)
}

// The root keys exactly as DESIGN.md shows them; jose imports them as they are.
async function rootKeys() {
  const jwks = await readJSON(new URL('root-keys.json', testdata))
  return Promise.all(jwks.map(async (jwk) => ({ jwk, key: await importJWK(jwk) })))
}

async function encryptVectors() {
  const keys = await rootKeys()
  const plaintexts = await readJSON(new URL('plaintexts.json', import.meta.url))
  const vectors = []
  for (const { jwk, key } of keys) {
    const seal = async (binding, plaintext) => {
      const header = { alg: jwk.alg, enc: jwk.enc, kid: jwk.kid }
      if (binding !== '') header[bindingHeader] = binding
      const jwe = await new CompactEncrypt(new TextEncoder().encode(plaintext))
        .setProtectedHeader(header)
        .encrypt(key)
      vectors.push({ kid: jwk.kid, alg: jwk.alg, enc: jwk.enc, binding, plaintext, jwe })
    }
    for (const { name, plaintext } of plaintexts) {
      await seal(`secret:demo/${name}`, plaintext)
    }
    // Written by "another tool": no binding, which pgsecrets reports as unbound.
    await seal('', 'written without a binding')
  }
  await writeJSON(new URL('from-jose.json', vectorsDir), vectors)
}

async function decryptVectors() {
  const keys = await rootKeys()
  const byKID = new Map(keys.map((k) => [k.jwk.kid, k]))
  const vectors = await readJSON(new URL('from-pgsecrets.json', vectorsDir))
  const options = {
    keyManagementAlgorithms: [...new Set(keys.map((k) => k.jwk.alg))],
    contentEncryptionAlgorithms: [...new Set(keys.map((k) => k.jwk.enc))],
  }
  // The key is chosen by kid, and must be used with its own alg and enc,
  // as pgsecrets itself requires.
  const keyFor = (header) => {
    const found = byKID.get(header.kid)
    if (!found) throw new Error(`no root key with kid ${JSON.stringify(header.kid)}`)
    if (header.alg !== found.jwk.alg || header.enc !== found.jwk.enc) {
      throw new Error(`kid ${header.kid} is ${found.jwk.alg}/${found.jwk.enc}, token says ${header.alg}/${header.enc}`)
    }
    return found.key
  }
  const out = []
  for (const v of vectors) {
    const { plaintext, protectedHeader } = await compactDecrypt(v.jwe, keyFor, options)
    out.push({
      jwe: v.jwe,
      protectedHeader,
      plaintext: new TextDecoder('utf-8', { fatal: true }).decode(plaintext),
    })
  }
  await writeJSON(new URL('decrypted-by-jose.json', vectorsDir), out)
}

const commands = { encrypt: encryptVectors, decrypt: decryptVectors }
const command = commands[process.argv[2]]
if (!command) {
  console.error('usage: node vectors.mjs encrypt|decrypt')
  process.exit(2)
}
await command()
