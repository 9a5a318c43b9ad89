import { useCall } from '../../store/call';
import { AudioView } from './MediaView';

/** The voices of the call, wherever the user is in the app. */
export function CallAudio() {
  const remote = useCall((state) => state.remote);
  const speaker = useCall((state) => state.devices.speaker);
  return (
    <div hidden>
      {Object.entries(remote).map(
        ([participantId, tracks]) =>
          tracks.audio && <AudioView key={participantId} track={tracks.audio} sinkId={speaker} />,
      )}
    </div>
  );
}
