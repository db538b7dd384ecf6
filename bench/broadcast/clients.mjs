// Load driver of the side-by-side broadcast benchmark (bench/broadcast/run.py): N receivers and one
// sender, all in this one Node process, so that the client side is the same code for all three
// servers and every latency is measured on one clock (process.hrtime: CLOCK_MONOTONIC).
//
//   node clients.mjs <config.json>
//
// Two client kinds:
//   "socketio" - socket.io-client over the websocket transport (Node Socket.IO, python-socketio):
//                the sender emits "msg" with the payload; receivers get "msg".
//   "viora"    - ws + @msgpack/msgpack speaking Viora's protocol: each receiver signs in
//                (auth.resume) and subscribes to its home stream (stream.resume); the sender, the
//                account they all follow, sends post.create with the payload as the post's text;
//                receivers get the post.created push. That is the product's real broadcast path:
//                the server also writes the post to every follower's durable home stream.
// No client offers per-message compression, so every server writes plain frames.
//
// Every payload is `<index>|<send time, ms>|` padded with "x" to payloadBytes characters.
//
// Two workloads:
//   "broadcast" - closed loop: the sender keeps `window` messages in flight (sent, not yet received
//                 by every receiver) for durationS seconds (or, with rate > 0, sends at that rate),
//                 then waits for the last ones. Figures: deliveries/s, per-delivery latency.
//   "fanout"    - one message at a time, `count` times: send, wait until every receiver has it,
//                 pause. Figures: per-delivery latency and time to the last delivery.
//
// Protocol with run.py, one JSON object a line on stdout: {"event":"ready",...} once every client
// is connected; run.py then writes "go\n" on stdin (after reading the server's CPU counters); the
// workload runs and {"event":"done",...} carries the figures; the sockets close and the process
// exits.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { decode, encode } from "@msgpack/msgpack";
import { io } from "socket.io-client";
import WebSocket from "ws";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const now = () => Number(process.hrtime.bigint()) / 1e6;
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

// ------------------------------------------------------------------------------------ bookkeeping

/** Counts each message's deliveries; a message is complete once every receiver has it. */
class Tracker {
  constructor(receivers) {
    this.receivers = receivers;
    this.counts = [];
    this.sentAt = [];
    this.lastAt = [];
    this.latencies = [];
    this.completed = 0;
    this.failed = 0;
    this.duplicates = 0;
    this.lastProgress = now();
    this.onSettled = () => {};
  }

  sent(index, at) {
    this.counts[index] = 0;
    this.sentAt[index] = at;
  }

  received(text) {
    const at = now();
    const bar = text.indexOf("|");
    const index = Number(text.slice(0, bar));
    const sentAt = Number(text.slice(bar + 1, text.indexOf("|", bar + 1)));
    if (this.counts[index] === undefined || this.counts[index] >= this.receivers) {
      this.duplicates += 1;
      return;
    }
    this.latencies.push(at - sentAt);
    this.lastProgress = at;
    this.counts[index] += 1;
    if (this.counts[index] === this.receivers) {
      this.lastAt[index] = at;
      this.completed += 1;
      this.onSettled(index);
    }
  }

  /** The server refused a message (an error reply): it will never arrive; free its slot. */
  refused(index) {
    this.failed += 1;
    this.counts[index] = this.receivers;
    this.onSettled(index);
  }
}

const errors = {};
const countError = (key) => {
  errors[key] = (errors[key] ?? 0) + 1;
};

function payload(index, at) {
  const head = `${index}|${at.toFixed(3)}|`;
  return head + "x".repeat(Math.max(0, config.payloadBytes - head.length));
}

// ------------------------------------------------------------------------------------ viora

const PONG = encode({ v: 1, t: "pong" });

/** Open a Viora socket and sign it in with `token`; later frames go to `onFrame(frame, bytes)`. */
function vioraSocket(token, onFrame) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(config.url, { perMessageDeflate: false });
    let signedIn = false;
    ws.on("open", () => ws.send(encode({ v: 1, id: "auth", t: "auth.resume", b: { token } })));
    ws.on("message", (data) => {
      const frame = decode(data);
      if (frame.t === "ping" && frame.id === undefined) {
        ws.send(PONG);
      } else if (signedIn) {
        onFrame(frame, data.length);
      } else if (frame.t === "error") {
        reject(new Error(`auth.resume: ${frame.b.code}`));
        ws.close();
      } else {
        signedIn = true;
        sockets.push(ws);
        resolve(ws);
      }
    });
    ws.on("error", reject);
    ws.on("close", (code) => {
      if (signedIn && !closing) countError(`closed ${code}`);
    });
  });
}

/** A follower: signed in, then subscribed to `home`; resolves once the subscription is answered. */
function vioraReceiver(token, tracker, sample) {
  return new Promise((resolve, reject) => {
    const onFrame = (frame, bytes) => {
      if (frame.t === "post.created") {
        if (sample.frameBytes === null) sample.frameBytes = bytes;
        tracker.received(frame.b.post.text);
      } else if (frame.id === "sub") {
        if (frame.t === "error") reject(new Error(`stream.resume: ${frame.b.code}`));
        else resolve();
      }
    };
    vioraSocket(token, onFrame).then(
      (ws) => ws.send(encode({ v: 1, id: "sub", t: "stream.resume", b: { stream: "home" } })),
      reject,
    );
  });
}

async function vioraSender(token, tracker) {
  const ws = await vioraSocket(token, (frame) => {
    if (frame.t === "error" && typeof frame.id === "number") {
      countError(`post.create: ${frame.b.code}`);
      tracker.refused(frame.id);
    }
  });
  return (index, text) => ws.send(encode({ v: 1, id: index, t: "post.create", b: { text } }));
}

// ------------------------------------------------------------------------------------ socket.io

function socketioSocket() {
  return new Promise((resolve, reject) => {
    const socket = io(config.url, {
      transports: ["websocket"],
      forceNew: true, // one connection per client: io() would otherwise share one per URL
      reconnection: false,
      perMessageDeflate: false,
      timeout: 60_000,
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
    socket.on("disconnect", (reason) => {
      if (!closing) countError(`disconnect: ${reason}`);
    });
    sockets.push(socket);
  });
}

async function socketioReceiver(_token, tracker, sample) {
  const socket = await socketioSocket();
  if (sample.frameBytes === null && !sample.hooked) {
    sample.hooked = true; // one receiver measures the frame: "4" + the engine.io packet's data
    socket.io.engine.on("packet", (packet) => {
      if (packet.type === "message" && sample.frameBytes === null) sample.frameBytes = 1 + packet.data.length;
    });
  }
  socket.on("msg", (text) => tracker.received(text));
}

async function socketioSender(_token, _tracker) {
  const socket = await socketioSocket();
  return (_index, text) => socket.emit("msg", text);
}

// ------------------------------------------------------------------------------------ connecting

const sockets = [];
let closing = false;

/** Run `task(i)` for i in [0, n), at most `limit` at a time; returns the failures' messages. */
async function pooled(n, limit, task) {
  const failures = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        await task(i);
      } catch (error) {
        failures.push(String(error?.message ?? error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return failures;
}

async function connectAll(tracker, sample) {
  const receiver = config.kind === "viora" ? vioraReceiver : socketioReceiver;
  const sender = config.kind === "viora" ? vioraSender : socketioSender;
  const tokens = config.receiverTokens ?? [];
  const started = now();
  const failures = await pooled(config.clients, config.connectConcurrency, (i) =>
    receiver(tokens[i], tracker, sample),
  );
  const send = await sender(config.senderToken, tracker);
  return { send, failures, connectS: (now() - started) / 1000 };
}

// ------------------------------------------------------------------------------------ workloads

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `onStall` once `tracker` has made no progress for stallMs (checked every 250 ms); returns the stop function. */
function stallWatch(tracker, onStall) {
  const timer = setInterval(() => {
    if (now() - tracker.lastProgress > config.stallMs) onStall();
  }, 250);
  return () => clearInterval(timer);
}

function broadcast(send, tracker) {
  return new Promise((resolve) => {
    const started = now();
    const stopAt = started + config.durationS * 1000;
    let next = 0;
    let inFlight = 0;
    let done = false;
    const sendOne = () => {
      const index = next++;
      const at = now();
      inFlight += 1;
      tracker.sent(index, at);
      send(index, payload(index, at));
    };
    const finish = (stalled) => {
      if (done) return;
      done = true;
      stopWatch();
      clearInterval(pacer);
      resolve({ started, ended: now(), sent: next, stalled });
    };
    tracker.onSettled = () => {
      inFlight -= 1;
      if (config.rate <= 0 && now() < stopAt) {
        while (inFlight < config.window) sendOne();
      } else if (inFlight === 0 && now() >= stopAt) {
        finish(false);
      }
    };
    tracker.lastProgress = started;
    const stopWatch = stallWatch(tracker, () => finish(true));
    let pacer;
    if (config.rate > 0) {
      const interval = 1000 / config.rate;
      pacer = setInterval(() => {
        const due = Math.min(config.rate * config.durationS, Math.floor((now() - started) / interval) + 1);
        while (next < due) sendOne();
        if (now() >= stopAt) {
          clearInterval(pacer);
          if (inFlight === 0) finish(false);
        }
      }, Math.max(1, interval / 2));
    } else {
      while (inFlight < config.window) sendOne();
    }
  });
}

/** Send one message and resolve once every receiver has it, or with "stalled" when progress stops. */
function oneFanout(send, tracker, index) {
  return new Promise((resolve) => {
    const stopWatch = stallWatch(tracker, () => {
      stopWatch();
      resolve("stalled");
    });
    tracker.onSettled = () => {
      stopWatch();
      resolve("complete");
    };
    const at = now();
    tracker.lastProgress = at;
    tracker.sent(index, at);
    send(index, payload(index, at));
  });
}

async function fanout(send, tracker) {
  const started = now();
  let stalled = false;
  for (let index = 0; index < config.count && !stalled; index++) {
    stalled = (await oneFanout(send, tracker, index)) === "stalled";
    await sleep(config.pauseMs);
  }
  return { started, ended: now(), sent: tracker.sentAt.length, stalled };
}

// ------------------------------------------------------------------------------------ figures

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] : null;
}

const round = (x, digits = 2) => (x === null ? null : Number(x.toFixed(digits)));

function summary(run, tracker, sample, cpu) {
  const latencies = Float64Array.from(tracker.latencies).sort();
  const toLast = tracker.lastAt
    .map((at, i) => at - tracker.sentAt[i])
    .filter((x) => x !== undefined && !Number.isNaN(x));
  toLast.sort((a, b) => a - b);
  const elapsedS = (run.ended - run.started) / 1000;
  return {
    event: "done",
    workload: config.workload,
    sent: run.sent,
    completed: tracker.completed,
    refused: tracker.failed,
    stalled: run.stalled,
    deliveries: latencies.length,
    expected_deliveries: (run.sent - tracker.failed) * tracker.receivers,
    duplicates: tracker.duplicates,
    elapsed_s: round(elapsedS, 3),
    deliveries_per_s: round(latencies.length / elapsedS, 1),
    messages_per_s: round(tracker.completed / elapsedS, 2),
    latency_ms: {
      p50: round(quantile(latencies, 0.5)),
      p99: round(quantile(latencies, 0.99)),
      max: round(latencies.length ? latencies[latencies.length - 1] : null),
    },
    time_to_last_ms: {
      p50: round(quantile(toLast, 0.5)),
      p99: round(quantile(toLast, 0.99)),
      max: round(toLast.length ? toLast[toLast.length - 1] : null),
    },
    frame_bytes: sample.frameBytes,
    client_cpu_s: round((cpu.user + cpu.system) / 1e6, 3),
    errors,
  };
}

// ------------------------------------------------------------------------------------ main

async function main() {
  const tracker = new Tracker(config.clients);
  const sample = { frameBytes: null, hooked: false };
  const { send, failures, connectS } = await connectAll(tracker, sample);
  tracker.receivers = config.clients - failures.length;
  emit({
    event: "ready",
    connected: tracker.receivers,
    connect_failures: failures.slice(0, 5),
    connect_failed: failures.length,
    connect_s: round(connectS, 3),
  });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === "go") break;
  const cpuBefore = process.cpuUsage();
  const run = config.workload === "broadcast" ? await broadcast(send, tracker) : await fanout(send, tracker);
  emit(summary(run, tracker, sample, process.cpuUsage(cpuBefore)));
  closing = true;
  for (const socket of sockets) socket.close();
  setTimeout(() => process.exit(0), 500);
}

main().catch((error) => {
  emit({ event: "failed", error: String(error?.stack ?? error) });
  process.exit(1);
});
