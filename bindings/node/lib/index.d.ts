// Types of libquic's Node binding (lib/index.js, lib/session.js).
/// <reference types="node" />
import { EventEmitter } from 'node:events';

/** Result codes (quic_result); quic.h documents each. */
export declare const Result: {
  readonly OK: 0; readonly DONE: 1; readonly NULL_PARAMETER: -1; readonly INVALID_ARGUMENT: -2;
  readonly BUFFER_TOO_SMALL: -3; readonly INVALID_STATE: -4; readonly ALREADY_USED: -5;
  readonly FILE_UNREADABLE: -6; readonly INVALID_ADDRESS: -7; readonly CLOSING: -8;
  readonly WOULD_BLOCK: -9; readonly HANDSHAKE_PENDING: -10; readonly STREAM_LIMIT: -300;
  readonly INVALID_STREAM: -301; readonly STREAM_FINISHED: -302; readonly STREAM_RESET: -303;
  readonly DATAGRAM_UNSUPPORTED: -304; readonly DATAGRAM_TOO_LARGE: -305;
  readonly TLS_CERTIFICATE: -201; readonly TLS_PRIVATE_KEY: -202; readonly TLS_CA: -203;
};

/** Why a connection ended (quic_termination). */
export declare const Termination: {
  readonly LOCAL_ERROR: 1; readonly LOCAL_CLOSE: 2; readonly PEER_TRANSPORT: 3;
  readonly PEER_APPLICATION: 4; readonly IDLE_TIMEOUT: 5; readonly HANDSHAKE_TIMEOUT: 6;
  readonly STATELESS_RESET: 7; readonly VERSION_NEGOTIATION: 8; readonly ABANDONED: 9;
};

/** A failed libquic call. */
export declare class QuicError extends Error {
  readonly op: string;
  /** The negative quic_result. */
  readonly code: number;
  readonly detail?: string;
}

/** A 64-bit value: a number, or a bigint above 2^53. */
export type U64 = number | bigint;

export interface Address { address: string; port: number; }

export interface ConfigOptions {
  /** Application protocols, most preferred first. */
  alpn?: string[];
  /** Client: the name asked for (SNI) and verified. */
  serverName?: string;
  /** PEM file of CAs the peer's certificate is verified against. */
  caFile?: string;
  /** false only in tests: anyone can then impersonate the server. */
  verifyPeer?: boolean;
  /** Server: PEM certificate chain and private key. */
  certFile?: string;
  keyFile?: string;
  /** Milliseconds. */
  idleTimeout?: number;
  handshakeTimeout?: number;
  keepAlive?: number;
  maxData?: number;
  maxStreamData?: number;
  maxStreams?: { bidi: number; uni: number };
  /** Largest DATAGRAM frame accepted (RFC 9221); 0 turns them off. */
  datagrams?: number;
  /** Writes a qlog trace of each connection into this directory. */
  qlogDir?: string;
  /** NSS key log of the TLS secrets (debugging only). */
  secretsLogFile?: string;
}

export declare class Config {
  constructor(isClient: boolean, options?: ConfigOptions);
  static client(options?: ConfigOptions): Config;
  static server(options?: ConfigOptions): Config;
  readonly isClient: boolean;
  close(): void;
}

export type QuicEvent =
  | { type: 'handshakeCompleted'; alpn: string; sessionResumed: boolean; earlyDataAccepted: boolean }
  | { type: 'protocolNegotiated'; alpn: string }
  | { type: 'streamDataReceived'; streamId: number; data: Buffer; endStream: boolean }
  | { type: 'streamReset'; streamId: number; errorCode: U64 }
  | { type: 'stopSendingReceived'; streamId: number; errorCode: U64 }
  | { type: 'datagramFrameReceived'; data: Buffer }
  | { type: 'pingAcknowledged'; uid: U64 }
  | { type: 'connectionIdIssued'; connectionId: Buffer }
  | { type: 'connectionIdRetired'; connectionId: Buffer }
  | { type: 'connectionTerminated'; termination: number; errorCode: U64; frameType: U64 | null; reason: string }
  | { type: 'keyUpdated' }
  | { type: 'peerMigrated'; remote: Address | null }
  | { type: 'pathValidated'; local: Address | null; remote: Address | null }
  | { type: 'streamsAvailable'; unidirectional: boolean; maxStreams: U64 }
  | { type: 'sessionTicket'; ticket: Buffer }
  | { type: 'newToken'; token: Buffer }
  | { type: 'earlyDataRejected' }
  | { type: 'streamWritable'; streamId: number }
  | { type: 'pathFailed'; local: Address | null; remote: Address | null; reason: string }
  | { type: 'migrated'; local: Address | null; remote: Address | null }
  | { type: 'pathMtuChanged'; mtu: number; blackHole: boolean }
  | { type: 'unknown'; kind: number };

export type EventOf<T extends QuicEvent['type']> = Extract<QuicEvent, { type: T }>;

export interface Stats {
  version: number; rttNs: U64; cwnd: U64; bytesInFlight: U64; bytesSent: U64; bytesReceived: U64;
  packetsLost: U64; probeTimeouts: U64; pmtu: U64; congestionEvents: U64;
}

/** Monotonic nanoseconds: the clock the binding gives libquic. */
export declare function clock(): bigint;

/** One connection driven by the caller (sans-I/O). */
export declare class Connection {
  static client(config: Config, remote: Address, now?: bigint): Connection;
  static server(config: Config, firstDatagram: Buffer): Connection;
  recv(data: Buffer, from: Address, now?: bigint): void;
  /** The next datagram written into buf, or null when there is none now. */
  send(buf: Buffer, now?: bigint): (Address & { length: number }) | null;
  /** When handleTimer is next due (clock() nanoseconds), or null. */
  timeout(): bigint | null;
  handleTimer(now?: bigint): void;
  pollEvent(): QuicEvent | null;
  events(): QuicEvent[];
  openStream(unidirectional?: boolean): number;
  streamSend(streamId: number, data: Buffer | string, fin?: boolean): void;
  streamReset(streamId: number, errorCode: U64): void;
  streamStop(streamId: number, errorCode: U64): void;
  sendDatagram(data: Buffer | string): void;
  sendPing(uid: U64): void;
  requestKeyUpdate(): void;
  close(errorCode?: U64, reason?: string, now?: bigint): void;
  isEstablished(): boolean;
  isClosed(): boolean;
  stats(): Stats;
  free(): void;
}

type SessionEvents = { [K in QuicEvent['type']]: [EventOf<K>] } & {
  event: [QuicEvent];
  close: [Error | null];
};

/** A connection driven over UDP; emits its events by type, 'event', and 'close'. */
export declare class Session extends EventEmitter {
  readonly remoteAddress: Address | null;
  readonly closed: boolean;
  readonly established: boolean;
  /** How it ended: null for a close without error. */
  readonly error: Error | null;
  on<K extends keyof SessionEvents>(event: K, listener: (...args: SessionEvents[K]) => void): this;
  once<K extends keyof SessionEvents>(event: K, listener: (...args: SessionEvents[K]) => void): this;
  off<K extends keyof SessionEvents>(event: K, listener: (...args: SessionEvents[K]) => void): this;
  openStream(unidirectional?: boolean): number;
  streamSend(streamId: number, data: Buffer | string, fin?: boolean): void;
  streamReset(streamId: number, errorCode: U64): void;
  streamStop(streamId: number, errorCode: U64): void;
  sendDatagram(data: Buffer | string): void;
  sendPing(uid: U64): void;
  requestKeyUpdate(): void;
  stats(): Stats;
  /** Closes with an application error code; resolves once the closing period is over. */
  close(errorCode?: U64, reason?: string): Promise<void>;
}

export declare class Server extends EventEmitter {
  address(): Address;
  on(event: 'session', listener: (session: Session) => void): this;
  on(event: 'close', listener: () => void): this;
  once(event: 'session', listener: (session: Session) => void): this;
  once(event: 'close', listener: () => void): this;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** A host name (looked up) or an address. */
  host: string;
  port: number;
  config: Config;
  signal?: AbortSignal;
  /** For a host name: only IPv4 (4) or IPv6 (6) addresses. */
  family?: 4 | 6;
}
export interface ListenOptions { host?: string; port?: number; config: Config; signal?: AbortSignal; }

export declare function connect(options: ConnectOptions): Promise<Session>;
export declare function listen(options: ListenOptions): Promise<Server>;
/** HTTP/0.9 over QUIC (ALPN hq-interop): the body of one URL. */
export declare function get(session: Session, url: string): Promise<Buffer>;
