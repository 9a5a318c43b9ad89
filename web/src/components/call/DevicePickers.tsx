import { useId } from 'react';
import { chooseDevice } from '../../call/controls';
import { useT } from '../../i18n';
import { useCall, type DeviceOption } from '../../store/call';

type DeviceKind = 'camera' | 'microphone' | 'speaker';

function DeviceSelect({ kind, options, value }: { kind: DeviceKind; options: DeviceOption[]; value?: string }) {
  const { t } = useT();
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t(`devices.${kind}`)}</label>
      <select
        id={id}
        value={value ?? ''}
        disabled={options.length === 0}
        onChange={(event) => void chooseDevice(kind, event.target.value)}
      >
        {options.length === 0 && <option value="">{t('devices.none')}</option>}
        {options.map((option) => (
          <option key={option.deviceId} value={option.deviceId}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Camera, microphone and (where the browser can route audio) speaker. */
export function DevicePickers() {
  const devices = useCall((state) => state.devices);
  return (
    <div className="device-pickers">
      <DeviceSelect kind="camera" options={devices.cameras} value={devices.camera} />
      <DeviceSelect kind="microphone" options={devices.microphones} value={devices.microphone} />
      {devices.speakers.length > 0 && <DeviceSelect kind="speaker" options={devices.speakers} value={devices.speaker} />}
    </div>
  );
}
