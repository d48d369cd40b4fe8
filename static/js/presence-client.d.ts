// Types of static/js/presence-client.js (the embeddable agent client; docs/client.md).

export interface Presence {
  agent_id?: string; status_id: string; text: string; base: string; source: string;
  reason?: string; actor?: string | null; note?: string | null; since: number;
  version: number; epoch?: number; next_status_id?: string | null;
}
export interface PickerEntry { id: string; text: string; base: string; selectable: boolean; oob: boolean }
export interface WorkItemSummary {
  id: string; work_item_id: string; workstream: string; workstream_name: string;
  channel: string; payload: Record<string, unknown>; headline_fields: string[];
  accepted_at: number | null;
}
export interface Offer {
  offerId: string; workItem: WorkItemSummary; expiresAt: number | null; receivedAt: number;
  pending: 'accept' | 'reject' | null; error: string | null;
}
export interface Session {
  workItemId: string; workstream: string; channel: string; payload: Record<string, unknown>;
  acceptedAt: number | null; closing: boolean; summary: WorkItemSummary;
}
export interface AgentState {
  agentId: string | null; name: string; connectionId: string | null; presence: Presence | null;
  statuses: PickerEntry[]; heartbeat: { interval: number; timeout: number } | null;
  gracePeriod: number | null; offers: Offer[]; sessions: Session[];
  pending: Record<string, object>; notice: { level: 'error' | 'info' | 'warn'; text: string } | null;
}
export interface Stop { title: string; message: string; signIn: boolean; code: number }
export interface Link {
  phase: 'idle' | 'connecting' | 'online' | 'reconnecting' | 'stopped';
  attempt: number; retryAt: number | null; stop: Stop | null; everOnline: boolean;
}
export interface ClientOptions {
  /** The server: http(s) or ws(s) URL; the socket is `/ws/agent` on it. */
  url: string;
  /** The agent's bearer token. */
  token: string;
  WebSocket?: typeof WebSocket;
  every?: (ms: number, fn: () => void) => () => void;
  random?: () => number;
  /** For the readiness probe (GET /readyz) while a reconnect waits; null: none. */
  fetch?: ((url: string, init?: object) => Promise<{ ok: boolean }>) | null;
}
export interface ChangeDetail { state: AgentState; message: object | null }
export interface ServerError extends Error { code: string }

export function intervalTimer(ms: number, fn: () => void): () => void;
export function agentSocketUrl(base: string): string;

export class PresenceClient extends EventTarget {
  constructor(options: ClientOptions);
  readonly state: AgentState;
  readonly link: Link;
  /** Server-clock ms when the socket was lost; null while connected. */
  readonly lostAt: number | null;
  token: string;
  now(): number;
  connect(): void;
  restart(): void;
  retryNow(): void;
  stop(stop?: Stop | null): void;
  nextRef(prefix?: string): string;
  send(msg: object): boolean;
  setPresence(statusId: string): Promise<Presence>;
  /** The status to take when the last open session closes (at once with none open). */
  setNextPresence(statusId: string): Promise<Presence>;
  clearNextPresence(): boolean;
  /** Report user activity; sent at most once per `activity_interval`. */
  activity(now?: number): boolean;
  accept(offerId: string): Promise<WorkItemSummary>;
  reject(offerId: string, reason?: string): Promise<object>;
  closeWork(workItemId: string): Promise<object>;
  signOut(): boolean;
  renew(token: string): void;
  update(fn: (state: AgentState) => AgentState): void;
  addEventListener(type: 'change', listener: (e: CustomEvent<ChangeDetail>) => void): void;
  addEventListener(type: 'link', listener: (e: CustomEvent<Link>) => void): void;
  addEventListener(type: 'offer', listener: (e: CustomEvent<Offer>) => void): void;
  addEventListener(type: 'reauthed', listener: (e: CustomEvent<object>) => void): void;
}
