// What one RTCRtpReceiver has received so far, from its own getStats()
// (which also carries the transport and selected candidate pair it uses).

/** Whether a receiver has had audio packets or decoded a video frame. */
export async function receivedSome(receiver: RTCRtpReceiver | undefined): Promise<boolean> {
  if (!receiver) return false;
  let some = false;
  (await receiver.getStats()).forEach((stat: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
    if (stat.type !== 'inbound-rtp') return;
    some ||= stat.kind === 'video' ? (stat.framesDecoded ?? 0) > 0 : (stat.packetsReceived ?? 0) > 0;
  });
  return some;
}
