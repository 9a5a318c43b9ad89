// English, the reference dictionary: every key the UI uses is defined here, and
// the other languages must define the same keys (checked by the type system).
// `{name}` placeholders are filled in by `t`; `.one`/`.other` pairs are plurals.

export const en = {
  'app.loading': 'Loading…',
  'app.skipToContent': 'Skip to content',

  'language.label': 'Language',
  'language.en': 'English',
  'language.fr': 'Français',

  'login.title': 'Log in to Mesh',
  'login.identifier': 'Username or email',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.noAccount': 'No account yet?',
  'login.toRegister': 'Create an account',

  'register.title': 'Create your Mesh account',
  'register.username': 'Username',
  'register.usernameHint': '3–32 characters: letters, digits, _ - .',
  'register.email': 'Email',
  'register.password': 'Password',
  'register.passwordHint': 'At least 8 characters',
  'register.inviteCode': 'Invite code',
  'register.inviteRequired': 'This server only accepts new accounts with an invite code.',
  'register.firstAccount': 'You are the first person here: this account will administer the server.',
  'register.closed': 'Registration is closed on this server.',
  'register.submit': 'Create account',
  'register.haveAccount': 'Already have an account?',
  'register.toLogin': 'Log in',

  'nav.openMenu': 'Open menu',
  'nav.closeMenu': 'Close menu',
  'nav.rooms': 'Your rooms',
  'nav.noRooms': 'You are not in any room yet.',
  'nav.browse': 'Browse public rooms',
  'nav.createRoom': 'Create room',

  'user.signedInAs': 'Signed in as {name}',
  'user.status': 'My status',
  'user.logout': 'Log out',

  'presence.online': 'Online',
  'presence.busy': 'Busy',
  'presence.offline': 'Offline',

  'connection.label': 'Connection: {status}',
  'connection.connecting': 'Connecting…',
  'connection.connected': 'Connected',
  'connection.reconnecting': 'Reconnecting…',
  'connection.offline': 'Offline',

  'unread.one': '{count} unread message',
  'unread.other': '{count} unread messages',

  'visibility.label': 'Visibility',
  'visibility.public': 'Public',
  'visibility.private': 'Private',
  'visibility.publicHint': 'Public: anyone on this server can find and join it',
  'visibility.privateHint': 'Private: only people with an invite link can join',

  'role.owner': 'Owner',
  'role.member': 'Member',
  'role.guest': 'Guest',

  'common.cancel': 'Cancel',
  'common.close': 'Close',
  'common.save': 'Save',
  'common.delete': 'Delete',

  'createRoom.title': 'Create a room',
  'createRoom.name': 'Room name',
  'createRoom.submit': 'Create room',
  'createRoom.created': 'Room “{name}” created',

  'browse.title': 'Public rooms',
  'browse.empty': 'There are no public rooms yet.',
  'browse.join': 'Join {name}',
  'browse.open': 'Open {name}',
  'browse.joined': 'You joined “{name}”',
  'browse.members.one': '{count} member',
  'browse.members.other': '{count} members',

  'home.welcome': 'Welcome, {name}',
  'home.hint': 'Pick a room, create one, or browse the public rooms.',

  'room.actions': 'Room actions',
  'room.invite': 'Invite people',
  'room.settings': 'Room settings',
  'room.leave': 'Leave room',
  'room.leaveConfirm': 'Leave “{name}”? To come back to a private room you need a new invitation.',
  'room.left': 'You left “{name}”',
  'room.showMembers': 'Show members',
  'room.hideMembers': 'Hide members',
  'room.notFound': 'This room does not exist, or you are not a member.',
  'room.removed': 'You are no longer in “{name}”',

  'chat.messages': 'Messages',
  'chat.loadOlder': 'Load older messages',
  'chat.loading': 'Loading messages…',
  'chat.beginning': 'This is the beginning of “{name}”.',
  'chat.composerLabel': 'Message',
  'chat.composerPlaceholder': 'Message {name}',
  'chat.composerHint': 'Markdown works. Enter sends, Shift+Enter starts a new line.',
  'chat.send': 'Send',
  'chat.edit': 'Edit message',
  'chat.editLabel': 'Edited message',
  'chat.delete': 'Delete message',
  'chat.deleteConfirm': 'Delete this message? Everyone in the room will stop seeing it.',
  'chat.edited': '(edited)',
  'chat.pending': 'Sending…',
  'chat.failed': 'Not sent',
  'chat.retry': 'Retry',
  'chat.discard': 'Discard',

  'typing.one': '{name} is typing…',
  'typing.two': '{first} and {second} are typing…',
  'typing.many': 'Several people are typing…',

  'members.heading': 'Members ({count})',

  'invite.title': 'Invite people to “{name}”',
  'invite.expiry': 'Link expires after',
  'invite.expiry.hour': '1 hour',
  'invite.expiry.day': '1 day',
  'invite.expiry.week': '7 days',
  'invite.expiry.month': '30 days',
  'invite.maxUses': 'Maximum uses (empty for unlimited)',
  'invite.role': 'Joins as',
  'invite.create': 'Create invite link',
  'invite.created': 'Invite link created',
  'invite.link': 'Invite link',
  'invite.copy': 'Copy link',
  'invite.copied': 'Invite link copied',
  'invite.copyFailed': 'Could not copy the link: select it and copy it by hand.',
  'invite.active': 'Active invites',
  'invite.none': 'No active invites.',
  'invite.revoke': 'Revoke invite {code}',
  'invite.revoked': 'Invite revoked',
  'invite.uses': '{uses} used',
  'invite.usesOf': '{uses} of {max} used',
  'invite.expires': 'expires {date}',

  'invitePage.title': 'You are invited',
  'invitePage.body': 'Join “{name}” as {role}.',
  'invitePage.expires': 'This invitation expires {date}.',
  'invitePage.accept': 'Accept invitation',
  'invitePage.loginFirst': 'You will log in or create an account first.',
  'invitePage.invalid': 'This invitation is invalid, has expired or was revoked.',
  'invitePage.joined': 'You joined “{name}”',
  'invitePage.home': 'Go to my rooms',

  'settings.title': 'Settings of “{name}”',
  'settings.back': 'Back to the room',
  'settings.general': 'General',
  'settings.saved': 'Room updated',
  'settings.members': 'Members',
  'settings.roleOf': 'Role of {name}',
  'settings.roleChanged': '{name} is now {role}',
  'settings.remove': 'Remove {name}',
  'settings.removeConfirm': 'Remove {name} from this room?',
  'settings.removed': '{name} was removed from the room',
  'settings.danger': 'Danger zone',
  'settings.delete': 'Delete room',
  'settings.deleteConfirm': 'Delete “{name}” and all of its messages? This cannot be undone.',
  'settings.deleted': 'Room “{name}” deleted',
  'settings.ownersOnly': 'Only the owners of this room can manage it.',

  'toast.dismiss': 'Dismiss notification',
  'toast.region': 'Notifications',

  'session.expired': 'Your session has ended. Please log in again.',
} as const;

export type MessageKey = keyof typeof en;
export type Dictionary = Record<MessageKey, string>;

/** Error texts by server `code`. English falls back to the server's own
 * (English, specific) message, so only client-side failures are listed. */
export const enErrors: Partial<Record<string, string>> = {
  network: 'The server cannot be reached. Check your connection.',
  timeout: 'The server did not answer in time.',
  disconnected: 'Not connected to the server.',
};
