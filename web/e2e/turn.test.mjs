// Calls through Mesh's own TURN relay (mesh-turn, embedded in `mesh serve`):
// participants whose browsers may only use relay candidates — as behind a
// firewall that lets them reach nothing but the TURN server — still get media,
// peer to peer (both sides relayed) and to the SFU (one side relayed).
//
// The relay policy is forced from the test, not the app: an init script
// wraps `RTCPeerConnection` to add `iceTransportPolicy: 'relay'` to whatever
// configuration the app passes (its ICE servers stay as the server gave them).
// Everything else is the product as shipped: the harness's server binds the
// relay on 127.0.0.1 with `MESH_TURN_PORT=0`, and this file keeps
// `MESH_TURN_ALLOW_LOOPBACK_PEERS` at its default, false. The relay allows
// what these calls need on loopback by itself: a relayed address of its own
// is delivered to that allocation in-process, and the SFU's media address is
// its one allowed internal destination. /metrics shows the bytes relayed and
// that no peer was refused. The tests run in order; each has its own room and
// people.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRoom, joinCall, joinPublicRoom, launchBrowser, openPage, register, startServer } from './harness.mjs';
import { expectDecodingVideos, expectOnMesh, expectOnSfu, recordCalls, useSmallCamera } from './media.mjs';

const PASSWORD = 'correct horse battery';

let server;
let browser;
/** Per page, the `call.joined` payloads it received, latest last. */
const joinedFrames = new Map();

before(async () => {
  // The product's default, said out loud: loopback peers stay refused.
  server = await startServer({ MESH_TURN_ALLOW_LOOPBACK_PEERS: 'false' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Runs in the page before the app: every RTCPeerConnection may use relay
 * candidates only. The app's configuration is otherwise passed unchanged. */
function relayOnly() {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(configuration, ...rest) {
      super({ ...configuration, iceTransportPolicy: 'relay' }, ...rest);
    }
  };
}

async function person(name, { relay }) {
  const page = await openPage(browser);
  const frames = [];
  joinedFrames.set(page, frames);
  page.on('websocket', (socket) =>
    socket.on('framereceived', ({ payload }) => {
      const frame = JSON.parse(payload);
      if (frame.type === 'call.joined') frames.push(frame.payload);
    }),
  );
  await recordCalls(page);
  if (relay) await page.addInitScript(relayOnly);
  await useSmallCamera(page);
  await register(page, server.url, name);
  return page;
}

async function accessToken(login) {
  const response = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login, password: PASSWORD }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).access_token;
}

async function api(token, method, route, body) {
  const response = await fetch(`${server.url}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body && { 'content-type': 'application/json' }) },
    body: body && JSON.stringify(body),
  });
  assert.equal(response.status, 200, `${method} ${route}`);
  return response.json();
}

/** The relay's counters from /metrics. */
async function turnMetrics() {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (pattern) => Number(new RegExp(`^${pattern} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    allocations: value('mesh_turn_allocations'),
    bytes: value('mesh_turn_bytes_relayed'),
    forbidden: value('mesh_turn_refusals\\{reason="forbidden_peer"\\}'),
  };
}

/** Per open connection of the page: its configuration and the candidates of
 * its selected pair (type, protocol, address; for a relay candidate the TURN
 * URL and the protocol to the relay). */
function selectedPairs(page) {
  return page.evaluate(async () => {
    const result = [];
    for (const connection of window.__peerConnections) {
      if (connection.connectionState === 'closed') continue;
      const stats = new Map();
      (await connection.getStats()).forEach((stat) => stats.set(stat.id, stat));
      const transport = [...stats.values()].find((stat) => stat.type === 'transport' && stat.selectedCandidatePairId);
      const pair = transport && stats.get(transport.selectedCandidatePairId);
      const describe = (candidate) =>
        candidate && {
          type: candidate.candidateType,
          protocol: candidate.protocol,
          address: candidate.address,
          port: candidate.port,
          ...(candidate.candidateType === 'relay' && { url: candidate.url, relayProtocol: candidate.relayProtocol }),
        };
      const { iceServers, iceTransportPolicy } = connection.getConfiguration();
      result.push({
        sfu: /a=ice-lite/.test(connection.remoteDescription?.sdp ?? ''),
        state: connection.connectionState,
        iceTransportPolicy,
        iceServers: iceServers.map(({ urls, username, credential }) => ({ urls: [urls].flat(), username, credential })),
        local: describe(stats.get(pair?.localCandidateId)),
        remote: describe(stats.get(pair?.remoteCandidateId)),
      });
    }
    return result;
  });
}

/** Runs `work`; if it fails, adds what the pages' connections selected and
 * the end of the server's log to the error. */
async function explained(pages, work) {
  try {
    return await work();
  } catch (error) {
    const pairs = await Promise.all(pages.map((page) => selectedPairs(page).catch((e) => e.message)));
    error.message += `\nselected pairs: ${JSON.stringify(pairs, null, 1)}\nserver log:\n${server
      .logs()
      .split('\n')
      .slice(-40)
      .join('\n')}`;
    throw error;
  }
}

/** Prints what was selected and relayed, for the record. */
function report(label, pairs, before, now) {
  const relay = { ...now, bytes: now.bytes - before.bytes };
  console.log(`${label}: selected pairs ${JSON.stringify(pairs)}; relay ${JSON.stringify(relay)}`);
}

/** The URLs Mesh hands out for a relay on 127.0.0.1 without TLS. */
function expectMeshIceServers(iceServers, userId) {
  assert.equal(iceServers.length, 1, JSON.stringify(iceServers));
  const [{ urls, username, credential }] = iceServers;
  const port = /^stun:127\.0\.0\.1:(\d+)$/.exec(urls[0])?.[1];
  assert.ok(port && Number(port) > 0, `a STUN URL first: ${urls}`);
  assert.deepEqual(urls, [
    `stun:127.0.0.1:${port}`,
    `turn:127.0.0.1:${port}?transport=udp`,
    `turn:127.0.0.1:${port}?transport=tcp`,
  ]);
  // TURN REST: "<expiry>:<user id>", valid for hours.
  const [expiry, user] = username.split(':');
  assert.equal(user, String(userId));
  assert.ok(Number(expiry) * 1000 > Date.now() + 3_600_000, `expiry ${expiry}`);
  assert.match(credential, /^[A-Za-z0-9+/]{27}=?$/, 'base64 of an HMAC-SHA1');
  return urls;
}

/** The page's connections use exactly the ICE servers its `call.joined`
 * gave and, relayed, select a relay candidate of Mesh's TURN. */
async function expectRelayed(page, { sfu, remoteTypes }) {
  const joined = joinedFrames.get(page).at(-1);
  assert.ok(joined, 'the page received call.joined');
  const pairs = await selectedPairs(page);
  assert.equal(pairs.length, 1, JSON.stringify(pairs));
  const [pair] = pairs;
  assert.equal(pair.sfu, sfu);
  assert.equal(pair.iceTransportPolicy, 'relay');
  assert.deepEqual(pair.iceServers, joined.ice_servers, 'the ICE servers of call.joined, nothing else');
  const turnUrls = joined.ice_servers[0].urls.filter((url) => url.startsWith('turn:'));
  assert.equal(pair.local?.type, 'relay', JSON.stringify(pair));
  assert.equal(pair.local.address, '127.0.0.1');
  assert.ok(turnUrls.includes(pair.local.url), `relayed by ${pair.local.url}, one of ${turnUrls}`);
  assert.ok(remoteTypes.includes(pair.remote?.type), `remote candidate ${JSON.stringify(pair.remote)}`);
  return pair;
}

test('two relay-only participants call each other through Mesh’s TURN', { timeout: 60_000 }, async () => {
  const [alice, bob] = await Promise.all([person('alice', { relay: true }), person('bob', { relay: true })]);
  await createRoom(alice, 'relayed');
  await joinPublicRoom(bob, 'relayed');
  const before = await turnMetrics();

  await joinCall(alice);
  await joinCall(bob);
  await explained([alice, bob], async () => {
    await Promise.all([expectOnMesh(alice, 1), expectOnMesh(bob, 1)]);
    await Promise.all([expectDecodingVideos(alice, 1), expectDecodingVideos(bob, 1)]);
  });

  // The ICE servers are Mesh's own, as GET /api/v1/ice-servers gives them too.
  const token = await accessToken('alice');
  const me = await api(token, 'GET', '/me');
  const rest = await api(token, 'GET', '/ice-servers');
  const urls = expectMeshIceServers(rest.ice_servers, me.id);
  const joined = joinedFrames.get(alice).at(-1).ice_servers;
  assert.deepEqual(expectMeshIceServers(joined, me.id), urls);

  const pairs = {};
  for (const [name, page] of [
    ['alice', alice],
    ['bob', bob],
  ]) {
    // A relay candidate each side: the other's relayed address as it
    // signaled it (relay), or as its first check revealed it (prflx).
    const relayed = () => expectRelayed(page, { sfu: false, remoteTypes: ['relay', 'prflx'] });
    pairs[name] = await explained([alice, bob], relayed);
  }
  // Both ends on the same relay: each side's remote is the other's relayed address.
  assert.equal(pairs.alice.remote.port, pairs.bob.local.port);
  assert.equal(pairs.bob.remote.port, pairs.alice.local.port);
  const now = await turnMetrics();
  report('mesh', pairs, before, now);
  assert.ok(now.allocations >= 2, `allocations: ${now.allocations}`);
  assert.ok(now.bytes - before.bytes > 20_000, `bytes relayed: ${now.bytes - before.bytes}`);
  assert.equal(now.forbidden, 0, 'no peer refused');
  await Promise.all([alice.context().close(), bob.context().close()]);
});

test('a relay-only participant reaches the SFU through Mesh’s TURN', { timeout: 60_000 }, async () => {
  const [carol, dave] = await Promise.all([person('carol', { relay: true }), person('dave', { relay: false })]);
  const roomId = await createRoom(carol, 'relayed-sfu');
  const room = await api(await accessToken('carol'), 'PATCH', `/rooms/${roomId}`, { call_topology: 'sfu' });
  assert.equal(room.call_topology, 'sfu');
  await joinPublicRoom(dave, 'relayed-sfu');
  const before = await turnMetrics();

  await joinCall(carol);
  await joinCall(dave);
  await explained([carol, dave], async () => {
    await Promise.all([expectOnSfu(carol), expectOnSfu(dave)]);
    // Each decodes the other's camera: carol's goes up through the relay,
    // dave's comes down through it.
    await Promise.all([expectDecodingVideos(carol, 1), expectDecodingVideos(dave, 1)]);
  });

  // The SFU is ICE-lite and gets no candidates from the browser: the remote
  // end is the SFU's own host candidate, reached through the relay.
  const relayed = () => expectRelayed(carol, { sfu: true, remoteTypes: ['host'] });
  const carolPair = await explained([carol, dave], relayed);
  const carolId = (await api(await accessToken('carol'), 'GET', '/me')).id;
  expectMeshIceServers(joinedFrames.get(carol).at(-1).ice_servers, carolId);
  assert.deepEqual([carolPair.remote.protocol, carolPair.remote.address], ['udp', '127.0.0.1']);
  const [davePair] = await selectedPairs(dave);
  assert.equal(davePair.iceTransportPolicy, 'all');
  assert.notEqual(davePair.local?.type, 'relay', 'dave connects directly');
  // Both reach the same SFU media port, one of them through the relay.
  assert.equal(carolPair.remote.port, davePair.remote.port);
  const now = await turnMetrics();
  report('sfu', { carol: carolPair, dave: davePair }, before, now);
  assert.ok(now.bytes - before.bytes > 20_000, `bytes relayed: ${now.bytes - before.bytes}`);
  assert.equal(now.forbidden, 0, 'no peer refused');
});
