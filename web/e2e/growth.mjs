// A call as it grows past the mesh limit and shrinks back, seen from the
// pages in it: people join one at a time until there are `participants`,
// then leave one at a time until two remain. Every step waits until each
// page in the call decodes every other camera over the connections its mode
// calls for (mesh below the limit, the SFU above it), so nobody is dropped
// along the way, and measures
//
// - join to first frame: from a newcomer's click on "Join now" to the first
//   frame of a remote camera its page presents, per mode;
// - the longest freeze of each switch: the longest time any remote camera's
//   tile on any page in the call showed no new frame, from just before the
//   step that causes the switch until the switch has settled (media.mjs,
//   `videoGaps`);
// - the longest page stall of each switch: the same, counted between the
//   page's frame callbacks, which also stop while its main thread is busy
//   even though the videos keep playing.
//
// Used by the end-to-end test (growth.test.mjs) and by `mesh-bench switch`.

import { createRoom, eventually, joinCall, joinPublicRoom, openPage, register } from './harness.mjs';
import {
  expectDecodingVideos,
  expectOnMesh,
  expectOnSfu,
  pageNow,
  recordCalls,
  recordVideoFrames,
  useSmallCamera,
  videoGaps,
} from './media.mjs';

/** Frames keep being measured this long after a switch has completed. */
const AFTER_SWITCH_MS = 1500;
/** Longest wait for a step of the call to settle. */
const SETTLE_TIMEOUT_MS = 30_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a signed-in page for each of `names`, all in one public room. */
export async function openParticipants(browser, baseUrl, names, room = 'growing') {
  const pages = await Promise.all(
    names.map(async (name) => {
      const page = await openPage(browser);
      await recordCalls(page);
      await recordVideoFrames(page);
      await useSmallCamera(page);
      await register(page, baseUrl, name);
      return { name, page };
    }),
  );
  await createRoom(pages[0].page, room);
  for (const { page } of pages.slice(1)) await joinPublicRoom(page, room);
  return pages;
}

/** The page-clock time of the first remote camera frame at or after `since`. */
function firstRemoteFrame(page, since) {
  return page.evaluate(
    (since) =>
      Math.min(...Object.values(window.__frames).flatMap((times) => times.filter((time) => time >= since))),
    since,
  );
}

/** Waits until every page in `inCall` decodes all the others, on the mode
 * `count` people call for. */
async function settle(inCall, meshLimit) {
  const others = inCall.length - 1;
  const onMode = inCall.length > meshLimit ? (page) => expectOnSfu(page, SETTLE_TIMEOUT_MS) : (page) => expectOnMesh(page, others, SETTLE_TIMEOUT_MS);
  await Promise.all(inCall.map(({ page }) => onMode(page)));
  await Promise.all(inCall.map(({ page }) => expectDecodingVideos(page, others, SETTLE_TIMEOUT_MS)));
  // Everyone in the call has a tile, and nobody who left still has one.
  await Promise.all(
    inCall.map(({ name, page }) =>
      eventually(async () => {
        const tiles = await page.locator('figure[data-participant]:not(.tile-screen)').count();
        if (tiles !== inCall.length) throw new Error(`${name} shows ${tiles} tiles for ${inCall.length} people`);
      }, SETTLE_TIMEOUT_MS),
    ),
  );
}

/** The longest freeze and page stall (media.mjs, `videoGaps`) of any remote
 * camera on any of `measured` ([person, since]). */
async function longestGaps(measured) {
  let [frozen, stalled] = [0, 0];
  const lines = [];
  for (const [{ name, page }, since] of measured) {
    for (const [id, gaps] of Object.entries(await videoGaps(page, since))) {
      if (gaps.frozen.frames === 0) throw new Error(`${name} was shown no frame of participant ${id} during the switch`);
      lines.push(
        `${name} ← ${id}: frozen ${gaps.frozen.longest} ms from +${gaps.frozen.at} ms (${gaps.frozen.frames} frames); ` +
          `page stalled ${gaps.stalled.longest} ms from +${gaps.stalled.at} ms`,
      );
      frozen = Math.max(frozen, gaps.frozen.longest);
      stalled = Math.max(stalled, gaps.stalled.longest);
    }
  }
  return { frozen, stalled, lines };
}

/**
 * Grows the call from one person to all of `people`, then shrinks it back to
 * two. `meshLimit` and `hysteresisS` must be the server's; `say` hears
 * each step as it happens. Returns the figures, with `log` describing each
 * step.
 */
export async function growAndShrink(people, { meshLimit, hysteresisS, say = () => {} }) {
  const figures = {
    first_frame_ms_mesh: [],
    first_frame_ms_sfu: [],
    switch_gap_ms_to_sfu: [],
    switch_gap_ms_to_mesh: [],
    page_stall_ms_to_sfu: [],
    page_stall_ms_to_mesh: [],
  };
  const log = {
    lines: [],
    push(...lines) {
      this.lines.push(...lines);
      lines.forEach((line) => say(line));
    },
  };
  const inCall = [];
  for (const person of people) {
    const switching = inCall.length === meshLimit;
    const since = await Promise.all(inCall.map(({ page }) => pageNow(page)));
    const clickedAt = await joinCall(person.page);
    inCall.push(person);
    await settle(inCall, meshLimit);
    if (inCall.length === 1) continue;
    const firstFrame = Math.round((await firstRemoteFrame(person.page, clickedAt)) - clickedAt);
    const mode = inCall.length > meshLimit ? 'sfu' : 'mesh';
    figures[`first_frame_ms_${mode}`].push(firstFrame);
    log.push(`${person.name} joined (${inCall.length} in the call, ${mode}): first remote frame after ${firstFrame} ms`);
    if (switching) {
      await sleep(AFTER_SWITCH_MS);
      const { frozen, stalled, lines } = await longestGaps(inCall.slice(0, -1).map((other, index) => [other, since[index]]));
      figures.switch_gap_ms_to_sfu.push(frozen);
      figures.page_stall_ms_to_sfu.push(stalled);
      log.push(`switch mesh→sfu: longest freeze ${frozen} ms, page stall ${stalled} ms`, ...lines.map((line) => `  ${line}`));
    }
  }
  while (inCall.length > 2) {
    const leaving = inCall.pop();
    const switching = inCall.length === meshLimit;
    const since = await Promise.all(inCall.map(({ page }) => pageNow(page)));
    await leaving.page.getByRole('button', { name: 'Leave call' }).click();
    // Back to the limit, the call returns to mesh only after the hysteresis.
    if (switching) await sleep(hysteresisS * 1000);
    await settle(inCall, meshLimit);
    log.push(`${leaving.name} left (${inCall.length} in the call)`);
    if (switching) {
      await sleep(AFTER_SWITCH_MS);
      const { frozen, stalled, lines } = await longestGaps(inCall.map((other, index) => [other, since[index]]));
      figures.switch_gap_ms_to_mesh.push(frozen);
      figures.page_stall_ms_to_mesh.push(stalled);
      log.push(`switch sfu→mesh: longest freeze ${frozen} ms, page stall ${stalled} ms`, ...lines.map((line) => `  ${line}`));
    }
  }
  return { figures, log: log.lines };
}
