// One typed function per REST endpoint of docs/protocol.md.

import type {
  AuthResponse,
  CreateInviteRequest,
  CreateRoomRequest,
  Device,
  Invite,
  InvitePreview,
  LoginRequest,
  Member,
  Message,
  MessagePage,
  NotificationSettings,
  NotificationSettingsUpdate,
  NotificationTestResult,
  RegisterRequest,
  Role,
  Room,
  ServerInfo,
  SessionInfo,
  UpdateRoomRequest,
  User,
} from '../proto';
import { request } from './http';

const enc = encodeURIComponent;

export type PageCursor = { before: number } | { after: number } | Record<string, never>;

export const api = {
  serverInfo: () => request<ServerInfo>('GET', '/server', undefined, { auth: false }),
  register: (body: RegisterRequest) =>
    request<AuthResponse>('POST', '/auth/register', body, { auth: false }),
  login: (body: LoginRequest) => request<AuthResponse>('POST', '/auth/login', body, { auth: false }),
  logout: () => request<void>('POST', '/auth/logout'),
  me: () => request<User>('GET', '/me'),
  sessions: () => request<SessionInfo[]>('GET', '/auth/sessions'),
  revokeSession: (sessionId: number) => request<void>('DELETE', `/auth/sessions/${sessionId}`),

  notificationSettings: () => request<NotificationSettings>('GET', '/me/notifications'),
  updateNotificationSettings: (body: NotificationSettingsUpdate) =>
    request<NotificationSettings>('PUT', '/me/notifications', body),
  testNotification: () => request<NotificationTestResult>('POST', '/me/notifications/test'),

  myDevices: () => request<Device[]>('GET', '/devices'),
  revokeDevice: (deviceId: number) => request<void>('DELETE', `/devices/${deviceId}`),

  myRooms: () => request<Room[]>('GET', '/rooms'),
  publicRooms: () => request<Room[]>('GET', '/rooms?scope=public'),
  createRoom: (body: CreateRoomRequest) => request<Room>('POST', '/rooms', body),
  updateRoom: (roomId: number, body: UpdateRoomRequest) =>
    request<Room>('PATCH', `/rooms/${roomId}`, body),
  deleteRoom: (roomId: number) => request<void>('DELETE', `/rooms/${roomId}`),
  joinRoom: (roomId: number) => request<Room>('POST', `/rooms/${roomId}/join`),
  leaveRoom: (roomId: number) => request<void>('POST', `/rooms/${roomId}/leave`),

  members: (roomId: number) => request<Member[]>('GET', `/rooms/${roomId}/members`),
  setMemberRole: (roomId: number, userId: number, role: Role) =>
    request<Member>('PATCH', `/rooms/${roomId}/members/${userId}`, { role }),
  removeMember: (roomId: number, userId: number) =>
    request<void>('DELETE', `/rooms/${roomId}/members/${userId}`),

  invites: (roomId: number) => request<Invite[]>('GET', `/rooms/${roomId}/invites`),
  createInvite: (roomId: number, body: CreateInviteRequest) =>
    request<Invite>('POST', `/rooms/${roomId}/invites`, body),
  revokeInvite: (roomId: number, code: string) =>
    request<void>('DELETE', `/rooms/${roomId}/invites/${enc(code)}`),
  invitePreview: (code: string) =>
    request<InvitePreview>('GET', `/invites/${enc(code)}`, undefined, { auth: false }),
  acceptInvite: (code: string) => request<Room>('POST', `/invites/${enc(code)}/accept`),

  messages: (roomId: number, cursor: PageCursor, limit = 50) => {
    const query = new URLSearchParams({ limit: String(limit) });
    if ('before' in cursor) query.set('before', String(cursor.before));
    if ('after' in cursor) query.set('after', String(cursor.after));
    return request<MessagePage>('GET', `/rooms/${roomId}/messages?${query}`);
  },
  editMessage: (roomId: number, messageId: number, body: string) =>
    request<Message>('PATCH', `/rooms/${roomId}/messages/${messageId}`, { body }),
  deleteMessage: (roomId: number, messageId: number) =>
    request<void>('DELETE', `/rooms/${roomId}/messages/${messageId}`),
  markRead: (roomId: number, messageId: number) =>
    request<void>('POST', `/rooms/${roomId}/read`, { message_id: messageId }),
};
