import { beforeEach, describe, expect, it, vi } from 'vitest';

const socket = vi.hoisted(() => ({
  isReady: true,
  request: vi.fn(() => Promise.resolve({ v: 1, type: 'ack', payload: null })),
}));
vi.mock('../api/socket', () => ({ realtime: socket }));
vi.mock('../api/endpoints', () => ({ api: {} }));

const { useRooms, initialRooms, reportFocus } = await import('./rooms');

describe('reporting the focused room to the server', () => {
  beforeEach(() => {
    socket.isReady = true;
    socket.request.mockClear();
    useRooms.setState({ ...initialRooms });
  });

  it('sends the room on screen whenever it changes', () => {
    useRooms.getState().setActive(5);
    useRooms.getState().setActive(null);
    expect(socket.request.mock.calls).toEqual([
      [{ type: 'focus', payload: { room_id: 5, visible: true } }],
      [{ type: 'focus', payload: { room_id: null, visible: true } }],
    ]);
  });

  it('says when the page is hidden', () => {
    useRooms.getState().setActive(5);
    socket.request.mockClear();
    vi.stubGlobal('document', { visibilityState: 'hidden' });
    try {
      reportFocus();
    } finally {
      vi.unstubAllGlobals();
    }
    expect(socket.request).toHaveBeenCalledWith({ type: 'focus', payload: { room_id: 5, visible: false } });
  });

  it('sends nothing while offline; the next connection reports it', () => {
    socket.isReady = false;
    useRooms.getState().setActive(5);
    expect(socket.request).not.toHaveBeenCalled();
  });
});
