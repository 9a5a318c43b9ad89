// What one RTCRtpReceiver has received so far, from its own getStats()
// (which also carries the transport and selected candidate pair it uses).

/** What a receiver has had so far: decoded frames of a video, packets of an
 * audio track (none without a receiver). */
export async function receivedCount(receiver: RTCRtpReceiver | undefined): Promise<number> {
  if (!receiver) return 0;
  let count = 0;
  (await receiver.getStats()).forEach((stat: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
    if (stat.type !== 'inbound-rtp') return;
    count += (stat.kind === 'video' ? stat.framesDecoded : stat.packetsReceived) ?? 0;
  });
  return count;
}
