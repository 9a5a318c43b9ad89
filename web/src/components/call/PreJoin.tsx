import { joinCall, leaveCall } from '../../call/controller';
import { setCameraOn, setMicrophoneOn } from '../../call/controls';
import { useT } from '../../i18n';
import { useCall } from '../../store/call';
import { DevicePickers } from './DevicePickers';
import { VideoView } from './MediaView';

/** The camera preview and device choice before joining. */
export function PreJoin() {
  const { t } = useT();
  const video = useCall((state) => state.local.video);
  const media = useCall((state) => state.media);
  const joining = useCall((state) => state.session?.phase === 'joining');
  return (
    <div className="prejoin">
      <div className="prejoin-preview">
        {video ? (
          <VideoView track={video} mirrored label={t('call.previewVideo')} />
        ) : (
          <p className="muted">{t('call.cameraIsOff')}</p>
        )}
      </div>
      <div className="prejoin-options">
        <h2>{t('call.preview')}</h2>
        <label className="check">
          <input type="checkbox" checked={media.audio} onChange={(event) => void setMicrophoneOn(event.target.checked)} />
          {t('call.startWithMicrophone')}
        </label>
        <label className="check">
          <input type="checkbox" checked={media.video} onChange={(event) => void setCameraOn(event.target.checked)} />
          {t('call.startWithCamera')}
        </label>
        <DevicePickers />
        <div className="prejoin-actions">
          <button type="button" onClick={leaveCall}>
            {t('common.cancel')}
          </button>
          <button type="button" className="primary" disabled={joining} onClick={() => void joinCall()}>
            {joining ? t('call.joining') : t('call.joinNow')}
          </button>
        </div>
      </div>
    </div>
  );
}
