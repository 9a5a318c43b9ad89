import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Message } from '../proto';

const socket = vi.hoisted(() => ({
  isReady: true,
  request: vi.fn(),
}));
vi.mock('../api/socket', () => ({ realtime: socket }));
const api = vi.hoisted(() => ({ messages: vi.fn() }));
vi.mock('../api/endpoints', () => ({ api }));

const { useChat, initialChat } = await import('./chat');
const { ApiError } = await import('../api/http');

const ROOM = 7;

function committed(clientId: string, id: number, body = 'hello'): Message {
  return { id, room_id: ROOM, author_id: 1, author: 'alice', client_id: clientId, body, created_at: 1 };
}

/** A request that the test settles by hand: `resolve` acknowledges it with a message. */
function deferredRequest() {
  let resolve!: (message: Message) => void;
  let reject!: (error: Error) => void;
  socket.request.mockReturnValueOnce(
    new Promise((ok, fail) => {
      resolve = (message) => ok({ v: 1, type: 'ack', payload: message });
      reject = fail;
    }),
  );
  return { resolve, reject };
}

const state = () => useChat.getState();
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('sending messages', () => {
  beforeEach(() => {
    socket.isReady = true;
    socket.request.mockReset();
    useChat.setState({ ...initialChat, timelines: { [ROOM]: { messages: [], hasOlder: false, loadingOlder: false } } });
  });

  it('shows a message as pending at once, then as sent when acknowledged', async () => {
    const request = deferredRequest();
    state().send(ROOM, 'hello');
    const [entry] = state().outbox;
    expect(entry).toMatchObject({ roomId: ROOM, body: 'hello', status: 'pending' });
    expect(socket.request).toHaveBeenCalledWith({
      type: 'message.send',
      payload: { room_id: ROOM, client_id: entry.clientId, body: 'hello' },
    });

    request.resolve(committed(entry.clientId, 42));
    await settle();
    expect(state().outbox).toEqual([]);
    expect(state().timelines[ROOM].messages.map((message) => message.id)).toEqual([42]);
  });

  it('marks a message failed on an error or timeout, and retries with the same client_id', async () => {
    deferredRequest().reject(new ApiError('timeout', 'late'));
    state().send(ROOM, 'hello');
    await settle();
    const [failed] = state().outbox;
    expect(failed.status).toBe('failed');

    const retry = deferredRequest();
    state().retry(failed.clientId);
    expect(state().outbox[0].status).toBe('pending');
    expect(socket.request.mock.calls[1][0].payload.client_id).toBe(failed.clientId);
    retry.resolve(committed(failed.clientId, 43));
    await settle();
    expect(state().outbox).toEqual([]);
  });

  it('keeps a message pending while disconnected and resends it after reconnecting', async () => {
    socket.isReady = false;
    state().send(ROOM, 'offline');
    expect(socket.request).not.toHaveBeenCalled();

    deferredRequest().reject(new ApiError('disconnected', 'gone'));
    socket.isReady = true;
    state().resendPending();
    await settle();
    const [entry] = state().outbox;
    expect(entry.status).toBe('pending');

    deferredRequest();
    state().resendPending();
    expect(socket.request).toHaveBeenCalledTimes(2);
    expect(socket.request.mock.calls.map((call) => call[0].payload.client_id)).toEqual([
      entry.clientId,
      entry.clientId,
    ]);
  });

  it('dedupes a message that arrives both as message.new and as the ack', async () => {
    const request = deferredRequest();
    state().send(ROOM, 'hello');
    const { clientId } = state().outbox[0];

    state().receive(committed(clientId, 50)); // the broadcast comes first
    expect(state().outbox).toEqual([]);
    request.resolve(committed(clientId, 50));
    await settle();
    state().receive(committed(clientId, 50));
    expect(state().timelines[ROOM].messages).toHaveLength(1);
  });

  it('keeps messages in id order whatever order they arrive in', () => {
    state().receive(committed('b', 12));
    state().receive(committed('a', 10));
    state().receive(committed('c', 11));
    expect(state().timelines[ROOM].messages.map((message) => message.id)).toEqual([10, 11, 12]);
  });
});

describe('catching up after a reconnect', () => {
  beforeEach(() => {
    api.messages.mockReset();
    useChat.setState({ ...initialChat });
  });

  it('starts from where the timeline stood when the connection came back', async () => {
    const timeline = (ids: number[]) => ({
      messages: ids.map((id) => committed(`c${id}`, id)),
      hasOlder: false,
      loadingOlder: false,
    });
    useChat.setState({ timelines: { [ROOM]: timeline([10]) } });
    const caughtUpTo = state().newestIds();
    // A message resent on reconnecting is acknowledged before the catch-up runs.
    state().receive(committed('resent', 12));
    api.messages.mockResolvedValueOnce({ messages: [committed('missed', 11), committed('resent', 12)], has_more: false });

    await state().catchUp(ROOM, caughtUpTo.get(ROOM));

    expect(api.messages).toHaveBeenCalledWith(ROOM, { after: 10 }, expect.any(Number));
    expect(state().timelines[ROOM].messages.map((message) => message.id)).toEqual([10, 11, 12]);
  });
});
