// Small line icons, drawn inline so they look the same on every system (emoji
// fonts are often missing). Always decorative: the button around an icon
// carries the accessible name.

const MIC = 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM5 11a7 7 0 0 0 14 0M12 18v3';
const CAMERA = 'M3 7h12v10H3zM15 10l6-3v10l-6-3';

const paths = {
  camera: CAMERA,
  cameraOff: `${CAMERA}M2 3l19 19`,
  close: 'M6 6l12 12M18 6L6 18',
  devices: 'M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1M15 4v4M9 10v4M17 16v4',
  edit: 'M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4',
  hash: 'M5 9h14M5 15h14M10 4L8 20M16 4l-2 16',
  lock: 'M6 11h12v9H6zM8 11V8a4 4 0 0 1 8 0v3',
  menu: 'M4 6h16M4 12h16M4 18h16',
  mic: MIC,
  micOff: `${MIC}M3 3l18 18`,
  phone: 'M3 15.5c5-5 13-5 18 0l-1.5 3-4-1v-3c-2-.8-4-.8-6 0v3l-4 1z',
  screen: 'M3 4h18v12H3zM8 20h8M12 16v4',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6',
} as const;

export type IconName = keyof typeof paths;

export function Icon({ name }: { name: IconName }) {
  return (
    <svg
      className="icon"
      viewBox="0 0 24 24"
      aria-hidden="true"
      focusable="false"
      fill="none"
      stroke="currentColor"
      strokeWidth="2"
      strokeLinecap="round"
      strokeLinejoin="round"
    >
      <path d={paths[name]} />
    </svg>
  );
}

export function RoomIcon({ visibility }: { visibility: 'public' | 'private' }) {
  return <Icon name={visibility === 'private' ? 'lock' : 'hash'} />;
}
