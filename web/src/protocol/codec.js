// Frames on the wire (protocol/PROTOCOL.md): one msgpack map per binary websocket message.
//   request  {v: 1, id, t, b}        reply    {v: 1, id, t, b}
//   push     {v: 1, t, s, q, b}      error    {v: 1, id?, t: "error", b: {code, message, ref}}
//   heartbeat: the server sends {v: 1, t: "ping"}; we answer {v: 1, t: "pong"}.
import { decode, encode } from '@msgpack/msgpack';

export const PROTOCOL_VERSION = 1;

const ENCODE_OPTIONS = { ignoreUndefined: true }; // an absent field, never a nil one

/** Encode a client frame; `id` is omitted for messages that get no reply (pong, typing). */
export function encodeFrame(type, body, id) {
  const frame = { v: PROTOCOL_VERSION, t: type };
  if (id !== undefined) frame.id = id;
  if (body && Object.keys(body).length > 0) frame.b = body;
  return encode(frame, ENCODE_OPTIONS);
}

/** Decode a server frame into {id, type, body, stream, seq}; throws on anything but a v1 map. */
export function decodeFrame(data) {
  const frame = decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
    throw new Error('frame is not a map');
  }
  if (frame.v !== PROTOCOL_VERSION) throw new Error(`unsupported protocol version ${frame.v}`);
  return {
    id: frame.id ?? null,
    type: frame.t,
    body: frame.b ?? {},
    stream: frame.s ?? null,
    seq: frame.q ?? null,
  };
}
