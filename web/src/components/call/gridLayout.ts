// The call grid: as many 16:9 tiles as there are participants, as large as
// they can be in the space the call has.

export const TILE_RATIO = 16 / 9;

export interface GridLayout {
  columns: number;
  tileWidth: number;
}

/** The column count that gives the largest tiles for `count` tiles in a
 * `width` × `height` box with `gap` between tiles. */
export function gridLayout(count: number, width: number, height: number, gap: number): GridLayout {
  let best: GridLayout = { columns: 1, tileWidth: 0 };
  for (let columns = 1; columns <= Math.max(1, count); columns++) {
    const rows = Math.ceil(count / columns);
    const byWidth = (width - gap * (columns - 1)) / columns;
    const byHeight = ((height - gap * (rows - 1)) / rows) * TILE_RATIO;
    const tileWidth = Math.floor(Math.max(0, Math.min(byWidth, byHeight)));
    if (tileWidth > best.tileWidth) best = { columns, tileWidth };
  }
  return best;
}
