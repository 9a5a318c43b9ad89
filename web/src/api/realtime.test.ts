import { afterEach, beforeEach, describe, expect, it, vi, type Mock } from 'vitest';
import { RealtimeClient, type ConnectionStatus, type RealtimeHandlers, type SocketLike } from './realtime';

class FakeSocket implements SocketLike {
  sent: Record<string, unknown>[] = [];
  closedWith: number | undefined;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;

  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code?: number) {
    this.closedWith = code;
  }
  /** The server's side. */
  reply(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify({ v: 1, ...frame }) });
  }
  ready() {
    this.reply({ id: 'auth', type: 'ready', payload: { user: { id: 1 }, protocol: 1 } });
  }
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe('RealtimeClient', () => {
  let sockets: FakeSocket[];
  let statuses: ConnectionStatus[];
  let handlers: { [K in keyof RealtimeHandlers]: Mock<RealtimeHandlers[K]> };
  let client: RealtimeClient;

  beforeEach(() => {
    vi.useFakeTimers();
    sockets = [];
    statuses = [];
    handlers = {
      accessToken: vi.fn(async () => 'token-1'),
      refreshSession: vi.fn(async () => true),
      onReady: vi.fn(),
      onEvent: vi.fn(),
      onStatus: vi.fn((status: ConnectionStatus) => {
        statuses.push(status);
      }),
      onSessionLost: vi.fn(),
    };
    client = new RealtimeClient({
      url: 'ws://test/api/v1/ws',
      random: () => 0.5,
      createSocket: () => {
        const socket = new FakeSocket();
        sockets.push(socket);
        return socket;
      },
    });
  });

  afterEach(() => {
    client.stop();
    vi.useRealTimers();
  });

  async function connect(): Promise<FakeSocket> {
    client.start(handlers);
    await flush();
    const socket = sockets.at(-1)!;
    socket.onopen?.();
    socket.ready();
    return socket;
  }

  it('authenticates with the first frame, never in the URL', async () => {
    const socket = await connect();
    expect(socket.sent[0]).toEqual({ v: 1, id: 'auth', type: 'auth', payload: { token: 'token-1' } });
    expect(handlers.onReady).toHaveBeenCalledWith({ user: { id: 1 }, protocol: 1 }, false);
    expect(statuses).toEqual(['connecting', 'connected']);
  });

  it('resolves a request with the payload of its ack', async () => {
    const socket = await connect();
    const answer = client.request({ type: 'typing', payload: { room_id: 3 } });
    const frame = socket.sent.at(-1)!;
    expect(frame).toMatchObject({ v: 1, type: 'typing', payload: { room_id: 3 } });
    socket.reply({ id: frame.id, type: 'ack', payload: null });
    await expect(answer).resolves.toMatchObject({ type: 'ack', payload: null });
    expect(handlers.onEvent).not.toHaveBeenCalled();
  });

  it('rejects a request with the server error, a timeout, or the lost connection', async () => {
    const socket = await connect();
    const refused = client.request({ type: 'typing', payload: { room_id: 3 } });
    socket.reply({ id: socket.sent.at(-1)!.id, type: 'error', payload: { code: 'forbidden', message: 'No.' } });
    await expect(refused).rejects.toMatchObject({ code: 'forbidden', message: 'No.' });

    const unanswered = client.request({ type: 'typing', payload: { room_id: 3 } }, 1000);
    const timedOut = expect(unanswered).rejects.toMatchObject({ code: 'timeout' });
    await vi.advanceTimersByTimeAsync(1000);
    await timedOut;

    const cut = client.request({ type: 'typing', payload: { room_id: 3 } });
    socket.onclose?.({ code: 1006 });
    await expect(cut).rejects.toMatchObject({ code: 'disconnected' });
  });

  it('passes pushed events on', async () => {
    const socket = await connect();
    socket.reply({ type: 'typing', payload: { room_id: 1, user_id: 2, username: 'bob' } });
    expect(handlers.onEvent).toHaveBeenCalledWith(
      expect.objectContaining({ type: 'typing', payload: { room_id: 1, user_id: 2, username: 'bob' } }),
    );
  });

  it('reconnects with growing delays and reports the reconnection', async () => {
    const socket = await connect();
    socket.onclose?.({ code: 1001 });
    expect(statuses.at(-1)).toBe('reconnecting');

    await vi.advanceTimersByTimeAsync(499);
    expect(sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets).toHaveLength(2);

    sockets[1].onclose?.({ code: 1006 }); // fails before being ready
    await vi.advanceTimersByTimeAsync(999);
    expect(sockets).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets).toHaveLength(3);

    sockets[2].onopen?.();
    sockets[2].ready();
    expect(handlers.onReady).toHaveBeenLastCalledWith(expect.anything(), true);
    expect(statuses.at(-1)).toBe('connected');
  });

  it('after close code 4001 refreshes the token once, then gives the session up', async () => {
    const socket = await connect();
    handlers.accessToken.mockResolvedValue('token-2');
    socket.onclose?.({ code: 4001 });
    await flush();
    expect(handlers.refreshSession).toHaveBeenCalledTimes(1);
    expect(sockets).toHaveLength(2);
    sockets[1].onopen?.();
    expect(sockets[1].sent[0]).toMatchObject({ type: 'auth', payload: { token: 'token-2' } });

    sockets[1].onclose?.({ code: 4001 }); // refused again
    await flush();
    expect(handlers.refreshSession).toHaveBeenCalledTimes(1);
    expect(handlers.onSessionLost).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(2);
  });

  it('goes to login when the refresh after 4001 fails', async () => {
    const socket = await connect();
    handlers.refreshSession.mockResolvedValue(false);
    socket.onclose?.({ code: 4001 });
    await flush();
    expect(handlers.onSessionLost).toHaveBeenCalledTimes(1);
    expect(statuses.at(-1)).toBe('offline');
  });

  it('stays quiet after stop', async () => {
    const socket = await connect();
    client.stop();
    expect(socket.closedWith).toBe(1000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(1);
    await expect(client.request({ type: 'ping' })).rejects.toMatchObject({ code: 'disconnected' });
  });
});
