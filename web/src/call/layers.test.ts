import { describe, expect, it } from 'vitest';
import { LAYER_THROTTLE_MS, LayerPlanner, layerForTileHeight } from './layers';

describe('layer from tile height', () => {
  it('asks small tiles for the low layer, middling ones for medium, large ones for high', () => {
    expect(layerForTileHeight(0)).toBe('low');
    expect(layerForTileHeight(90)).toBe('low');
    expect(layerForTileHeight(135)).toBe('low');
    expect(layerForTileHeight(136)).toBe('medium');
    expect(layerForTileHeight(181)).toBe('medium');
    expect(layerForTileHeight(270)).toBe('medium');
    expect(layerForTileHeight(271)).toBe('high');
    expect(layerForTileHeight(720)).toBe('high');
  });

  it('counts device pixels', () => {
    expect(layerForTileHeight(100, 2)).toBe('medium');
    expect(layerForTileHeight(181, 2)).toBe('high');
  });
});

describe('layer requests', () => {
  it('sends only changes from what the SFU forwards by default (high)', () => {
    const planner = new LayerPlanner();
    planner.want('a', 'high');
    planner.want('b', 'low');
    expect(planner.due(0)).toEqual([{ publisher: 'b', layer: 'low' }]);
    expect(planner.due(5000)).toEqual([]);
  });

  it('throttles each publisher and sends the latest wish', () => {
    const planner = new LayerPlanner();
    planner.want('a', 'low');
    expect(planner.due(0)).toEqual([{ publisher: 'a', layer: 'low' }]);
    planner.want('a', 'medium');
    planner.want('a', 'high');
    expect(planner.due(LAYER_THROTTLE_MS - 1)).toEqual([]);
    expect(planner.due(LAYER_THROTTLE_MS)).toEqual([{ publisher: 'a', layer: 'high' }]);
  });

  it('goes back to a layer already told without sending anything', () => {
    const planner = new LayerPlanner();
    planner.want('a', 'low');
    planner.due(0);
    planner.want('a', 'medium');
    planner.want('a', 'low');
    expect(planner.due(5000)).toEqual([]);
  });

  it('asks again after a refusal, once the throttle allows', () => {
    const planner = new LayerPlanner();
    planner.want('a', 'low');
    planner.due(0);
    planner.failed('a', 'low');
    expect(planner.due(10)).toEqual([]);
    expect(planner.due(LAYER_THROTTLE_MS)).toEqual([{ publisher: 'a', layer: 'low' }]);
  });

  it('tells a new SFU connection everything again, and forgets who left', () => {
    const planner = new LayerPlanner();
    planner.want('a', 'low');
    planner.want('b', 'medium');
    planner.due(0);
    planner.forget('b');
    planner.reset();
    expect(planner.due(1)).toEqual([{ publisher: 'a', layer: 'low' }]);
  });
});
