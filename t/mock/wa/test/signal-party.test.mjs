// The world's Signal parties against each other: two devices that start a
// session with each other at the same moment (each from the other's bundle,
// the pkmsgs crossing) each end with two sessions and may keep answering on
// either; every message must still decrypt on the other side.  libsignal
// (node) alone fails this: trying the open session on a message for the
// older one steps that session's ratchet in place and keeps the damage.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SignalParty } from '../lib/signal-party.mjs'

const text = b => Buffer.from(b).toString()

test('sessions started at once from both sides: every message decrypts, either session', async () => {
    const alice = new SignalParty(), bob = new SignalParty()
    const aliceAddr = { name: '4915200000101', device: 0 }
    const bobAddr = { name: '4915200000102', device: 0 }
    await bob.startSession(aliceAddr, alice.bundle())
    const b1 = await bob.encrypt(aliceAddr, Buffer.from('b1'))
    await alice.startSession(bobAddr, bob.bundle())
    const a1 = await alice.encrypt(bobAddr, Buffer.from('a1'))
    assert.equal(b1.type, 'pkmsg')
    assert.equal(a1.type, 'pkmsg')
    // Crossing: each takes the other's pkmsg after sending its own.
    assert.equal(text(await alice.decrypt(bobAddr, b1.type, b1.body)), 'b1')
    assert.equal(text(await bob.decrypt(aliceAddr, a1.type, a1.body)), 'a1')
    // Each now sends on the session it opened last: they differ.
    for (let round = 2; round <= 5; round++) {
        const a = await alice.encrypt(bobAddr, Buffer.from(`a${round}`))
        assert.equal(text(await bob.decrypt(aliceAddr, a.type, a.body)), `a${round}`, `alice's message ${round}`)
        const b = await bob.encrypt(aliceAddr, Buffer.from(`b${round}`))
        assert.equal(text(await alice.decrypt(bobAddr, b.type, b.body)), `b${round}`, `bob's message ${round}`)
    }
})

test('a message that fails every session changes none of them', async () => {
    const alice = new SignalParty(), bob = new SignalParty()
    const aliceAddr = { name: '4915200000103', device: 0 }
    const bobAddr = { name: '4915200000104', device: 0 }
    await alice.startSession(bobAddr, bob.bundle())
    const first = await alice.encrypt(bobAddr, Buffer.from('hello'))
    assert.equal(text(await bob.decrypt(aliceAddr, first.type, first.body)), 'hello')
    const reply = await bob.encrypt(aliceAddr, Buffer.from('hi'))
    assert.equal(text(await alice.decrypt(bobAddr, reply.type, reply.body)), 'hi')
    // A stranger's message under Alice's name: a different session's ratchet.
    const mallory = new SignalParty()
    const malloryAddr = { name: '4915200000105', device: 0 }
    await mallory.startSession(bobAddr, bob.bundle())
    const m1 = await mallory.encrypt(bobAddr, Buffer.from('x'))
    await bob.decrypt(malloryAddr, m1.type, m1.body)
    const r1 = await bob.encrypt(malloryAddr, Buffer.from('y'))
    await mallory.decrypt(bobAddr, r1.type, r1.body)
    const forged = await mallory.encrypt(bobAddr, Buffer.from('forged'))
    assert.equal(forged.type, 'msg')
    const before = JSON.stringify(bob.sessions.get(`${aliceAddr.name}.${aliceAddr.device}`).serialize())
    await assert.rejects(bob.decrypt(aliceAddr, 'msg', forged.body), /No matching sessions/)
    assert.equal(JSON.stringify(bob.sessions.get(`${aliceAddr.name}.${aliceAddr.device}`).serialize()), before)
    const next = await alice.encrypt(bobAddr, Buffer.from('still here'))
    assert.equal(text(await bob.decrypt(aliceAddr, next.type, next.body)), 'still here')
})
