import { describe, expect, it, vi } from 'vitest';
import { typingThrottle } from './typing';

describe('typingThrottle', () => {
  it('sends at most once every two seconds per room', () => {
    let now = 0;
    const send = vi.fn();
    const { typed } = typingThrottle(send, () => now);

    typed(1);
    now = 500;
    typed(1);
    now = 1999;
    typed(1);
    expect(send).toHaveBeenCalledTimes(1);

    typed(2); // another room has its own clock
    expect(send).toHaveBeenCalledTimes(2);

    now = 2000;
    typed(1);
    expect(send.mock.calls).toEqual([[1], [2], [1]]);
  });

  it('announces the first keystroke after a message was sent', () => {
    const send = vi.fn();
    const throttle = typingThrottle(send, () => 0);
    throttle.typed(1);
    throttle.sent(1);
    throttle.typed(1);
    expect(send).toHaveBeenCalledTimes(2);
  });
});
