import { describe, expect, it } from 'vitest';
import { gridLayout } from './gridLayout';

describe('gridLayout', () => {
  it('gives one tile the whole height when the box is wide', () => {
    expect(gridLayout(1, 1000, 360, 8)).toEqual({ columns: 1, tileWidth: 640 });
  });

  it('puts three tiles in a row in a wide, low box', () => {
    expect(gridLayout(3, 1000, 300, 8).columns).toBe(3);
  });

  it('stacks tiles in a tall, narrow box', () => {
    expect(gridLayout(3, 400, 900, 8)).toEqual({ columns: 1, tileWidth: 400 });
  });

  it('makes a 2 × 2 grid for four tiles in a 16:9 box', () => {
    const layout = gridLayout(4, 1600, 900, 0);
    expect(layout).toEqual({ columns: 2, tileWidth: 800 });
  });

  it('never returns a negative width', () => {
    expect(gridLayout(5, 10, 10, 8).tileWidth).toBeGreaterThanOrEqual(0);
  });
});
