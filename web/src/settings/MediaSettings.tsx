import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { chooseDevice } from '../call/controls';
import { canChooseSpeaker, currentDevice, listDevices, watchDevices } from '../call/devices';
import { mediaProblem } from '../call/errors';
import { openCamera, openMicrophone } from '../call/localMedia';
import { DeviceSelect } from '../components/call/DevicePickers';
import { VideoView } from '../components/call/MediaView';
import { useT } from '../i18n';
import type { DeviceOption } from '../store/call';
import { notify } from '../store/toasts';
import {
  loadMediaPreferences,
  saveMediaPreferences,
  type MediaPreferences,
  type PreferredDevice,
} from './mediaPreferences';
import { MicrophoneMeter } from './MicrophoneMeter';

type Lists = Record<PreferredDevice, DeviceOption[]>;

const NO_DEVICES: Lists = { camera: [], microphone: [], speaker: [] };
const TEST_TONE_HZ = 440;
const TEST_TONE_MS = 700;

/** Camera, microphone and speaker used by calls, with a live preview, a
 * level meter carrying the speaking threshold, and a test sound. */
export function MediaSettings() {
  const { t } = useT();
  const headingId = useId();
  const [preferences, setPreferences] = useState<MediaPreferences>(loadMediaPreferences);
  const [lists, setLists] = useState<Lists>(NO_DEVICES);
  const [previewing, setPreviewing] = useState(false);
  const [camera, setCamera] = useState<MediaStreamTrack | null>(null);
  const [microphone, setMicrophone] = useState<MediaStreamTrack | null>(null);
  // Read after a device opens: the preview may have been stopped meanwhile.
  const previewingRef = useRef(false);

  const refreshLists = useCallback(async () => {
    try {
      const found = await listDevices((number) => t('devices.unnamed', { number }));
      setLists({ camera: found.cameras, microphone: found.microphones, speaker: found.speakers });
    } catch (error) {
      notify.failure(error);
    }
  }, [t]);

  useEffect(() => {
    void refreshLists();
    return watchDevices(() => void refreshLists());
  }, [refreshLists]);

  useEffect(
    () => () => {
      previewingRef.current = false;
    },
    [],
  );
  // The preview's tracks are closed with it (the camera light goes out).
  useEffect(() => () => camera?.stop(), [camera]);
  useEffect(() => () => microphone?.stop(), [microphone]);

  const open = async (kind: 'camera' | 'microphone', deviceId: string | undefined) => {
    try {
      const track = await (kind === 'camera' ? openCamera(deviceId) : openMicrophone(deviceId));
      if (!previewingRef.current) track.stop();
      else (kind === 'camera' ? setCamera : setMicrophone)(track);
      return true;
    } catch (error) {
      notify.error(t(`call.error.${mediaProblem(error)}`));
      return false;
    }
  };

  const startPreview = async () => {
    previewingRef.current = true;
    setPreviewing(true);
    // Nothing chosen yet: the saved devices, or the defaults if they are gone.
    await Promise.all([open('camera', undefined), open('microphone', undefined)]);
    // Labels are given only once the page may use a device.
    await refreshLists();
  };

  const stopPreview = () => {
    previewingRef.current = false;
    setPreviewing(false);
    setCamera(null);
    setMicrophone(null);
  };

  const choose = (kind: PreferredDevice, deviceId: string) => {
    setPreferences(saveMediaPreferences({ [kind]: deviceId }));
    // A call going on (or the next one in this tab) switches as well.
    void chooseDevice(kind, deviceId);
    if (previewing && kind !== 'speaker') void open(kind, deviceId);
  };

  const setThreshold = (speakingThreshold: number) => {
    setPreferences(saveMediaPreferences({ speakingThreshold }));
  };

  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('prefs.media.title')}</h2>
      <p className="hint">{t('prefs.media.intro')}</p>
      <div className="prefs-media">
        <div className="prejoin-preview prefs-preview">
          {camera ? (
            <VideoView track={camera} mirrored label={t('call.previewVideo')} />
          ) : (
            <p className="muted">{previewing ? t('app.loading') : t('prefs.media.previewOff')}</p>
          )}
        </div>
        <div className="prefs-media-options">
          {previewing ? (
            <button type="button" onClick={stopPreview}>
              {t('prefs.media.stopPreview')}
            </button>
          ) : (
            <button type="button" className="primary" onClick={() => void startPreview()}>
              {t('prefs.media.startPreview')}
            </button>
          )}
          <DeviceSelect
            kind="camera"
            options={lists.camera}
            value={currentDevice(lists.camera, preferences.camera, camera?.getSettings().deviceId)}
            onChange={choose}
          />
          <DeviceSelect
            kind="microphone"
            options={lists.microphone}
            value={currentDevice(lists.microphone, preferences.microphone, microphone?.getSettings().deviceId)}
            onChange={choose}
          />
          {canChooseSpeaker() ? (
            <>
              <DeviceSelect
                kind="speaker"
                options={lists.speaker}
                value={currentDevice(lists.speaker, preferences.speaker)}
                onChange={choose}
              />
              <TestSoundButton sinkId={currentDevice(lists.speaker, preferences.speaker)} />
            </>
          ) : (
            <p className="hint">{t('prefs.media.noSpeakerChoice')}</p>
          )}
        </div>
      </div>
      <MicrophoneMeter track={microphone} threshold={preferences.speakingThreshold} onThreshold={setThreshold} />
    </section>
  );
}

function TestSoundButton({ sinkId }: { sinkId?: string }) {
  const { t } = useT();
  const [playing, setPlaying] = useState(false);
  const stopRef = useRef<(() => void) | null>(null);
  useEffect(() => () => stopRef.current?.(), []);

  const play = async () => {
    setPlaying(true);
    const context = new AudioContext();
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    const destination = context.createMediaStreamDestination();
    oscillator.frequency.value = TEST_TONE_HZ;
    gain.gain.value = 0.2;
    oscillator.connect(gain).connect(destination);
    const audio = new Audio();
    audio.srcObject = destination.stream;
    const stop = () => {
      if (stopRef.current !== stop) return;
      stopRef.current = null;
      audio.srcObject = null;
      void context.close();
      setPlaying(false);
    };
    stopRef.current = stop;
    try {
      if (sinkId) await audio.setSinkId(sinkId);
      oscillator.start();
      await audio.play();
      setTimeout(stop, TEST_TONE_MS);
    } catch (error) {
      stop();
      notify.failure(error);
    }
  };

  return (
    <button type="button" disabled={playing} onClick={() => void play()}>
      {t('prefs.media.testSound')}
    </button>
  );
}
