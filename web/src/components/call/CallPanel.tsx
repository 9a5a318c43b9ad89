import { useRef, type ReactElement } from 'react';
import { useElementSize } from '../../hooks/useElementSize';
import { useT } from '../../i18n';
import type { CallParticipant } from '../../proto';
import { LOCAL, ongoingCall, useCall } from '../../store/call';
import { useSession } from '../../store/session';
import { CallControls } from './CallControls';
import { gridLayout } from './gridLayout';
import { ParticipantTile } from './ParticipantTile';
import { PreJoin } from './PreJoin';

const GAP_PX = 8;
/** Below this, tiles stop shrinking and the grid scrolls. */
const MIN_TILE_PX = 160;

/** The call of the room on screen, for a tab that is in it (or about to be). */
export function CallPanel({ roomId }: { roomId: number }) {
  const { t } = useT();
  const phase = useCall((state) => state.session?.phase);
  const beforeJoining = phase === 'prejoin' || phase === 'joining';
  return (
    <section className="call" aria-label={t('call.region')}>
      {beforeJoining ? <PreJoin /> : <CallTiles roomId={roomId} />}
      {phase === 'resuming' && (
        <p className="call-notice" role="status">
          {t('call.reconnecting')}
        </p>
      )}
      {!beforeJoining && <CallControls />}
    </section>
  );
}

/** Everyone's tile (this tab first); shared screens, when there are any, on
 * a stage above a strip of the participants. */
function CallTiles({ roomId }: { roomId: number }) {
  const { t } = useT();
  const call = useCall((state) => ongoingCall(state.states, roomId));
  const selfId = useCall((state) => state.session?.participantId);
  const media = useCall((state) => state.media);
  const local = useCall((state) => state.local);
  const remote = useCall((state) => state.remote);
  const quality = useCall((state) => state.quality);
  const speaking = useCall((state) => state.speaking);
  // The SFU names the loudest speaker; in mesh there is no such thing.
  const activeSpeaker = useCall((state) => (call?.topology.mode === 'sfu' ? state.activeSpeaker : null));
  const username = useSession((state) => state.user?.username ?? '');

  const self: CallParticipant = { participant_id: selfId ?? LOCAL, user_id: 0, username, media, joined_at: 0 };
  const everyone = [self, ...(call?.participants ?? []).filter((p) => p.participant_id !== selfId)];
  const isSelf = (participant: CallParticipant) => participant === self;
  const nameOf = (participant: CallParticipant) =>
    isSelf(participant) ? t('call.you', { name: participant.username }) : participant.username;
  const tracksOf = (participant: CallParticipant) => (isSelf(participant) ? local : remote[participant.participant_id]);

  const screens = everyone.flatMap((participant) => {
    const screen = participant.media.screen ? tracksOf(participant)?.screen : undefined;
    if (!screen) return [];
    return [
      <ParticipantTile
        key={`screen-${participant.participant_id}`}
        participantId={participant.participant_id}
        name={t('call.screenOf', { name: nameOf(participant) })}
        video={screen}
        screen
      />,
    ];
  });
  const people = everyone.map((participant) => {
    const id = participant.participant_id;
    return (
      <ParticipantTile
        key={id}
        participantId={id}
        name={nameOf(participant)}
        video={participant.media.video ? tracksOf(participant)?.video : undefined}
        microphoneOn={participant.media.audio}
        speaking={speaking[isSelf(participant) ? LOCAL : id]}
        quality={isSelf(participant) ? undefined : (quality[id] ?? 'connecting')}
        mirrored={isSelf(participant)}
        activeSpeaker={activeSpeaker === id}
        sizesLayer={!isSelf(participant)}
      />
    );
  });

  if (screens.length === 0) return <TileGrid tiles={people} />;
  return (
    <div className="call-stage">
      <div className="call-screens">{screens}</div>
      <div className="call-strip">{people}</div>
    </div>
  );
}

/** Tiles as large as the space allows, centred. */
function TileGrid({ tiles }: { tiles: ReactElement[] }) {
  const ref = useRef<HTMLDivElement>(null);
  const { width, height } = useElementSize(ref);
  const { columns, tileWidth } = gridLayout(tiles.length, width, height, GAP_PX);
  const column = tileWidth > 0 ? `${Math.max(tileWidth, Math.min(MIN_TILE_PX, width))}px` : '1fr';
  return (
    <div ref={ref} className="call-grid" style={{ gridTemplateColumns: `repeat(${columns}, ${column})`, gap: GAP_PX }}>
      {tiles}
    </div>
  );
}
