// Which simulcast layer to ask the SFU for, per publisher, from the height of
// the tile showing that publisher's camera (`call.layer`). The camera is
// opened at 360p (localMedia.ts) and sent as 1/4, 1/2 and full size
// (simulcast.ts): 90p, 180p and 360p. A tile gets the smallest layer that
// is at most 1.5 times upscaled, so small grid tiles take `low`, middling
// ones `medium`, and large tiles or the stage `high`.

import type { VideoLayer } from '../proto';

/** Tallest tile, in device pixels, that each lower layer serves. */
export const LOW_UP_TO_PX = 135;
export const MEDIUM_UP_TO_PX = 270;
/** One request per publisher at most this often. */
export const LAYER_THROTTLE_MS = 1000;
/** What the SFU forwards until told otherwise. */
export const DEFAULT_LAYER: VideoLayer = 'high';

export function layerForTileHeight(cssHeight: number, pixelRatio = 1): VideoLayer {
  const height = cssHeight * pixelRatio;
  if (height <= LOW_UP_TO_PX) return 'low';
  if (height <= MEDIUM_UP_TO_PX) return 'medium';
  return 'high';
}

interface Told {
  /** Null: a request was refused, so what the SFU uses is unknown. */
  layer: VideoLayer | null;
  at: number;
}

/** The layer wanted for each publisher against what the SFU was last told:
 * a request goes out only on a change, and at most once per
 * `LAYER_THROTTLE_MS` per publisher, so resizing a window does not flood
 * the server. */
export class LayerPlanner {
  private readonly wanted = new Map<string, VideoLayer>();
  private readonly told = new Map<string, Told>();

  constructor(private readonly throttleMs = LAYER_THROTTLE_MS) {}

  want(publisher: string, layer: VideoLayer): void {
    this.wanted.set(publisher, layer);
  }

  /** The publisher left. */
  forget(publisher: string): void {
    this.wanted.delete(publisher);
    this.told.delete(publisher);
  }

  /** A new SFU connection: the SFU starts again from the default everywhere. */
  reset(): void {
    this.told.clear();
  }

  /** The requests to send now; they count as told from now on. */
  due(now: number): { publisher: string; layer: VideoLayer }[] {
    const due: { publisher: string; layer: VideoLayer }[] = [];
    for (const [publisher, layer] of this.wanted) {
      const told = this.told.get(publisher);
      if (layer === (told ? told.layer : DEFAULT_LAYER)) continue;
      if (told && now - told.at < this.throttleMs) continue;
      this.told.set(publisher, { layer, at: now });
      due.push({ publisher, layer });
    }
    return due;
  }

  /** A request was refused: ask again after the throttle interval. */
  failed(publisher: string, layer: VideoLayer): void {
    const told = this.told.get(publisher);
    if (told?.layer === layer) told.layer = null;
  }
}
