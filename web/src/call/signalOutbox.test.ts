import { describe, expect, it } from 'vitest';
import type { Signal } from '../proto';
import { SignalOutbox } from './signalOutbox';

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const candidate = (n: number): Signal => ({ candidate: { candidate: `candidate:${n}` } });

/** A server that refuses with `code` while `refusing` holds for a target. */
function server() {
  const delivered: [string, Signal][] = [];
  const refusing = new Map<string, string>();
  const deliver = async (to: string, signal: Signal) => {
    const code = refusing.get(to);
    if (code) throw { code };
    delivered.push([to, signal]);
  };
  return { delivered, refusing, deliver };
}

describe('SignalOutbox', () => {
  it('delivers straight away when it can', async () => {
    const { delivered, deliver } = server();
    const outbox = new SignalOutbox(deliver);
    outbox.send('p1', candidate(1));
    await settle();
    expect(delivered).toEqual([['p1', candidate(1)]]);
    expect(outbox.holding).toBe(false);
  });

  it('holds signals for a reconnecting target and retries them in order', async () => {
    const { delivered, refusing, deliver } = server();
    const outbox = new SignalOutbox(deliver);
    refusing.set('p1', 'conflict');
    outbox.send('p1', candidate(1));
    outbox.send('p1', candidate(2));
    outbox.send('p2', candidate(9));
    await settle();
    outbox.send('p1', candidate(3));
    expect(delivered).toEqual([['p2', candidate(9)]]);
    expect(outbox.holding).toBe(true);

    outbox.retry();
    await settle();
    expect(delivered).toHaveLength(1);

    refusing.delete('p1');
    outbox.retry();
    await settle();
    expect(delivered.slice(1)).toEqual([
      ['p1', candidate(1)],
      ['p1', candidate(2)],
      ['p1', candidate(3)],
    ]);
    expect(outbox.holding).toBe(false);
  });

  it('holds signals while our own connection is down', async () => {
    const { delivered, refusing, deliver } = server();
    const outbox = new SignalOutbox(deliver);
    refusing.set('p1', 'disconnected');
    outbox.send('p1', candidate(1));
    await settle();
    refusing.delete('p1');
    outbox.retry();
    await settle();
    expect(delivered).toEqual([['p1', candidate(1)]]);
  });

  it('drops signals refused for good, and those of a target that left', async () => {
    const { delivered, refusing, deliver } = server();
    const outbox = new SignalOutbox(deliver);
    refusing.set('gone', 'not_found');
    outbox.send('gone', candidate(1));
    refusing.set('p1', 'conflict');
    outbox.send('p1', candidate(2));
    await settle();
    outbox.forget('p1');
    refusing.clear();
    outbox.retry();
    await settle();
    expect(delivered).toEqual([]);
    expect(outbox.holding).toBe(false);
  });
});
