// `mesh-bench switch`, the browser half: headless Debian Chromium pages join
// one call past the mesh limit and leave again (web/e2e/growth.mjs), against
// a `mesh` server of their own (MESH_BIN). Prints each step on stderr and
// writes the figures as JSON to the file named by --out.
//
//   node bench/switch/run.mjs --participants 6 --mesh-limit 4 --hysteresis 1 --out figures.json

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { growAndShrink, openParticipants } from '../../web/e2e/growth.mjs';
import { launchBrowser, startServer } from '../../web/e2e/harness.mjs';

const NAMES = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay', 'gus', 'hal', 'ivy', 'jon', 'kim', 'lea'];

const { values } = parseArgs({
  options: {
    participants: { type: 'string', default: '6' },
    'mesh-limit': { type: 'string', default: '4' },
    hysteresis: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const participants = Number(values.participants);
const meshLimit = Number(values['mesh-limit']);
const hysteresisS = Number(values.hysteresis);
if (!values.out) throw new Error('--out FILE is required');
if (!(participants > meshLimit && participants <= NAMES.length && meshLimit >= 2)) {
  throw new Error(`need 2 <= mesh limit < participants <= ${NAMES.length}`);
}

const server = await startServer({ MESH_MESH_LIMIT: String(meshLimit), MESH_SFU_HYSTERESIS: String(hysteresisS) });
let browser;
try {
  browser = await launchBrowser();
  const people = await openParticipants(browser, server.url, NAMES.slice(0, participants), 'bench');
  const { figures } = await growAndShrink(people, { meshLimit, hysteresisS, say: (line) => console.error(line) });
  await writeFile(values.out, JSON.stringify(figures));
} finally {
  await browser?.close();
  await server.stop();
}
