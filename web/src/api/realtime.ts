// The WebSocket client for `/api/v1/ws`: authenticates with the first frame,
// matches answers to requests by `id`, pings to notice dead connections and
// reconnects with backoff. Close code 4001 means the session is gone: one token
// refresh is tried before giving up.

import type { ClientEvent, Ready, ServerFrame } from '../proto';
import { backoffDelay } from './backoff';
import { ApiError } from './http';

const PROTOCOL_VERSION = 1;
const CLOSE_UNAUTHENTICATED = 4001;
const REQUEST_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 30_000;

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

/** A pushed event: a server frame other than the answers `ready`, `ack` and `error`. */
export type PushedEvent = Exclude<ServerFrame, { type: 'ready' | 'ack' | 'error' }>;

/** The successful answer to a request: usually `ack`, whose payload is the
 * committed Message for `message.send`/`message.edit` and null otherwise. */
export type Answer = Exclude<ServerFrame, { type: 'error' | 'ready' }>;

export interface RealtimeHandlers {
  /** A valid access token, or null when the session is gone. */
  accessToken(): Promise<string | null>;
  /** Refreshes the session after a 4001; false when it cannot be. */
  refreshSession(): Promise<boolean>;
  onReady(ready: Ready, reconnected: boolean): void;
  onEvent(event: PushedEvent): void;
  onStatus(status: ConnectionStatus): void;
  /** The session cannot be restored: the user must log in again. */
  onSessionLost(): void;
}

/** The part of the browser WebSocket this client uses (a fake in tests). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number): void;
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number }) => void) | null;
}

export interface RealtimeOptions {
  /** Defaults to `/api/v1/ws` on the page's own origin. */
  url?: string;
  createSocket?: (url: string) => SocketLike;
  random?: () => number;
}

interface PendingRequest {
  resolve(answer: Answer): void;
  reject(error: ApiError): void;
  timer: ReturnType<typeof setTimeout>;
}

export function websocketUrl(location: { protocol: string; host: string }): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/ws`;
}

const idleHandlers: RealtimeHandlers = {
  accessToken: async () => null,
  refreshSession: async () => false,
  onReady: () => {},
  onEvent: () => {},
  onStatus: () => {},
  onSessionLost: () => {},
};

export class RealtimeClient {
  private handlers = idleHandlers;
  private readonly url: string | undefined;
  private readonly createSocket: (url: string) => SocketLike;
  private readonly random: () => number;

  private running = false;
  private socket: SocketLike | null = null;
  private ready = false;
  private everReady = false;
  private attempt = 0;
  private authRetried = false;
  private nextId = 1;
  /** Bumped by every connect and stop, so a connect that was waiting for a
   * token gives up when it has been superseded. */
  private generation = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private readonly pending = new Map<string, PendingRequest>();

  constructor(options: RealtimeOptions = {}) {
    this.url = options.url;
    this.createSocket =
      options.createSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    this.random = options.random ?? Math.random;
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Connects, and keeps reconnecting until stop(), reporting to `handlers`. */
  start(handlers: RealtimeHandlers): void {
    if (this.running) return;
    this.handlers = handlers;
    this.running = true;
    this.everReady = false;
    this.attempt = 0;
    this.authRetried = false;
    void this.connect();
  }

  stop(): void {
    this.running = false;
    this.generation++;
    clearTimeout(this.reconnectTimer);
    this.detach(this.socket);
    this.socket?.close(1000);
    this.socket = null;
    this.handlers.onStatus('offline');
  }

  /** Sends a request and resolves with the frame that answers it (same `id`).
   * Rejects with an ApiError: the server's `error`, `timeout`, or
   * `disconnected` when there is no live connection or it dropped before the
   * answer. */
  request(event: ClientEvent, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
    const socket = this.socket;
    if (!socket || !this.ready) {
      return Promise.reject(new ApiError('disconnected', 'Not connected to the server.'));
    }
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ApiError('timeout', 'The server did not answer in time.'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify({ v: PROTOCOL_VERSION, id, ...event }));
    });
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.handlers.onStatus(this.everReady ? 'reconnecting' : 'connecting');
    let token: string | null;
    try {
      token = await this.handlers.accessToken();
    } catch {
      if (this.running && generation === this.generation) this.scheduleReconnect();
      return;
    }
    if (!this.running || generation !== this.generation) return;
    if (!token) {
      this.loseSession();
      return;
    }
    const socket = this.createSocket(this.url ?? websocketUrl(window.location));
    this.socket = socket;
    socket.onopen = () => {
      const auth: ClientEvent = { type: 'auth', payload: { token } };
      socket.send(JSON.stringify({ v: PROTOCOL_VERSION, id: 'auth', ...auth }));
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => this.dropped(socket, event.code);
  }

  private receive(data: unknown): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(data)) as ServerFrame;
    } catch {
      return;
    }
    if (frame.type === 'ready') {
      this.becameReady(frame.payload);
    } else if (frame.id !== undefined) {
      this.settle(frame.id, frame);
    } else if (frame.type !== 'ack' && frame.type !== 'error') {
      this.handlers.onEvent(frame);
    }
    // An `error` without an id reports a frame the server could not even
    // read; every frame this client sends has an id, so there is nothing to do.
  }

  private becameReady(ready: Ready): void {
    const reconnected = this.everReady;
    this.ready = true;
    this.everReady = true;
    this.attempt = 0;
    this.authRetried = false;
    this.startPing();
    this.handlers.onStatus('connected');
    this.handlers.onReady(ready, reconnected);
  }

  /** Answers carry the `id` of their request: settle it, whatever the type. */
  private settle(id: string, frame: Exclude<ServerFrame, { type: 'ready' }>): void {
    const request = this.pending.get(id);
    if (!request) return;
    this.pending.delete(id);
    clearTimeout(request.timer);
    if (frame.type === 'error') request.reject(new ApiError(frame.payload.code, frame.payload.message));
    else request.resolve(frame);
  }

  private dropped(socket: SocketLike, code: number): void {
    if (socket !== this.socket) return;
    this.detach(socket);
    this.socket = null;
    if (!this.running) return;
    if (code !== CLOSE_UNAUTHENTICATED) {
      this.scheduleReconnect();
    } else if (this.authRetried) {
      this.loseSession();
    } else {
      this.authRetried = true;
      this.handlers.onStatus('reconnecting');
      this.handlers.refreshSession().then(
        (ok) => {
          if (!this.running) return;
          if (ok) void this.connect();
          else this.loseSession();
        },
        () => this.running && this.scheduleReconnect(),
      );
    }
  }

  /** Forgets a socket: no more callbacks from it, and every request waiting on
   * it fails as `disconnected`. */
  private detach(socket: SocketLike | null): void {
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
    }
    this.ready = false;
    clearInterval(this.pingTimer);
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(new ApiError('disconnected', 'The connection to the server was lost.'));
    }
    this.pending.clear();
  }

  private scheduleReconnect(): void {
    this.handlers.onStatus('reconnecting');
    clearTimeout(this.reconnectTimer);
    const delay = backoffDelay(this.attempt++, this.random);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private loseSession(): void {
    this.stop();
    this.handlers.onSessionLost();
  }

  /** A connection that stops answering pings is dropped and reconnected. */
  private startPing(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const socket = this.socket;
      this.request({ type: 'ping' }).catch((error: ApiError) => {
        if (error.code !== 'timeout' || socket !== this.socket || !socket) return;
        socket.close();
        this.dropped(socket, 1006);
      });
    }, PING_INTERVAL_MS);
  }
}
