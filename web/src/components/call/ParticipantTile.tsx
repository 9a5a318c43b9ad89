import { useEffect, useId, useRef } from 'react';
import { tileResized } from '../../call/controller';
import type { Quality } from '../../call/quality';
import { useT } from '../../i18n';
import { Icon } from '../Icon';
import { VideoView } from './MediaView';
import { QualityIndicator } from './QualityIndicator';

interface ParticipantTileProps {
  name: string;
  participantId: string;
  /** The camera or screen to show; an initial stands in when absent. */
  video?: MediaStreamTrack;
  screen?: boolean;
  microphoneOn?: boolean;
  speaking?: boolean;
  /** For remote participants only. */
  quality?: Quality | 'connecting';
  mirrored?: boolean;
  /** The SFU names this participant the loudest speaker. */
  activeSpeaker?: boolean;
  /** A remote camera tile: its height chooses the simulcast layer asked for. */
  sizesLayer?: boolean;
}

/** One person (or one shared screen) in the call grid, named by the name in
 * its caption (the state icons beside it have their own names). */
export function ParticipantTile({
  name,
  participantId,
  video,
  screen = false,
  microphoneOn = true,
  speaking = false,
  quality,
  mirrored = false,
  activeSpeaker = false,
  sizesLayer = false,
}: ParticipantTileProps) {
  const { t } = useT();
  const captionId = useId();
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    const element = ref.current;
    if (!element || !sizesLayer) return;
    const observer = new ResizeObserver(([entry]) => tileResized(participantId, entry.contentRect.height));
    observer.observe(element);
    return () => observer.disconnect();
  }, [participantId, sizesLayer]);
  const classes = ['tile', screen && 'tile-screen', speaking && 'tile-speaking', activeSpeaker && 'tile-active-speaker']
    .filter(Boolean)
    .join(' ');
  return (
    <figure ref={ref} className={classes} aria-labelledby={captionId} data-participant={participantId}>
      {video ? (
        <VideoView track={video} mirrored={mirrored} />
      ) : (
        <div className="tile-avatar">
          <span aria-hidden="true">{name.charAt(0).toUpperCase()}</span>
          <span role="img" aria-label={t('call.cameraIsOff')} className="tile-state">
            <Icon name="cameraOff" />
          </span>
        </div>
      )}
      <figcaption className="tile-bar">
        {!screen && !microphoneOn && (
          <span role="img" aria-label={t('call.micMuted')} className="tile-muted">
            <Icon name="micOff" />
          </span>
        )}
        {!screen && microphoneOn && speaking && (
          <span role="img" aria-label={t('call.speaking')} className="tile-speaking-icon">
            <Icon name="mic" />
          </span>
        )}
        <span id={captionId} className="tile-name">
          {name}
        </span>
        {activeSpeaker && <span className="visually-hidden">{t('call.activeSpeaker')}</span>}
        {quality && <QualityIndicator quality={quality} />}
      </figcaption>
    </figure>
  );
}
