import { useState, type ButtonHTMLAttributes } from 'react';
import { leaveCall } from '../../call/controller';
import { setCameraOn, setMicrophoneOn, startScreenShare, stopScreenShare } from '../../call/controls';
import { useT } from '../../i18n';
import { useCall } from '../../store/call';
import { Icon, type IconName } from '../Icon';
import { DevicePickers } from './DevicePickers';

const canShareScreen = () => typeof navigator.mediaDevices?.getDisplayMedia === 'function';

interface ControlProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  icon: IconName;
  label: string;
}

/** An icon and its text; on narrow screens only the icon shows, and the text
 * remains the accessible name (and the tooltip). */
function Control({ icon, label, ...button }: ControlProps) {
  return (
    <button type="button" title={label} {...button}>
      <Icon name={icon} />
      <span className="control-label">{label}</span>
    </button>
  );
}

export function CallControls() {
  const { t } = useT();
  const media = useCall((state) => state.media);
  const [devicesShown, setDevicesShown] = useState(false);
  const [busy, setBusy] = useState(false);

  /** One change at a time: opening a device can take a moment. */
  const run = (action: () => Promise<void>) => async () => {
    setBusy(true);
    try {
      await action();
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="call-controls-area">
      <div className="call-controls" role="group" aria-label={t('call.controls')}>
        <Control
          icon={media.audio ? 'mic' : 'micOff'}
          label={media.audio ? t('call.mute') : t('call.unmute')}
          disabled={busy}
          onClick={run(() => setMicrophoneOn(!media.audio))}
        />
        <Control
          icon={media.video ? 'camera' : 'cameraOff'}
          label={media.video ? t('call.cameraOff') : t('call.cameraOn')}
          disabled={busy}
          onClick={run(() => setCameraOn(!media.video))}
        />
        {canShareScreen() && (
          <Control
            icon="screen"
            label={media.screen ? t('call.stopSharing') : t('call.shareScreen')}
            disabled={busy}
            onClick={run(media.screen ? stopScreenShare : startScreenShare)}
          />
        )}
        <Control
          icon="devices"
          label={devicesShown ? t('call.hideDevices') : t('call.showDevices')}
          aria-expanded={devicesShown}
          aria-controls="call-devices"
          onClick={() => setDevicesShown(!devicesShown)}
        />
        <Control icon="phone" label={t('call.leave')} className="danger" onClick={leaveCall} />
      </div>
      {devicesShown && (
        <div id="call-devices">
          <DevicePickers />
        </div>
      )}
    </div>
  );
}
