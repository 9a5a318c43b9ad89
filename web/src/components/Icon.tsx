// Small line icons, drawn inline so they look the same on every system (emoji
// fonts are often missing). Always decorative: the button around an icon
// carries the accessible name.

const paths = {
  close: 'M6 6l12 12M18 6L6 18',
  edit: 'M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4',
  hash: 'M5 9h14M5 15h14M10 4L8 20M16 4l-2 16',
  lock: 'M6 11h12v9H6zM8 11V8a4 4 0 0 1 8 0v3',
  menu: 'M4 6h16M4 12h16M4 18h16',
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
