import { useId } from 'react';
import { chooseDevice } from '../../call/controls';
import { useT } from '../../i18n';
import { useCall, type DeviceOption } from '../../store/call';

type DeviceKind = 'camera' | 'microphone' | 'speaker';

interface DeviceSelectProps {
  kind: DeviceKind;
  options: DeviceOption[];
  value?: string;
  onChange(kind: DeviceKind, deviceId: string): void;
}

/** A labelled list of one kind of device. */
export function DeviceSelect({ kind, options, value, onChange }: DeviceSelectProps) {
  const { t } = useT();
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t(`devices.${kind}`)}</label>
      <select
        id={id}
        value={value ?? ''}
        disabled={options.length === 0}
        onChange={(event) => onChange(kind, event.target.value)}
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

const choose = (kind: DeviceKind, deviceId: string) => void chooseDevice(kind, deviceId);

/** Camera, microphone and (where the browser can route audio) speaker. */
export function DevicePickers() {
  const devices = useCall((state) => state.devices);
  return (
    <div className="device-pickers">
      <DeviceSelect kind="camera" options={devices.cameras} value={devices.camera} onChange={choose} />
      <DeviceSelect kind="microphone" options={devices.microphones} value={devices.microphone} onChange={choose} />
      {devices.speakers.length > 0 && <DeviceSelect kind="speaker" options={devices.speakers} value={devices.speaker} onChange={choose} />}
    </div>
  );
}
